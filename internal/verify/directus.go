package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/directus-backup/directus-backup/internal/filetable"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// checkDirectus holds directus_files against the backup, per storage
// location it holds. A row whose file is not in its location's folder now
// is a problem (a restore would bring back a record whose file is gone),
// unless the backup run recorded that the instance lacked it already: then
// it is a note, as are the files no row names (orphans).
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
	locs := b.Locations()
	if len(locs) == 0 {
		res.skip("Directus files: the backup holds no files (database only); directus_files not checked")
		return nil
	}
	names := map[string][]string{}
	remote := map[string]int{}
	for _, r := range df.rows.Rows {
		if _, ok := locs[r.Storage]; ok {
			names[r.Storage] = append(names[r.Storage], r.Filename)
		} else {
			remote[r.Storage]++
		}
	}
	for _, st := range sortedKeys(remote) {
		res.skip("Directus files: %d files on storage location %q, which this backup does not hold, were not checked", remote[st], st)
	}
	lacked, err := checkFileTable(ctx, b, locs, res, df)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(names) {
		if err := checkLocationFiles(ctx, locs[name], names[name], lacked[name], res); err != nil {
			return err
		}
	}
	return nil
}

// checkLocationFiles reports every name that is not a file in the folder
// of the location loc (a view of the backup from repo.Backup.Locations),
// but those the backup run recorded as lacked at the source.
func checkLocationFiles(ctx context.Context, loc repo.Backup, names []string, lacked map[string]bool, res *Result) error {
	root := loc.UploadsPath()
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		res.add(KindDirectusMissingFile, loc.FilesFolder(),
			fmt.Sprintf("the files folder is missing: none of the %d files in directus_files is there", len(names)))
		return nil
	}
	for i, name := range names {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("Directus files: %w", err)
			}
		}
		res.DirectusFiles++
		if !safeName(name) {
			res.add(KindDirectusBadPath, loc.FilesFolder(),
				fmt.Sprintf("directus_files has filename_disk %q, which points outside the files folder", name))
			continue
		}
		rel := loc.FilesRel(name)
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
		switch {
		case (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && lacked[name]:
			// Noted by checkFileTable: the instance lacked it when backed up.
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

// checkFileTable holds the rows against the files the backup recorded
// (its entry lists), both ways, and notes what it finds. It returns, per
// location, the filename_disk values the backup run recorded as missing at
// the source, which are then not damage; none when the run did not check
// (an earlier version, the original backup.sh).
func checkFileTable(ctx context.Context, b repo.Backup, locs map[string]repo.Backup, res *Result, df *directusFiles) (map[string]map[string]bool, error) {
	if b.State != repo.Complete || b.Manifest == nil {
		res.skip("Directus files: orphans not checked: the backup has no entry list")
		return nil, nil
	}
	lists := map[string]string{}
	for name, loc := range locs {
		p, _, err := loc.ListPath()
		if err != nil {
			res.skip("Directus files: orphans of %q not checked: %v", name, err)
			continue
		}
		lists[name] = p
	}
	rep, err := filetable.Check(ctx, df.rows.Rows, lists)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("Directus files: %w", err)
	}
	if err != nil {
		res.skip("Directus files: orphans not checked: %v", err)
		return nil, nil
	}
	res.FileTable = &rep
	// The locations the backup run checked: only for those is a file
	// absent from the entry list known to have been absent at the source.
	recorded := map[string]bool{}
	if ft := b.Manifest.FileTable; ft != nil {
		for _, l := range ft.Locations {
			recorded[l.Name] = true
		}
	}
	lacked := map[string]map[string]bool{}
	for _, l := range rep.Locations {
		if s := l.MissingText(); s != "" && recorded[l.Name] {
			res.note("Directus storage location %q: %s (already missing at the source when the backup was made)", l.Name, s)
			lacked[l.Name] = map[string]bool{}
			for _, n := range l.Missing {
				lacked[l.Name][n] = true
			}
		}
		if s := l.OrphansText(); s != "" {
			res.note("Directus storage location %q: %s", l.Name, s)
		}
	}
	return lacked, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
