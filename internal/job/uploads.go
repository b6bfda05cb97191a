package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// snapshotUploads copies the uploads folder into the temporary folder,
// hard-linking files unchanged since the previous backup, and writes the
// manifest's entry list beside it.
func (r *run) snapshotUploads(ctx context.Context) error {
	opts := snapshot.Options{
		Source:        r.cfg.UploadsDir,
		Dest:          filepath.Join(r.temp, repo.UploadsDir),
		PreserveOwner: os.Geteuid() == 0,
		Warn:          r.log.Warn,
		OnFile: func(n int64) {
			r.deps.Progress.Files.Add(1)
			r.deps.Progress.FilesBytes.Add(n)
		},
	}
	if r.hasPrev {
		prevUploads := filepath.Join(r.prev.Path, repo.UploadsDir)
		if fi, err := os.Lstat(prevUploads); err == nil && fi.IsDir() { // a symlink is not the backup's folder
			opts.Previous = prevUploads
			r.rep.Previous = r.prev.Name
			if f, err := regfile.Open(filepath.Join(r.prev.Path, manifest.FilesListName)); err == nil {
				defer f.Close()
				opts.PreviousList = f
			} else if !errors.Is(err, os.ErrNotExist) {
				r.log.Warn("cannot read the previous entry list; unchanged files will be hashed again", "err", err)
			}
			r.log.Info("incremental uploads backup", "previous", r.prev.Name)
		} else {
			r.log.Warn("previous backup has no uploads folder; making a full copy", "previous", r.prev.Name)
		}
	} else {
		r.log.Info("no previous backup; making a full copy of the uploads")
	}

	listPath := filepath.Join(r.temp, manifest.FilesListName)
	lf, err := os.OpenFile(listPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create entry list: %w", err)
	}
	defer lf.Close()
	list := manifest.NewListWriter(lf)
	res, err := snapshot.Take(ctx, opts, list)
	r.rep.Uploads = res
	if err != nil {
		return fmt.Errorf("snapshot uploads %s: %w", r.cfg.UploadsDir, err)
	}
	if err := list.Close(); err != nil {
		return fmt.Errorf("write entry list: %w", err)
	}
	if err := lf.Close(); err != nil {
		return fmt.Errorf("write entry list: %w", err)
	}
	r.listSHA, r.listCount = list.SHA256(), list.Count()
	r.log.Info("uploads copied",
		"files", res.Files, "linked", res.Linked, "copied", res.Copied,
		"copied_bytes", HumanBytes(res.CopiedBytes), "total_bytes", HumanBytes(res.Bytes),
		"dirs", res.Dirs, "symlinks", res.Symlinks, "skipped", res.Skipped)
	return nil
}
