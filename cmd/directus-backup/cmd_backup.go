package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/hooks"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/redact"
)

func newBackupCommand(a *app) *cobra.Command {
	var asJSON, retentionDry bool
	c := &cobra.Command{
		Use:   "backup",
		Short: "Make one backup: database dump, uploads snapshot, finalize, cleanup",
		Long: `Make one backup, as the original backup.sh does:

  1. init      check settings and commands, take the lock, make temp_<job-id>/
  2. database  pg_dump streamed through gzip into db_backup.sql.gz
  3. uploads   copy the uploads folder; files unchanged since the previous
               backup are hard links to it (rsync -a --link-dest semantics)
  4. finalize  write the manifest, rename to backup_<date>_<timestamp>
  5. verify    with BACKUP_VERIFY=1 or restore: check the new backup (and
               restore it into a scratch database); then switch backup_latest
               to it (a backup that fails verification is kept, but
               backup_latest stays on the previous one)
  6. cleanup   remove leftovers of dead runs, apply retention, remove old
               error folders

With --retention-dry-run, the backup is made but the cleanup step removes
nothing: the summary lists what it would remove and why each backup is
kept (as prune --dry-run does), to try retention settings safely.

A failed step leaves error_<date>_<job-id>/ in BACKUP_ERROR_DIR and never
touches earlier backups or backup_latest.

With --json, the result is one JSON document on stdout, also after a
failure (see docs/usage.md).

` + exitcode.Help("backup"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{DB: true})
			if err != nil {
				return err
			}
			return a.runBackup(c, cfg, asJSON, retentionDry)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (also with --quiet)")
	c.Flags().BoolVar(&retentionDry, "retention-dry-run", false, "make the backup, but remove nothing in the cleanup: list what would be removed and why")
	return c
}

func (a *app) runBackup(c *cobra.Command, cfg *config.Config, asJSON, retentionDry bool) error {
	capture := &capbuf.Head{Max: 16 << 20} // the job log, for the error folder
	progress := &job.Progress{}
	var logOut io.Writer = a.stderr
	var display *progressDisplay
	if a.showProgress() {
		display = newProgressDisplay(a.stderr, progress)
		logOut = display
		defer display.Stop()
	}
	log := a.logger(cfg, logOut, capture)
	mon := startMonitor(c.Context(), cfg, log)
	var rep *job.Report
	err := runBeforeCommand(c.Context(), cfg, log)
	if err == nil {
		rep, err = job.Run(c.Context(), cfg, job.Deps{
			Log:      log,
			Version:  version,
			Progress: progress,
			JobLog:   capture.Bytes,
			Environ:  cfg.Environ(),

			RetentionDryRun: retentionDry,
		})
		runAfterCommand(c.Context(), cfg, log, rep, err)
	}
	if display != nil {
		display.Stop()
	}
	mon.finish(c.Context(), rep, err, capture.Bytes())
	// The summary says "complete": print it only when the backup is, and
	// backup_latest points at it (a cleanup failure leaves both true).
	var se *job.StepError
	if asJSON {
		if rep == nil {
			return err
		}
		return a.printResult(newBackupDoc(rep, retentionDry, err), err)
	}
	if !a.quiet && rep != nil && rep.Path != "" && (err == nil || errors.As(err, &se) && (se.Step == job.StepCleanup || se.Step == job.StepOffsite)) {
		printSummary(a.stdout, rep, retentionDry)
	}
	return err
}

// runBeforeCommand runs BACKUP_BEFORE_COMMAND before any work (no lock, no
// temp folder): its failure stops the run with exit code 15, and since
// nothing was done there is no error folder, only the log.
func runBeforeCommand(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.BeforeCommand == "" {
		return nil
	}
	err := hooks.Hook{Name: "before-command", Command: cfg.BeforeCommand, Env: os.Environ(), Log: log}.Run(ctx)
	if err != nil {
		return exitcode.With(exitcode.Before, fmt.Errorf("%w; the backup was not started", err))
	}
	return nil
}

// runAfterCommand runs BACKUP_AFTER_COMMAND with the run's outcome in its
// environment. Its failure is a warning: the backup's result stands. Its
// environment is our real one, never the .env file's, so the secrets read
// from .env (DB_PASSWORD, the S3 keys, the ping URL) do not reach it.
func runAfterCommand(ctx context.Context, cfg *config.Config, log *slog.Logger, rep *job.Report, runErr error) {
	if cfg.AfterCommand == "" {
		return
	}
	o := hooks.Outcome{ExitCode: exitcode.Of(runErr)}
	if rep != nil {
		o.Name, o.Path = rep.Name, rep.Path
	}
	if runErr != nil {
		o.Error = redact.String(runErr.Error(), cfg.Secrets()...)
		var se *job.StepError
		if errors.As(runErr, &se) {
			o.FailedStep = se.Step
		}
	}
	// An interrupted run still reports, within a bounded time; a second
	// signal is the operator's to send.
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), monitorBudget)
		defer cancel()
	}
	if err := (hooks.Hook{Name: "after-command", Command: cfg.AfterCommand, Env: o.Env(os.Environ()), Log: log}).Run(ctx); err != nil {
		log.Warn("after-command failed; the backup's result stands", "err", err)
	}
}

