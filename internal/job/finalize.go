package job

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/durable"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// finalize holds the file table against the files (reported, never
// fatal) and makes the backup durable: everything written is synced, the
// manifest (the mark of completeness) is written last, and the folder is
// renamed to its final name. backup_latest is switched later, by publish,
// once the backup has passed the optional verify step.
func (r *run) finalize(ctx context.Context) error {
	if err := r.checkFileTable(ctx); err != nil {
		return err
	}
	// Everything written must be on disk before the manifest says
	// "complete".
	if err := r.syncWritten(ctx); err != nil {
		return fmt.Errorf("sync backup data: %w", r.named(err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m := r.buildManifest()
	if err := manifest.Write(r.in(), m); err != nil {
		return fmt.Errorf("write manifest: %w", r.named(err))
	}
	if err := r.publishTemp(); err != nil {
		return fmt.Errorf("rename %s to %s: %w", filepath.Base(r.temp), r.rep.Name, err)
	}
	r.temp = "" // it is the backup now: never remove it on a later failure
	r.rep.Path = r.backupPath(r.rep.Name)
	return nil
}

// syncWritten makes what this run wrote durable. When the uploads step
// listed what it wrote (few items: an incremental run), each is fsynced:
// a syncfs would also wait for every other process's unflushed writes on
// a shared disk (seconds after a large write elsewhere). Otherwise one
// syncfs is far cheaper than an fsync per file. The dump is synced by the
// dump step; the manifest by manifest.Write.
func (r *run) syncWritten(ctx context.Context) error {
	if !r.writtenAll {
		return durable.SyncFS(r.in())
	}
	paths := make([]string, 0, len(r.written)+2)
	for _, p := range r.written {
		paths = append(paths, filepath.Join(r.in(), p))
	}
	// The trailing slash: the folder may be reached through its
	// /proc/self/fd link, which SyncPaths' O_NOFOLLOW would refuse.
	for _, l := range r.lists {
		paths = append(paths, filepath.Join(r.in(), l))
	}
	paths = append(paths, r.in()+"/")
	return durable.SyncPaths(ctx, paths)
}

// publish points backup_latest at the new backup.
func (r *run) publish(ctx context.Context) error {
	if err := repo.SetLatest(r.cfg.BackupsDir, r.rep.Name); err != nil {
		return fmt.Errorf("update %s: %w", repo.LatestLink, err)
	}
	r.log.Info("backup complete", "path", r.rep.Path)
	return nil
}

func (r *run) buildManifest() *manifest.Manifest {
	cfg := r.cfg
	file := repo.DumpName(cfg.Compression)
	level := 0
	if cfg.Compression == compress.Gzip {
		level = cfg.GzipLevel
	}
	u := r.rep.Uploads
	m := &manifest.Manifest{
		Tool:       "directus-backup",
		Version:    r.deps.Version,
		JobID:      r.rep.JobID,
		Name:       r.rep.Name,
		Timestamp:  cfg.Timestamp,
		StartedAt:  r.rep.Started.UTC(),
		FinishedAt: time.Now().UTC(),
		Steps:      r.rep.Steps,
		Database: manifest.Database{
			File: file, Compression: cfg.Compression, Level: level, Method: r.method,
			Name:     cfg.DB.Database,
			RawBytes: r.rep.Dump.RawBytes, RawSHA256: r.rep.Dump.RawSHA256,
			Bytes: r.rep.Dump.Bytes, SHA256: r.rep.Dump.SHA256,
			TableRows: r.rep.Dump.TableRows,
			Chunks:    r.manifestChunks(),

			Migrations:  r.manifestMigrations(),
			EmptyTables: r.emptyTables,
		},
		Uploads: manifest.Uploads{
			Source: cfg.UploadsDir, Previous: r.rep.Previous,
			Files: u.Files, Dirs: u.Dirs, Symlinks: u.Symlinks, Skipped: u.Skipped,
			Bytes: u.Bytes, Linked: u.Linked, Copied: u.Copied, CopiedBytes: u.CopiedBytes,
			Run: r.run, Rechecked: u.Rechecked, Compared: u.Compared, Refreshed: u.Refreshed,
			// Always: this version takes a linked file's hash only from a
			// vouched list, a recheck or a compare with the source.
			Vouched:  true,
			ListFile: manifest.FilesListName, ListSHA256: r.listSHA, Entries: r.listCount,
		},
		FileTable: r.fileTableRecord(),
	}
	r.addAreas(m)
	m.Format = manifest.FormatFor(m)
	return m
}

// addAreas records the storage locations and the extensions folder in m,
// and the report's view of them.
func (r *run) addAreas(m *manifest.Manifest) {
	if r.cfg.NoFiles {
		m.Files, m.Uploads, m.NoUploads = manifest.FilesOff, manifest.Uploads{}, true
		r.rep.FilesOff = true
		return
	}
	def, ok := r.cfg.Default()
	if !ok {
		m.Uploads, m.NoUploads = manifest.Uploads{}, true
	}
	m.DefaultLocation = def.Name
	r.rep.DefaultLocation = def.Name
	for _, a := range r.extra {
		res := a.res
		loc := manifest.Location{Name: a.name, Driver: a.driver, Folder: a.folder, Uploads: manifest.Uploads{
			Source: a.source, Previous: a.previous,
			Files: res.Files, Dirs: res.Dirs, Symlinks: res.Symlinks, Skipped: res.Skipped,
			Bytes: res.Bytes, Linked: res.Linked, Copied: res.Copied, CopiedBytes: res.CopiedBytes,
			Run: a.run, Rechecked: res.Rechecked, Compared: res.Compared, Refreshed: res.Refreshed,
			Vouched: true, ListFile: a.list, ListSHA256: a.listSHA, Entries: a.count,
		}}
		if a.driver == config.DriverS3 {
			loc.Endpoint, loc.Bucket, loc.Prefix = a.s3.Where()
		}
		ar := AreaReport{Name: a.name, Driver: a.driver, Folder: a.folder, Source: a.source, Previous: a.previous, Result: res}
		if a.extension {
			m.Extensions = &loc
			r.rep.Extensions = &ar
		} else {
			m.Storage = append(m.Storage, loc)
			r.rep.Locations = append(r.rep.Locations, ar)
		}
	}
}

// manifestMigrations records the dump's Directus migrations, if any.
func (r *run) manifestMigrations() *manifest.Migrations {
	m := r.rep.Dump.Migrations
	if m == nil {
		return nil
	}
	return manifest.NewMigrations(m.Table, m.Applied)
}

// fileTableRecord is the file table check as the manifest keeps it.
func (r *run) fileTableRecord() *manifest.FileTable {
	if r.rep.FileTable == nil {
		return nil
	}
	return r.rep.FileTable.Record()
}

// manifestChunks records the dump's chunks, when it was written in chunks.
func (r *run) manifestChunks() *manifest.Chunks {
	c := r.rep.Dump.Chunks
	if c == nil {
		return nil
	}
	tables := make(map[string]manifest.TableChunks, len(c.Tables))
	for name, t := range c.Tables {
		tables[name] = manifest.TableChunks{RawBytes: t.RawBytes, FreshRawBytes: t.FreshRawBytes}
	}
	return &manifest.Chunks{
		ListFile: manifest.ChunksListName, ListSHA256: r.chunksSHA,
		Count: c.Chunks, Average: 1 << c.AverageBits,
		Reused: c.Reused, ReusedRawBytes: c.ReusedRawBytes, FreshRawBytes: c.FreshRawBytes,
		Refreshed: c.Refreshed, Previous: r.chunksPrev, Tables: tables,
	}
}
