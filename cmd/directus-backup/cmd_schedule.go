package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/schedule"
)

func newScheduleCommand(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "schedule",
		Short: "Run backups (and verify) on a cron schedule, in the foreground",
		Long: `Stay in the foreground and run a backup at each time of BACKUP_SCHEDULE
(and verify --all --restore-test at each time of BACKUP_VERIFY_SCHEDULE),
for a container or a systemd service (see docs/scheduling.md).

Schedules: 5-field cron (minute hour day-of-month month day-of-week, e.g.
"0 2 * * *"), @hourly, @daily, @weekly, @monthly, @yearly, or
@every <duration> (e.g. "@every 6h"). Times are in the local time zone (TZ).

Each run is exactly a "directus-backup backup" (or verify): same steps,
log, error folder, pings and metrics file; the settings are read afresh
for each run (leave BACKUP_TIMESTAMP unset: it would name every backup
the same). One run at a time: a run due
while the same job is still running is skipped, with a warning; a verify
due during a backup (or a backup during a verify) is queued and starts
when that run ends. A scheduled backup waits up to BACKUP_LOCK_WAIT for
another process's run (a manual backup, prune or restore) to release
BACKUPS_DIR, 1h when it is not set. The next run
times are logged at start and after each run. A failed run is logged and
the scheduler carries on.

SIGTERM or SIGINT stops the scheduler: a running backup is interrupted and
rolled back (a backup not yet finalized is removed), then the scheduler
exits with 130 (the systemd unit counts 130 as a clean stop).

Without --json nothing but each run's own summary is printed on stdout;
with --json, one JSON line per run: {"job","started","finished","ok",
"exit_code","error"}. It stops only on SIGINT/SIGTERM/SIGHUP, after the
running job ended.

` + exitcode.Help("schedule"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{DB: true})
			if err != nil {
				return err
			}
			if cfg.Schedule == "" && cfg.VerifySchedule == "" {
				return fmt.Errorf("%w: set BACKUP_SCHEDULE (--schedule), BACKUP_VERIFY_SCHEDULE (--verify-schedule) or both", errUsage)
			}
			var jobs []schedule.Job
			if cfg.Schedule != "" {
				s, err := schedule.Parse(cfg.Schedule) // checked at load
				if err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				jobs = append(jobs, schedule.Job{Name: "backup", Schedule: s, Run: func(context.Context) error {
					// Loaded afresh: the backup's name comes from the time of
					// loading, and .env edits take effect at the next run.
					cfg, err := a.config(needs{DB: true})
					if err != nil {
						return err
					}
					if !cfg.LockWaitSet {
						cfg.LockWait = scheduleLockWait
					}
					return a.runBackup(c, cfg, false, false)
				}})
			}
			if cfg.VerifySchedule != "" {
				s, err := schedule.Parse(cfg.VerifySchedule)
				if err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				jobs = append(jobs, schedule.Job{Name: "verify", Schedule: s, Run: func(ctx context.Context) error {
					cfg, err := a.config(needs{DB: true})
					if err != nil {
						return err
					}
					return a.runVerify(ctx, cfg, "", true, true, "", false)
				}})
			}
			out := a.stdout
			opt := schedule.Options{Log: a.logger(cfg, a.stderr, nil)}
			if asJSON {
				// The runs' own summaries would break the one-line-per-run stream.
				a.stdout = io.Discard
				defer func() { a.stdout = out }()
				opt.Done = func(name string, started, finished time.Time, err error) {
					line := scheduleRun{Job: name, Started: started, Finished: finished, OK: err == nil, ExitCode: exitcode.Of(err)}
					if err != nil {
						line.Error = a.redact(err.Error())
					}
					b, _ := json.Marshal(line)
					fmt.Fprintf(out, "%s\n", b)
				}
			}
			err = schedule.Run(c.Context(), jobs, opt)
			return fmt.Errorf("scheduler stopped: %w", err)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON line per run on stdout (and nothing else)")
	return c
}

// scheduleLockWait is how long a scheduled backup waits for another run
// (a manual backup, prune or restore, a cron job) to release BACKUPS_DIR
// when BACKUP_LOCK_WAIT is not set: nobody is there to run it again, so
// it queues rather than failing at once; an hour covers a manual run,
// and a lock held longer is worth the failure alert.
const scheduleLockWait = time.Hour

// scheduleRun is the --json line of one scheduled run.
type scheduleRun struct {
	Job      string    `json:"job"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	OK       bool      `json:"ok"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
}