func printSummary(w io.Writer, rep *job.Report, retentionDry bool) {
	d := rep.Dump
	fmt.Fprintf(w, "Backup complete: %s\n", rep.Path)
	fmt.Fprintf(w, "  duration   %s\n", rep.Finished.Sub(rep.Started).Round(10*time.Millisecond))
	ratio := ""
	if d.Bytes > 0 && d.Bytes != d.RawBytes {
		ratio = fmt.Sprintf(" (%.2f:1)", float64(d.RawBytes)/float64(d.Bytes))
	}
	fmt.Fprintf(w, "  database   %s raw, %s stored%s, via %s\n", humanize.Bytes(d.RawBytes), humanize.Bytes(d.Bytes), ratio, rep.Method)
	if c := d.Chunks; c != nil {
		fmt.Fprintf(w, "  chunks     %d: %d reused from the previous dump, %s compressed",
			c.Chunks, c.Reused, humanize.Bytes(c.FreshRawBytes))
		if c.Refreshed > 0 {
			fmt.Fprintf(w, ", %d damaged in the previous dump compressed afresh", c.Refreshed)
		}
		fmt.Fprintln(w)
	}
	u := rep.Uploads
	if !rep.FilesOff && rep.DefaultLocation != "" {
		fmt.Fprintf(w, "  uploads    %d files (%s): %d linked, %d copied (%s)\n",
			u.Files, humanize.Bytes(u.Bytes), u.Linked, u.Copied, humanize.Bytes(u.CopiedBytes))
	}
	printStorage(w, rep)
	if u.Rechecked+u.Compared+u.Refreshed > 0 {
		fmt.Fprintf(w, "  checked    %d linked files re-read, %d compared with the live files, %d damaged copies replaced\n",
			u.Rechecked, u.Compared, u.Refreshed)
	}
	if rep.Previous != "" {
		fmt.Fprintf(w, "  previous   %s\n", rep.Previous)
	}
	cl := rep.Cleanup
	if retentionDry {
		printCleanupPlan(w, "  cleanup    dry run: nothing was removed", "  ", cl)
		return
	}
	if n := len(cl.Expired) + len(cl.Incomplete) + len(cl.Leftovers) + len(cl.ErrorDirs); n > 0 {
		fmt.Fprintf(w, "  removed    %s\n", strings.Join(append(append(append(append([]string(nil),
			cl.Expired...), cl.Incomplete...), cl.Leftovers...), cl.ErrorDirs...), ", "))
	}
	fmt.Fprintf(w, "  kept       %d backups\n", len(cl.Kept))
	if len(cl.Damaged) > 0 {
		fmt.Fprintf(w, "  damaged    %s (unreadable manifest; left alone)\n", strings.Join(cl.Damaged, ", "))
	}
	if o := rep.Offsite; o != nil {
		fmt.Fprintf(w, "  offsite    %s: %d objects sent (%s), %d already stored (%s)\n",
			o.Where, o.ObjectsSent, humanize.Bytes(o.BytesSent), o.ObjectsSkipped, humanize.Bytes(o.BytesSkipped))
	}
}

