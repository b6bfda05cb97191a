package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// ResolveMethod turns BACKUP_DB_METHOD=auto into local or docker: docker
// when the compose file exists, as the original backup.sh runs pg_dump.
func ResolveMethod(method, composeFile string) string {
	if method != "auto" {
		return method
	}
	if fi, err := os.Stat(composeFile); err == nil && fi.Mode().IsRegular() {
		return pgexec.MethodDocker
	}
	return pgexec.MethodLocal
}

// RequiredCommand is the program the dump needs for a resolved method.
func RequiredCommand(method string) string {
	if method == pgexec.MethodDocker {
		return "docker"
	}
	return "pg_dump"
}

// init checks everything a run needs before any work is done, takes the
// lock and makes the temporary folder.
func (r *run) init(ctx context.Context) error {
	cfg := r.cfg
	r.method = ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile)
	r.rep.Method = r.method
	if r.method == pgexec.MethodDocker {
		r.log.Info("database will be dumped through docker compose",
			"compose_file", cfg.DockerComposeFile, "service", cfg.DockerService)
	} else {
		r.log.Info("database will be dumped with the local pg_dump",
			"host", cmp.Or(cfg.DB.Host, "(libpq default)"), "port", cfg.DB.Port, "database", cfg.DB.Database)
	}
	cmd := RequiredCommand(r.method)
	if _, err := exec.LookPath(cmd); err != nil {
		return fmt.Errorf("required command %q not found on PATH (install it, e.g. apt-get install %s): %w",
			cmd, installHint(cmd), err)
	}
	if fi, err := os.Stat(cfg.UploadsDir); err != nil {
		return fmt.Errorf("uploads folder (BACKUP_UPLOADS_DIR): %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("uploads folder (BACKUP_UPLOADS_DIR) %s is not a folder", cfg.UploadsDir)
	}
	if err := mkdirOwnerOnly(cfg.BackupsDir); err != nil {
		return fmt.Errorf("create backups folder (BACKUPS_DIR): %w", err)
	}
	if err := mkdirOwnerOnly(cfg.ErrorDir); err != nil {
		return fmt.Errorf("create error folder (BACKUP_ERROR_DIR): %w", err)
	}
	lock, err := repo.Acquire(cfg.BackupsDir, fmt.Sprintf("pid %d, %s", os.Getpid(), r.rep.JobID))
	if err != nil {
		return err
	}
	r.lock = lock
	if err := lock.HolderErr(); err != nil {
		r.log.Warn("locked, but could not write who holds the lock", "err", err)
	}

	name := repo.BackupName(cfg.FormattedDate, cfg.Timestamp)
	if _, err := os.Lstat(r.backupPath(name)); err == nil {
		return fmt.Errorf("backup %s already exists (is BACKUP_TIMESTAMP fixed?)", name)
	}
	r.rep.Name = name

	// We hold the lock, so any temp_ or deleting_ folder belongs to a run
	// that is no longer running: clear it now to free its space first.
	if _, err := retireLeftovers(cfg.BackupsDir, r.log); err != nil {
		// Only space is at stake: the new backup does not need it gone.
		r.log.Warn("could not set aside a leftover of an earlier run", "err", err)
	}

	backups, err := repo.List(cfg.BackupsDir)
	if err != nil {
		return fmt.Errorf("list backups: %w", err)
	}
	r.prev, r.hasPrev = previousBackup(cfg.BackupsDir, backups)
	r.checkFreeSpace()

	r.temp = r.backupPath(repo.TempPrefix + r.rep.JobID)
	if err := os.Mkdir(r.temp, 0o700); err != nil {
		r.temp = ""
		return fmt.Errorf("create temporary folder: %w", err)
	}
	if err := r.openTemp(); err != nil {
		return fmt.Errorf("open temporary folder: %w", err)
	}
	r.log.Info("backup started", "backups_dir", cfg.BackupsDir, "uploads_dir", cfg.UploadsDir, "name", name)
	return ctx.Err()
}

// previousBackup is the backup the uploads are linked against: the one
// backup_latest points at (the last one that passed every step, verify
// included), else the newest complete one.
func previousBackup(dir string, backups []repo.Backup) (repo.Backup, bool) {
	if target, ok := repo.Latest(dir); ok {
		for _, b := range backups {
			if b.Name == target && b.Usable() {
				return b, true
			}
		}
	}
	return repo.NewestUsable(backups)
}

// checkFreeSpace warns when the filesystem has less room than the previous
// backup's dump took: not an error, since the new data may be smaller.
func (r *run) checkFreeSpace() {
	free, err := repo.FreeBytes(r.cfg.BackupsDir)
	if err != nil || !r.hasPrev || r.prev.Manifest == nil {
		return
	}
	need := uint64(r.prev.Manifest.Database.Bytes + r.prev.Manifest.Uploads.CopiedBytes)
	if free < need {
		r.log.Warn("free space is less than the previous backup needed",
			"free", HumanBytes(int64(free)), "previous_needed", HumanBytes(int64(need)))
	}
}

// mkdirOwnerOnly creates dir and any missing parents with mode 0700: a
// backup holds the whole database, so no one else should read it.
func mkdirOwnerOnly(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a folder", dir)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return nil
}

// retireLeftovers sets aside the temp_ folders of dead runs, to be deleted
// by purge. Only call it with the lock held: then they belong to runs that
// are no longer running.
func retireLeftovers(dir string, log *slog.Logger) ([]string, error) {
	left, err := repo.Leftovers(dir)
	if err != nil {
		return nil, fmt.Errorf("list leftovers: %w", err)
	}
	var removed []string
	var errs []error
	for _, n := range left {
		if err := repo.Retire(dir, n); err != nil {
			errs = append(errs, fmt.Errorf("set aside %s: %w", n, err))
			continue
		}
		removed = append(removed, n)
		log.Info("removing leftover of an earlier run", "path", filepath.Join(dir, n))
	}
	return removed, errors.Join(errs...)
}

func installHint(cmd string) string {
	switch cmd {
	case "pg_dump":
		return "postgresql-client"
	case "docker":
		return "docker-ce-cli or docker.io"
	}
	return cmd
}
