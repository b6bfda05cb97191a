package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// Kinds of problems.
const (
	// KindManifest: manifest.json cannot be read (a damaged backup).
	KindManifest = "manifest"
	// KindMissing: something the backup should hold is not there (the dump,
	// an uploads item the manifest lists, the list file), or the folder has
	// neither a manifest nor a dump.
	KindMissing = "missing"
	// KindUnreadable: something is there but reading it failed (permissions,
	// I/O error).
	KindUnreadable = "unreadable"

	KindDumpChecksum   = "dump-checksum"   // SHA-256 of the dump file or of its decompressed stream differs from the manifest
	KindDumpSize       = "dump-size"       // size of the dump file or of its decompressed stream differs from the manifest
	KindDumpCorrupt    = "dump-corrupt"    // gzip error: truncated file, flipped byte (CRC/flate error)
	KindDumpIncomplete = "dump-incomplete" // the SQL does not end with pg_dump's completion line
	KindTableRows      = "table-rows"      // a table's row count in the dump differs from the manifest

	KindListChecksum   = "list-checksum"   // manifest.files.jsonl does not match manifest.json's list_sha256
	KindListUnreadable = "list-unreadable" // manifest.files.jsonl cannot be parsed or is out of order

	KindSize       = "size"       // an uploads file is shorter or longer than listed
	KindContent    = "content"    // an uploads file's SHA-256 differs from the list: bit rot or tampering
	KindType       = "type"       // an uploads item is a different kind of item (file, folder, symlink) than listed
	KindAttributes = "attributes" // mode, mtime or owner differ from the manifest
	KindSymlink    = "symlink"    // an uploads symlink points somewhere else than listed
	KindExtra      = "extra"      // an item in uploads/ that the list does not have

	KindDirectusMissingFile = "directus-missing-file" // a directus_files.filename_disk is not in uploads/
	KindDirectusBadPath     = "directus-bad-path"     // a filename_disk that is absolute or has ".." components

	KindLatest = "latest" // backup_latest is missing, dangling, or points at an unusable backup
)

// Problem is one thing found wrong. Path is relative to the backup folder
// (e.g. "uploads/a/b.jpg", "db_backup.sql.gz"); "" means the folder as a
// whole. For Latest it is relative to BACKUPS_DIR.
type Problem struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Kind + ": " + p.Detail
	}
	return p.Kind + ": " + p.Path + ": " + p.Detail
}

// Result is what Backup found.
type Result struct {
	Backup   string // folder name
	State    repo.State
	Problems []Problem
	// Skipped lists the checks that could not be made, and why.
	Skipped       []string
	Files         int64 // uploads files checked
	Bytes         int64 // bytes read (dump file + uploads files)
	DumpRawBytes  int64 // size of the decompressed dump
	DirectusFiles int   // filename_disk values checked (0 when the dump has no directus_files)
	Duration      time.Duration
}

// OK reports whether no problem was found.
func (r Result) OK() bool { return len(r.Problems) == 0 }

func (r *Result) add(kind, path, detail string) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Path: path, Detail: detail})
}

func (r *Result) skip(format string, args ...any) {
	r.Skipped = append(r.Skipped, fmt.Sprintf(format, args...))
}

// Options for Backup.
type Options struct {
	// Progress, when set, is called with the total number of bytes read so
	// far (dump file plus uploads files): about every MiB, and after the
	// dump and after the files. It may be called from another goroutine
	// than Backup's (the gzip reader's), but never from two at once.
	Progress func(bytes int64)
}

// chunk is the read size; the context is checked once per read, so a
// cancel is noticed within this many bytes.
const chunk = 1 << 20

