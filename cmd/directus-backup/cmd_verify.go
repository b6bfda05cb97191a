package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/metrics"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/verify"
)

func newVerifyCommand(a *app) *cobra.Command {
	var all, restoreTest, asJSON bool
	var scratch string
	c := &cobra.Command{
		Use:   "verify [BACKUP | --all]",
		Short: "Check that a backup is whole: dump, checksums of every file, Directus files",
		Long: `Check one backup (default: the one backup_latest points at) or all of them,
without touching the database server:

  - the dump is a whole gzip stream ending with pg_dump's completion line,
    its checksums and per-table row counts match the manifest
  - every file in the manifest exists with the recorded size and SHA-256
    (bit rot, truncation, tampering and missing files are reported by path),
    and uploads/ holds nothing the manifest does not list
  - every directus_files.filename_disk in the dump exists in uploads/, and
    every file in uploads/ has a row (Directus's thumbnails of an existing
    row excepted); rows the instance already lacked when the backup was
    made and files with no row are notes, not problems
  - backup_latest points at a complete backup

Backups made by the old backup.sh (no manifest) get the checks that are
possible; the output says which were skipped.

--restore-test also restores the dump into a scratch database on the same
server (created, then dropped even when a step fails), compares every
table's row count with the counts recorded at backup time and runs
SELECT COUNT(*) FROM directus_users.

` + exitcode.Help("verify"),
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := a.config(needs{DB: restoreTest})
			if err != nil {
				return err
			}
			if all && len(args) > 0 {
				return fmt.Errorf("%w: give a backup name or --all, not both", errUsage)
			}
			if scratch != "" && !restoreTest {
				return fmt.Errorf("%w: --scratch-db goes with --restore-test", errUsage)
			}
			backup := ""
			if len(args) > 0 {
				backup = args[0]
			}
			return a.runVerify(c.Context(), cfg, backup, all, restoreTest, scratch, asJSON)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "verify every backup")
	c.Flags().BoolVar(&restoreTest, "restore-test", false, "also restore the dump into a scratch database and compare row counts")
	c.Flags().StringVar(&scratch, "scratch-db", "", "name of the scratch database for --restore-test (must not exist; default <DB_DATABASE>_verify_<random>)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printVerify(w io.Writer, reports []verify.BackupReport, latest *verify.Problem) {
	for _, r := range reports {
		if r.Removed {
			fmt.Fprintf(w, "%-8s %s (%s): %s\n", "REMOVED", r.Backup, r.State, repo.RemovedWhileRead)
			continue
		}
		status := "OK"
		if !r.OK {
			status = "PROBLEMS"
			if len(r.Problems) == 0 {
				status = "NOT CHECKED"
			}
		}
		fmt.Fprintf(w, "%-8s %s (%s): %d files checked, %s read, %d Directus files present, %.1fs\n",
			status, r.Backup, r.State, r.Files, humanize.Bytes(r.Bytes), r.Directus, r.Seconds)
		if r.Migration != "" {
			fmt.Fprintf(w, "         Directus migration: %s (the newest applied in the backup's database)\n", r.Migration)
		}
		if len(r.EmptyTables) > 0 {
			fmt.Fprintf(w, "         tables backed up without their rows (restored empty): %s\n", strings.Join(r.EmptyTables, ", "))
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "         %s\n", p.String())
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "         skipped: %s\n", s)
		}
		for _, s := range r.Notes {
			fmt.Fprintf(w, "         note: %s\n", s)
		}
		if rt := r.RestoreTest; rt != nil && (rt.Tables > 0 || len(rt.Problems) > 0) {
			users := "no directus_users table"
			if rt.Users >= 0 {
				users = fmt.Sprintf("SELECT COUNT(*) FROM directus_users = %d", rt.Users)
			}
			fmt.Fprintf(w, "         restore test in %s: %d tables, %d rows, %s, %.1fs\n",
				rt.Scratch, rt.Tables, rt.Rows, users, rt.Duration.Seconds())
		}
		if r.Error != "" {
			fmt.Fprintf(w, "         could not check: %s\n", strings.TrimSpace(r.Error))
		}
	}
	if latest != nil {
		fmt.Fprintf(w, "PROBLEMS %s\n", latest.String())
	}
}

// runVerify is verify's work once the command line is read; schedule runs
// it too (BACKUP_VERIFY_SCHEDULE).
func (a *app) runVerify(ctx context.Context, cfg *config.Config, backup string, all, restoreTest bool, scratch string, asJSON bool) error {
	req := verify.Request{BackupsDir: cfg.BackupsDir, All: all, RestoreTest: restoreTest, Scratch: scratch,
		Log: a.logger(cfg, a.stderr, nil)}
	if backup != "" {
		req.Backup = backup
	}
	if restoreTest {
		req.Target = dbtarget.Matched(ctx, cfg)
		req.Owner = cfg.DB.User
	}
	rep, err := verify.Run(ctx, req)
	if cfg.MetricsFile != "" && rep.Backups != nil {
		if merr := metrics.WriteVerify(ctx, cfg.MetricsFile, time.Now(), err == nil); merr != nil {
			req.Log.Warn("metrics file not written", "file", cfg.MetricsFile, "err", merr)
		}
	}
	var summary strings.Builder
	if rep.Backups != nil {
		printVerify(&summary, rep.Backups, rep.Latest)
	}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), monitorBudget)
	notifyRun(nctx, cfg, req.Log, outcome{Command: "verify", Name: verifyTarget(backup, all), Err: err, Summary: summary.String()})
	cancel()
	if rep.Backups == nil {
		return err // nothing was checked
	}
	if asJSON {
		return a.printResult(rep, err)
	}
	printVerify(a.stdout, rep.Backups, rep.Latest)
	return err
}

// verifyTarget names what a verify run checked, for its notification.
func verifyTarget(backup string, all bool) string {
	switch {
	case all:
		return "all backups"
	case backup != "":
		return backup
	}
	return "the latest backup"
}
