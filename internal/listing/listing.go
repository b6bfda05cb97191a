// Package listing is the list command's use case: what is in BACKUPS_DIR
// (each backup's state and sizes, backup_latest) and the recent failed
// runs, read under the readers lock.
package listing

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// Request says where to look.
type Request struct {
	BackupsDir string
	ErrorDir   string       // BACKUP_ERROR_DIR, for the failed runs
	FailedRuns int          // how many recent failed runs to report
	Now        time.Time    // for the ages; zero: time.Now()
	Log        *slog.Logger // warnings; may be nil
}

// Backup is one backup of the listing. Its JSON form is what `list --json`
// prints; scripts rely on its field names.
type Backup struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Time        time.Time `json:"time"`
	AgeSeconds  int64     `json:"age_seconds"`
	State       string    `json:"state"`
	Latest      bool      `json:"latest"`
	DumpRaw     int64     `json:"dump_raw_bytes,omitempty"`
	DumpStored  int64     `json:"dump_bytes"`
	Files       int64     `json:"files"`
	Bytes       int64     `json:"bytes"`
	UniqueBytes int64     `json:"unique_bytes"`
	Problem     string    `json:"problem,omitempty"`
	// Contents says which files folders the backup holds: "uploads",
	// "storage/<name>", "extensions", or "database only".
	Contents []string `json:"contents"`
}

// Report is the listing, newest backup first.
type Report struct {
	BackupsDir string           `json:"backups_dir"`
	Latest     string           `json:"latest"`
	Backups    []Backup         `json:"backups"`
	Removed    []string         `json:"removed"` // retired while being read, skipped
	FailedRuns []repo.FailedRun `json:"failed_runs"`
}

// Run lists the backups and the recent failed runs. A missing BACKUPS_DIR
// is not an error: there are no backups yet.
func Run(ctx context.Context, req Request) (Report, error) {
	rl, err := repo.ReadBackups(ctx, req.BackupsDir, req.Log)
	if err != nil {
		return Report{}, err
	}
	defer rl.Release()
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	l := Report{BackupsDir: req.BackupsDir, Backups: []Backup{}, Removed: []string{}, FailedRuns: []repo.FailedRun{}}
	backups, err := repo.List(req.BackupsDir)
	if errors.Is(err, fs.ErrNotExist) {
		// Before the first backup: nothing to list, not an error.
		backups, err = nil, nil
	}
	if err != nil {
		return Report{}, fmt.Errorf("list backups in %s: %w", req.BackupsDir, err)
	}
	l.Latest, _ = repo.Latest(req.BackupsDir)
	for _, b := range backups {
		// Each backup is a walk of its files: minutes on a big repository,
		// so an interrupt is looked at between backups and inside the walk.
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("list stopped: %w", err)
		}
		lb := Backup{Name: b.Name, Path: b.Path, Time: b.Time, AgeSeconds: int64(now.Sub(b.Time).Seconds()),
			State: string(b.State), Latest: b.Name == l.Latest}
		if b.Manifest != nil {
			lb.DumpRaw = b.Manifest.Database.RawBytes
			lb.DumpStored = b.Manifest.Database.Bytes
		} else if f := b.DumpFile(); f != "" {
			if fi, err := os.Stat(f); err == nil {
				lb.DumpStored = fi.Size()
			}
		}
		if b.Err != nil {
			lb.Problem = b.Err.Error()
		}
		lb.Contents = Contents(b)
		u, err := repo.DiskUsage(ctx, b)
		if cerr := ctx.Err(); cerr != nil {
			return Report{}, fmt.Errorf("list stopped: %w", cerr)
		}
		if (err != nil || b.State == repo.Incomplete) && b.Gone() {
			l.Removed = append(l.Removed, b.Name)
			continue
		}
		if err != nil && lb.Problem == "" {
			lb.Problem = err.Error()
		}
		lb.Files, lb.Bytes, lb.UniqueBytes = u.Files, u.Bytes, u.UniqueBytes
		l.Backups = append(l.Backups, lb)
	}
	runs, err := repo.FailedRuns(req.ErrorDir)
	if err != nil {
		return Report{}, fmt.Errorf("list error folders in %s: %w", req.ErrorDir, err)
	}
	if n := max(req.FailedRuns, 0); len(runs) > n {
		runs = runs[:n]
	}
	l.FailedRuns = append(l.FailedRuns, runs...)
	return l, nil
}

// Contents lists the files folders of b, for list and verify: "uploads",
// "storage/<name>" for each other storage location, "extensions"; or
// "database only" for a backup made with BACKUP_FILES=off.
func Contents(b repo.Backup) []string {
	m := b.Manifest
	if m == nil {
		if b.Usable() {
			return []string{repo.BackupUploadsName}
		}
		return []string{}
	}
	if m.Files == manifest.FilesOff {
		return []string{"database only"}
	}
	var out []string
	if m.HasUploads() {
		out = append(out, repo.BackupUploadsName)
	}
	for _, l := range m.Storage {
		out = append(out, repo.StorageRel(l.Name))
	}
	if m.Extensions != nil {
		out = append(out, repo.ExtensionsName)
	}
	if len(out) == 0 {
		out = append(out, "database only")
	}
	return out
}
