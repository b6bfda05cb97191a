package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// readBackups holds the readers lock of backupsDir shared, so that no
// purge deletes a backup this command is reading. A user who may read but
// not write BACKUPS_DIR cannot make the lock file: the command then reads
// without it, with a warning, rather than refuse to read at all.
func readBackups(ctx context.Context, backupsDir string, log *slog.Logger) (*repo.ReadLock, error) {
	if _, err := os.Stat(backupsDir); errors.Is(err, os.ErrNotExist) {
		return nil, nil // nothing to read; the command says so itself
	}
	l, err := repo.Read(ctx, backupsDir, func() {
		log.Info("waiting for the removal of retired backups (a prune or a backup's retention is deleting one folder; the rest waits for the next run)")
	})
	if errors.Is(err, os.ErrPermission) && !errors.Is(err, repo.ErrBadLockFile) {
		log.Warn("cannot take the readers lock (BACKUPS_DIR not writable for this user); a prune running meanwhile may remove a backup being read", "err", err)
		return nil, nil
	}
	return l, err
}

// removedWhileRead is what a reader says of a backup that was retired
// (by a prune or a backup's retention) while it read it.
const removedWhileRead = "removed by a prune or a backup's retention while being read; skipped"
