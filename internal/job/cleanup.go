package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/retention"
)

// CleanupResult lists what the cleanup step removed and kept.
type CleanupResult struct {
	Leftovers  []string // temp_/deleting_ folders of dead runs
	Incomplete []string // backup_ folders with neither manifest nor dump
	Expired    []string // complete backups removed by retention
	Kept       []string // complete backups kept
	ErrorDirs  []string // old error folders removed
	Damaged    []string // backups whose manifest cannot be read (left alone)
	// Reasons says, for each backup kept or expired, which rule decided.
	Reasons map[string]string
	// DryRun: nothing was removed; the lists say what would have been.
	DryRun bool
}

// cleanup removes what dead runs left, applies retention and removes old
// error folders. The caller holds the lock. Each removal is logged. Backups
// and leftovers are only retired here (renamed, instantly); purge deletes
// them once the lock is released.
// keep names a backup that must survive whatever the policy says: the one
// this run just made (its BACKUP_TIMESTAMP may be old). The target of
// backup_latest is always kept too, for the same reason.
// With dry, nothing is removed: the result says what would be.
func cleanup(ctx context.Context, cfg *config.Config, log *slog.Logger, now time.Time, keep string, dry bool) (CleanupResult, error) {
	res := CleanupResult{Reasons: map[string]string{}, DryRun: dry}
	var errs []error
	retire := func(name string) error { return repo.Retire(cfg.BackupsDir, name) }
	removed := "removed"
	if dry {
		retire = func(string) error { return nil }
		removed = "would remove"
	}

	var left []string
	var err error
	if dry {
		if left, err = repo.Leftovers(cfg.BackupsDir); err != nil {
			err = fmt.Errorf("list leftovers: %w", err)
		}
		// Folders already set aside (deleting_*) go in the purge after a
		// real prune; they are listed with the leftovers.
		if retired, rerr := repo.Retired(cfg.BackupsDir); rerr == nil {
			left = append(left, retired...)
		}
	} else {
		left, err = retireLeftovers(cfg.BackupsDir, log)
	}
	res.Leftovers = left
	if err != nil {
		errs = append(errs, err)
	}

	backups, err := repo.List(cfg.BackupsDir)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	var items []retention.Item
	for _, b := range backups {
		switch b.State {
		case repo.Incomplete:
			if err := retire(b.Name); err != nil {
				errs = append(errs, fmt.Errorf("remove incomplete backup %s: %w", b.Name, err))
				continue
			}
			res.Incomplete = append(res.Incomplete, b.Name)
			log.Info(removed+" incomplete backup (no manifest and no dump)", "name", b.Name)
		case repo.Damaged:
			res.Damaged = append(res.Damaged, b.Name)
			log.Warn("backup has an unreadable manifest; left alone, check it by hand", "name", b.Name, "err", b.Err)
		default:
			items = append(items, retention.Item{Name: b.Name, Time: b.Time})
		}
	}

	latest, _ := repo.Latest(cfg.BackupsDir)
	// Location nil: days, weeks and months are counted in local time, the
	// zone the backup folder names are written in.
	policy := retention.Policy{Days: cfg.RetentionDays, Count: cfg.RetentionCount,
		KeepDaily: cfg.KeepDaily, KeepWeekly: cfg.KeepWeekly, KeepMonthly: cfg.KeepMonthly}
	for _, d := range retention.Apply(items, policy, now) {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		if d.Keep || d.Name == keep || d.Name == latest {
			reason := d.Reason
			if !d.Keep {
				log.Warn("backup_latest points at a backup whose timestamp puts it beyond the retention policy; kept anyway (is BACKUP_TIMESTAMP fixed, or the clock wrong?)",
					"name", d.Name, "reason", d.Reason)
				reason = "backup_latest points at it (" + d.Reason + ")"
				if d.Name == keep {
					reason = "made by this run (" + d.Reason + ")"
				}
			}
			res.Kept = append(res.Kept, d.Name)
			res.Reasons[d.Name] = reason
			continue
		}
		if err := retire(d.Name); err != nil {
			errs = append(errs, fmt.Errorf("remove expired backup %s: %w", d.Name, err))
			continue
		}
		res.Expired = append(res.Expired, d.Name)
		res.Reasons[d.Name] = d.Reason
		log.Info(removed+" backup by retention policy", "name", d.Name, "reason", d.Reason)
	}
	log.Info("retention applied", "kept", len(res.Kept), "removed", len(res.Expired),
		"retention_days", cfg.RetentionDays, "retention_count", cfg.RetentionCount,
		"keep_daily", cfg.KeepDaily, "keep_weekly", cfg.KeepWeekly, "keep_monthly", cfg.KeepMonthly, "dry_run", dry)

	oldErrs, err := removeOldErrorDirs(cfg.ErrorDir, cfg.BackupsDir, cfg.ErrorLogsRetentionDays, now, log, dry)
	res.ErrorDirs = oldErrs
	if err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// removeOldErrorDirs removes error_* folders last changed more than days
// ago. days = 0 keeps them all. With dry, it only lists them. dir is not
// followed when it is a symlink inside backupsDir.
func removeOldErrorDirs(dir, backupsDir string, days int, now time.Time, log *slog.Logger, dry bool) ([]string, error) {
	if days == 0 {
		return nil, nil
	}
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	names, err := repo.ExpiredErrorDirs(dir, backupsDir, cutoff)
	if err != nil {
		return nil, fmt.Errorf("list error folders: %w", err)
	}
	if dry {
		return names, nil
	}
	var removed []string
	var errs []error
	for _, n := range names {
		if err := repo.RemoveErrorDir(dir, n); err != nil {
			errs = append(errs, fmt.Errorf("remove error folder %s: %w", n, err))
			continue
		}
		removed = append(removed, n)
		log.Info("removed old error folder", "name", n, "older_than_days", days)
	}
	return removed, errors.Join(errs...)
}
