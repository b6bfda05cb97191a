package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/preflight"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// init checks everything a run needs before any work is done, takes the
// lock and makes the temporary folder.
func (r *run) init(ctx context.Context) error {
	cfg := r.cfg
	r.method = dbtarget.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile)
	r.rep.Method = r.method
	if r.method == pgexec.MethodDocker {
		r.log.Info("database will be dumped through docker compose",
			"compose_files", strings.Join(cfg.ComposeFiles, ","), "project", cfg.ComposeProject, "service", cfg.DockerService)
	} else {
		r.log.Info("database will be dumped with the local pg_dump",
			"host", cmp.Or(cfg.DB.Host, "(libpq default)"), "port", cfg.DB.Port, "database", cfg.DB.Database,
			"sslmode", cmp.Or(cfg.DB.SSLMode, "(libpq default)"))
	}
	// The checks doctor prints too; the command is pg_dump's (or docker's)
	// unless the caller brings its own dumper.
	checks := preflight.Run(cfg, preflight.Options{NoCommand: r.deps.Dumper != nil})
	if err := preflight.FirstFailure(checks); err != nil {
		return err
	}
	for _, f := range checks {
		// INFO, not WARN: these are settings to tidy (folder and .env
		// modes, who owns BACKUPS_DIR), the same every night; as warnings
		// they would fill every quiet cron mail and teach people to skip
		// them. doctor shows them as warnings.
		if f.Status == preflight.Warn {
			r.log.Info(f.Detail, "check", f.Check, "fix", f.Fix)
		}
	}
	if err := mkdirOwnerOnly(cfg.BackupsDir); err != nil {
		return fmt.Errorf("create backups folder (BACKUPS_DIR): %w", err)
	}
	if err := mkdirOwnerOnly(cfg.ErrorDir); err != nil {
		return fmt.Errorf("create error folder (BACKUP_ERROR_DIR): %w", err)
	}
	lock, err := repo.AcquireWait(ctx, cfg.BackupsDir, fmt.Sprintf("pid %d, %s", os.Getpid(), r.rep.JobID),
		cfg.LockWait, repo.LogWaiting(r.log, cfg.LockWait))
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
	r.backups = backups
	r.prev, r.hasPrev = preflight.LastBackup(cfg.BackupsDir, backups)
	if f, ok := preflight.FreeSpace(cfg.BackupsDir, r.prev, r.hasPrev, cfg.MinFree); ok {
		switch f.Status {
		case preflight.Fail:
			// Before any work: a disk filled half-way through hurts
			// Directus and PostgreSQL too, and the run fails anyway.
			return &preflight.Err{Finding: f}
		case preflight.Warn:
			// BACKUP_MIN_FREE=0: not an error, the new data may be smaller.
			r.log.Warn("free space is less than the last backup needed", "check", f.Check, "detail", f.Detail)
		}
	}
	if r.method == pgexec.MethodLocal && r.deps.Dumper == nil {
		f, c, err := preflight.Client(ctx, dbtarget.Target(cfg, r.method))
		if err != nil {
			return err
		}
		r.binDir = c.BinDir
		if f.Status == preflight.Warn {
			r.log.Warn(f.Detail, "check", f.Check)
		} else {
			r.log.Info("using pg_dump "+c.PgDump, "version", c.Version, "detail", f.Detail)
		}
	}

	r.temp = r.backupPath(repo.TempName(r.rep.JobID))
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
		log.Info("removing leftover of an earlier run", "path", repo.BackupPath(dir, n))
	}
	return removed, errors.Join(errs...)
}