// showProgress: a progress display only for a person at a terminal; never
// under cron, in a pipe, or with JSON logs.
func (a *app) showProgress() bool {
	if a.noProgress || a.quiet || a.logFormat != "text" {
		return false
	}
	f, ok := a.stderr.(*os.File)
	return ok && isTerminal(f)
}

// backupDoc is the JSON form of a backup run (backup --json), documented in
// docs/usage.md.
type backupDoc struct {
	OK       bool       `json:"ok"`
	Error    string     `json:"error,omitempty"`
	Step     string     `json:"failed_step,omitempty"`
	ErrorDir string     `json:"error_dir,omitempty"`
	JobID    string     `json:"job_id"`
	Name     string     `json:"name"`
	Path     string     `json:"path"`
	Method   string     `json:"method"`
	Previous string     `json:"previous"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Seconds  float64    `json:"seconds"`
	Database dumpDoc    `json:"database"`
	Uploads  uploadsDoc `json:"uploads"`
	Cleanup  cleanupDoc `json:"cleanup"`
	// Offsite is the push to the bucket (absent when none is set).
	Offsite *offsite.PushReport `json:"offsite,omitempty"`
	// Storage locations (storage_report.go).
	Files           string        `json:"files"` // "on", or "off" for a database-only backup
	DefaultLocation string        `json:"default_location"`
	Storage         []locationDoc `json:"storage"`
	Extensions      *locationDoc  `json:"extensions"`
}

type dumpDoc struct {
	RawBytes int64      `json:"raw_bytes"`
	Bytes    int64      `json:"bytes"`
	SHA256   string     `json:"sha256"`
	Tables   int        `json:"tables"`
	Chunks   *chunksDoc `json:"chunks,omitempty"` // absent for an uncompressed dump
}

type chunksDoc struct {
	Count         int64 `json:"count"`
	Reused        int64 `json:"reused"`
	FreshRawBytes int64 `json:"fresh_raw_bytes"`
	Refreshed     int64 `json:"refreshed"`
}

type uploadsDoc struct {
	Files       int64 `json:"files"`
	Dirs        int64 `json:"dirs"`
	Symlinks    int64 `json:"symlinks"`
	Skipped     int64 `json:"skipped"`
	Bytes       int64 `json:"bytes"`
	Linked      int64 `json:"linked"`
	Copied      int64 `json:"copied"`
	CopiedBytes int64 `json:"copied_bytes"`
	Rechecked   int64 `json:"rechecked"`
	Compared    int64 `json:"compared"`
	Refreshed   int64 `json:"refreshed"`
}

func newBackupDoc(rep *job.Report, retentionDry bool, err error) backupDoc {
	d, u := rep.Dump, rep.Uploads
	doc := backupDoc{
		OK: err == nil, JobID: rep.JobID, Name: rep.Name, Path: rep.Path, Method: rep.Method, Previous: rep.Previous,
		Started: rep.Started, Finished: rep.Finished,
		Database: dumpDoc{RawBytes: d.RawBytes, Bytes: d.Bytes, SHA256: d.SHA256, Tables: len(d.TableRows)},
		Uploads: uploadsDoc{Files: u.Files, Dirs: u.Dirs, Symlinks: u.Symlinks, Skipped: u.Skipped, Bytes: u.Bytes,
			Linked: u.Linked, Copied: u.Copied, CopiedBytes: u.CopiedBytes, Rechecked: u.Rechecked, Compared: u.Compared,
			Refreshed: u.Refreshed},
		Cleanup: newCleanupDoc(rep.Cleanup, retentionDry, nil),
		Offsite: rep.Offsite,
	}
	addStorageDoc(&doc, rep)
	if c := d.Chunks; c != nil {
		doc.Database.Chunks = &chunksDoc{Count: c.Chunks, Reused: c.Reused, FreshRawBytes: c.FreshRawBytes, Refreshed: c.Refreshed}
	}
	if !rep.Finished.IsZero() {
		doc.Seconds = rep.Finished.Sub(rep.Started).Seconds()
	}
	if err != nil {
		doc.Error = err.Error()
		var se *job.StepError
		if errors.As(err, &se) {
			doc.Step, doc.ErrorDir = se.Step, se.ErrorDir
			if se.Step == job.StepCleanup {
				doc.Cleanup.OK, doc.Cleanup.Error = false, se.Err.Error()
			}
		}
	}
	return doc
}
