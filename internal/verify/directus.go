package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// checkDirectus reports every directus_files.filename_disk that is not a
// file in the backup's uploads folder: a restore would bring back a file
// record whose file is gone.
func checkDirectus(ctx context.Context, b repo.Backup, res *Result, df *directusFiles) error {
	if !df.seen {
		switch {
		case df.partial:
			res.skip("Directus files: the dump could not be read as far as directus_files")
		default:
			res.skip("Directus files: the dump has no directus_files table")
		}
		return nil
	}
	if df.partial {
		res.skip("Directus files: only the directus_files rows before the damage in the dump were checked")
	}
	if df.remote > 0 {
		res.skip("Directus files: %d files on other storage locations than %q are not in uploads/ and were not checked", df.remote, localStorage)
	}
	if len(df.names) == 0 {
		return nil
	}
	root := b.UploadsPath()
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		res.add(KindDirectusMissingFile, repo.BackupUploadsName,
			fmt.Sprintf("the uploads folder is missing: none of the %d files in directus_files is there", len(df.names)))
		return nil
	}
	for i, name := range df.names {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("Directus files: %w", err)
			}
		}
		res.DirectusFiles++
		if !safeName(name) {
			res.add(KindDirectusBadPath, repo.BackupUploadsName,
				fmt.Sprintf("directus_files has filename_disk %q, which points outside the uploads folder", name))
			continue
		}
		rel := repo.UploadsRel(name)
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			res.add(KindDirectusMissingFile, rel, "listed in directus_files (filename_disk) but not in the backup")
		case err != nil:
			res.add(KindUnreadable, rel, err.Error())
		case fi.IsDir():
			res.add(KindDirectusMissingFile, rel, "listed in directus_files (filename_disk) but a folder in the backup")
		}
	}
	return nil
}

// safeName reports whether a filename_disk stays inside the uploads folder:
// relative, no ".." component, not empty.
func safeName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return false
		}
	}
	return true
}
