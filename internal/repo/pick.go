package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// ErrNoBackup: the named backup does not exist, or there is none at all.
var ErrNoBackup = exitcode.New(exitcode.Usage, "no such backup")

// RemovedWhileRead is what a reader says of a backup that was retired (by
// a prune or a backup's retention) while it read it.
const RemovedWhileRead = "removed by a prune or a backup's retention while being read; skipped"

// Pick returns the backup named by arg (a folder name, or a path to one
// inside dir; "latest" or "" means the one backup_latest points at, or
// else the newest complete one). Errors wrap ErrNoBackup.
func Pick(dir, arg string) (Backup, error) {
	if arg != "" && arg != "latest" && arg != LatestLink {
		name := filepath.Base(strings.TrimRight(arg, "/"))
		b, err := Get(dir, name)
		if err != nil {
			return b, fmt.Errorf("%w: %s in %s: %v", ErrNoBackup, name, dir, err)
		}
		return b, nil
	}
	if target, ok := Latest(dir); ok {
		if b, err := Get(dir, target); err == nil && b.Usable() {
			return b, nil
		}
	}
	backups, err := List(dir)
	if err != nil {
		return Backup{}, fmt.Errorf("%w: cannot read %s: %v", ErrNoBackup, dir, err)
	}
	if b, ok := NewestUsable(backups); ok {
		return b, nil
	}
	return Backup{}, fmt.Errorf("%w: no complete backup in %s", ErrNoBackup, dir)
}

// ReadBackups holds the readers lock of dir shared, so that no purge
// deletes a backup the caller is reading. A user who may read but not
// write BACKUPS_DIR cannot make the lock file: the caller then reads
// without it, with a warning, rather than refuse to read at all. A
// missing dir gives a nil lock and no error (nothing to read); a nil
// lock's Release does nothing.
func ReadBackups(ctx context.Context, dir string, log *slog.Logger) (*ReadLock, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	l, err := Read(ctx, dir, func() {
		if log != nil {
			log.Info("waiting for the removal of retired backups (a prune or a backup's retention is deleting one folder; the rest waits for the next run)")
		}
	})
	if errors.Is(err, os.ErrPermission) && !errors.Is(err, ErrBadLockFile) {
		if log != nil {
			log.Warn("cannot take the readers lock (BACKUPS_DIR not writable for this user); a prune running meanwhile may remove a backup being read", "err", err)
		}
		return nil, nil
	}
	return l, err
}