// Backup checks one backup folder without touching any database server.
// It returns an error only when it could not check at all (the folder
// cannot be read, the context was cancelled); everything found wrong goes
// in Result.Problems.
func Backup(ctx context.Context, b repo.Backup, opts Options) (Result, error) {
	start := time.Now()
	res := Result{Backup: b.Name, State: b.State}

	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("verify %s: %w", b.Name, err)
	}
	fi, err := os.Stat(b.Path)
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", b.Name, err)
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("verify %s: %s is not a folder", b.Name, b.Path)
	}
	if _, err := os.ReadDir(b.Path); err != nil {
		return res, fmt.Errorf("verify %s: %w", b.Name, err)
	}

	switch b.State {
	case repo.Complete, repo.Legacy:
	case repo.Incomplete:
		res.add(KindMissing, "", "no manifest.json and no dump: left by a run that did not finish")
		res.Duration = time.Since(start)
		return res, nil
	case repo.Damaged:
		detail := "manifest.json cannot be read"
		if b.Err != nil {
			detail = b.Err.Error()
		}
		if errors.Is(b.Err, regfile.ErrNotRegular) {
			// A FIFO or symlink in place of a backup file: never opened.
			res.add(KindType, "", detail)
			res.skip("dump and files: the backup holds something that is not a regular file where a file should be")
		} else {
			res.add(KindManifest, manifest.FileName, detail)
			res.skip("dump and files: manifest.json is unreadable")
		}
		res.Duration = time.Since(start)
		return res, nil
	default:
		return res, fmt.Errorf("verify %s: unknown backup state %q", b.Name, b.State)
	}
	if b.State == repo.Complete && b.Manifest == nil {
		return res, fmt.Errorf("verify %s: complete backup without a loaded manifest", b.Name)
	}

	c := &counter{progress: opts.Progress}
	df, err := checkDump(ctx, b, &res, c)
	if err == nil && (b.Manifest == nil || b.Manifest.HasUploads()) {
		err = checkDirectus(ctx, b, &res, df)
	}
	if err == nil {
		if b.State == repo.Complete {
			err = checkAllFiles(ctx, b, &res, c)
		} else {
			res.skip("file checksums: backup made by the old script has no manifest")
		}
	}
	res.Bytes = c.n
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", b.Name, err)
	}
	return res, nil
}

// counter adds up the bytes read and reports progress about every chunk.
type counter struct {
	n, reported int64
	progress    func(int64)
}

func (c *counter) read(n int) {
	c.n += int64(n)
	if c.progress != nil && c.n-c.reported >= chunk {
		c.reported = c.n
		c.progress(c.n)
	}
}

// flush reports the count if it moved since the last report.
func (c *counter) flush() {
	if c.progress != nil && c.n != c.reported {
		c.reported = c.n
		c.progress(c.n)
	}
}

// Latest checks BACKUPS_DIR/backup_latest: it must exist and point at a
// complete or legacy backup in dir. It returns nil when it does.
func Latest(dir string) *Problem {
	link := repo.LatestPath(dir)
	bad := func(format string, args ...any) *Problem {
		return &Problem{Kind: KindLatest, Path: repo.LatestLink, Detail: fmt.Sprintf(format, args...)}
	}
	target, err := os.Readlink(link)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return bad("missing")
	case err != nil:
		if fi, lerr := os.Lstat(link); lerr == nil && fi.Mode()&os.ModeSymlink == 0 {
			return bad("is not a symlink")
		}
		return bad("cannot be read: %v", err)
	}
	fi, err := os.Stat(link)
	if err != nil {
		return bad("points at %s, which cannot be reached: %v", target, err)
	}
	if !fi.IsDir() {
		return bad("points at %s, which is not a folder", target)
	}
	// The link must lead to one of dir's backups (not a copy elsewhere):
	// the same folder as dir/<name of the target>.
	name := filepath.Base(target)
	if same, err := os.Stat(repo.BackupPath(dir, name)); err != nil || !os.SameFile(fi, same) {
		return bad("points at %s, which is not a folder of %s", target, dir)
	}
	backups, err := repo.List(dir)
	if err != nil {
		return bad("cannot list %s: %v", dir, err)
	}
	for _, b := range backups {
		if b.Name == name {
			if !b.Usable() {
				return bad("points at %s, which is %s", name, b.State)
			}
			return nil
		}
	}
	return bad("points at %s, which is not a backup folder", target)
}
