package job

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/filetable"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// damagedShown is how many damaged members of the previous dump are named
// one by one; the rest are counted in the dump's summary line.
const damagedShown = 5

func (r *run) dumpDatabase(ctx context.Context) error {
	opts := pgdump.Options{
		Source:      r.deps.Dumper,
		Target:      r.target(),
		Compression: r.cfg.Compression,
		Level:       r.cfg.GzipLevel,
		Stderr:      r.stderr,
		OnBytes:     func(n int64) { r.deps.Progress.DumpBytes.Store(n); r.sawDumpData() },

		ExcludeTableData: r.cfg.ExcludeTableData,
		Want:             filetable.IsTable,
		OnRow:            r.fileRows.OnRow,
	}
	var list *chunkList
	if opts.Compression != compress.None {
		var err error
		if list, err = r.createChunkList(); err != nil {
			return err
		}
		defer list.f.Close()
		opts.ChunkList = list.w
		if prev := r.previousDump(); prev != nil {
			defer prev.File.(*os.File).Close()
			opts.Previous = prev
			r.chunksPrev = r.prev.Name
			var damaged int
			opts.OnDamaged = func(c chunked.Chunk, err error) {
				if damaged++; damaged <= damagedShown {
					r.log.Warn("a member of the previous backup's dump is damaged; its chunk is compressed afresh",
						"previous", r.prev.Name, "offset", c.Offset, "size", c.Size, "err", err)
				}
			}
		}
	}
	r.log.Info("dumping database", "database", opts.Target.Database, "compression", opts.Compression)
	res, err := pgdump.Dump(ctx, opts, repo.DumpIn(r.in(), opts.Compression))
	r.rep.Dump = res
	if err != nil {
		return fmt.Errorf("dump database %s: %w", opts.Target.Database, r.named(err))
	}
	if list != nil {
		if r.chunksSHA, err = list.finish(); err != nil {
			return fmt.Errorf("write chunk list: %w", r.named(err))
		}
	}
	if s := r.stderr.String(); s != "" {
		r.log.Warn("pg_dump wrote to stderr", "stderr", s)
	}
	args := []any{"file", repo.DumpName(opts.Compression), "raw", humanize.Bytes(res.RawBytes), "stored", humanize.Bytes(res.Bytes)}
	if opts.Compression != compress.None && res.Bytes > 0 {
		args = append(args, "ratio", fmt.Sprintf("%.2f:1", float64(res.RawBytes)/float64(res.Bytes)),
			"saved", fmt.Sprintf("%.1f%%", 100*(1-float64(res.Bytes)/float64(res.RawBytes))))
	}
	if c := res.Chunks; c != nil {
		args = append(args, "chunks", c.Chunks, "reused", c.Reused, "compressed", humanize.Bytes(c.FreshRawBytes))
		if c.Refreshed > 0 {
			args = append(args, "damaged_in_previous", c.Refreshed)
		}
	}
	r.log.Info("database dumped", args...)
	if m := res.Migrations; m != nil && len(m.Applied) > 0 {
		r.log.Info("Directus migrations recorded", "applied", len(m.Applied), "newest", m.Applied[len(m.Applied)-1].Version)
	}
	var dumped, missing []string
	r.emptyTables, dumped, missing = leftOut(r.cfg.ExcludeTableData, res.TableRows, res.Tables)
	if len(r.emptyTables) > 0 {
		r.log.Info("table rows left out of the dump (BACKUP_EXCLUDE_TABLE_DATA); a restore brings these tables back empty",
			"tables", strings.Join(r.emptyTables, ","))
	}
	if len(dumped) > 0 {
		r.log.Warn("BACKUP_EXCLUDE_TABLE_DATA names tables whose rows are in the dump all the same: pg_dump matches an unqualified name only on the default search_path; write it as schema.table",
			"tables", strings.Join(dumped, ","))
	}
	if len(missing) > 0 {
		r.log.Warn("BACKUP_EXCLUDE_TABLE_DATA names tables the database does not have; nothing was left out for them (check the spelling: names are exact, case kept)",
			"tables", strings.Join(missing, ","))
	}
	if c := res.Chunks; c != nil && c.Refreshed > 0 {
		r.log.Warn("the previous backup's dump is damaged: run verify on it; this backup does not carry the damage",
			"previous", r.prev.Name, "damaged_members", c.Refreshed)
	}
	return nil
}

// chunkList is the chunk list being written and its file.
type chunkList struct {
	f *os.File
	w *chunked.ListWriter
}

func (r *run) createChunkList() (*chunkList, error) {
	f, err := os.OpenFile(repo.ChunksIn(r.in()), createFlags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create chunk list: %w", r.named(err))
	}
	return &chunkList{f: f, w: chunked.NewListWriter(f)}, nil
}

// finish flushes and syncs the list and returns its SHA-256.
func (l *chunkList) finish() (string, error) {
	if err := l.w.Close(); err != nil {
		return "", err
	}
	if err := l.f.Sync(); err != nil {
		return "", err
	}
	return l.w.SHA256(), l.f.Close()
}

// previousDump opens the previous backup's dump and reads its chunk list,
// when both may be used: same codec and level, a list whose SHA-256 is the
// one its manifest records. Otherwise (a backup of the original backup.sh
// or of an earlier version: one member; another codec; a damaged list) it
// returns nil and everything is compressed, which is always correct.
func (r *run) previousDump() *chunked.Previous {
	if !r.hasPrev || r.prev.Manifest == nil || r.prev.Manifest.Database.Chunks == nil {
		return nil
	}
	db := r.prev.Manifest.Database
	// Levels are compared as the encoder sees them (8 and 9 are one).
	sameLevel := compress.GzipEncoderLevel(db.Level) == compress.GzipEncoderLevel(r.cfg.GzipLevel)
	if db.Compression != r.cfg.Compression || (db.Compression == compress.Gzip && !sameLevel) {
		r.log.Info("previous dump was compressed otherwise; every chunk is compressed afresh", "previous", r.prev.Name,
			"compression", db.Compression, "level", db.Level)
		return nil
	}
	idx, t, err := chunked.ReadListFile(repo.ChunksIn(r.prev.Path))
	if err == nil && t.SHA256 != db.Chunks.ListSHA256 {
		err = fmt.Errorf("chunk list %s does not match the checksum in its manifest", repo.ChunksIn(r.prev.Path))
	}
	if err == nil {
		var f *os.File
		// regfile: a symlink or FIFO planted in the backup is not read.
		if f, err = regfile.Open(repo.DumpIn(r.prev.Path, db.Compression)); err == nil {
			return &chunked.Previous{File: f, Index: idx}
		}
	}
	r.log.Warn("cannot reuse the previous dump's chunks; every chunk is compressed afresh", "previous", r.prev.Name, "err", err)
	return nil
}
