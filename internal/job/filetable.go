package job

import (
	"context"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/filetable"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// checkFileTable holds the directus_files rows the dump step collected
// against the entry lists just written, per storage location. What it
// finds is reported and recorded, never fatal: the backup holds what the
// instance held. Only a cancel stops the run.
func (r *run) checkFileTable(ctx context.Context) error {
	seen := false
	for table := range r.rep.Dump.TableRows {
		seen = seen || filetable.IsTable(table)
	}
	if !seen {
		r.log.Info("the dump has no directus_files table; the file table is not checked")
		return nil
	}
	for _, t := range r.fileRows.NoColumn {
		r.log.Warn("directus_files has no filename_disk column; its rows are not checked", "table", t)
	}
	// One entry per storage location this backup holds, keyed by its
	// Directus name.
	lists := map[string]string{}
	if def, ok := r.cfg.Default(); ok && !r.cfg.NoFiles {
		lists[def.Name] = repo.ListIn(r.in())
	}
	for _, a := range r.extra {
		if !a.extension {
			lists[a.name] = filepath.Join(r.in(), a.list)
		}
	}
	rep, err := filetable.Check(ctx, r.fileRows.Rows, lists)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err != nil {
		r.log.Warn("the file table could not be checked; the backup is complete", "err", err)
		return nil
	}
	r.rep.FileTable = &rep
	for _, l := range rep.Locations {
		if !l.OK() {
			r.log.Warn(l.Text(), "location", l.Name, "missing", len(l.Missing), "orphans", len(l.Orphans))
			continue
		}
		r.log.Info("directus_files and the backed-up files match", "location", l.Name, "rows", l.Rows,
			"files", l.Files, "thumbnails", l.Thumbnails)
	}
	if s := rep.NotCheckedText(); s != "" {
		r.log.Info(s)
	}
	return nil
}
