// Command directus-backup backs up a Directus deployment (its PostgreSQL
// database and uploads folder) into the folder layout of the original
// backup.sh: compressed dump, hard-linked incremental uploads, backup_latest.
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/logx"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in the README and in --help.
const (
	exitOK          = 0
	exitFailure     = 1  // unexpected error
	exitUsage       = 2  // invalid settings or command line
	exitInit        = 3  // init step: commands, folders, permissions
	exitDatabase    = 4  // database dump failed
	exitUploads     = 5  // uploads copy failed
	exitFinalize    = 6  // finalize failed
	exitCleanup     = 7  // cleanup/retention failed; the new backup is complete
	exitDoctor      = 8  // doctor found problems
	exitProblems    = 9  // verify (or BACKUP_VERIFY) found problems
	exitNoCheck     = 10 // verify could not check
	exitRefused     = 12 // restore refused: the target is not empty (use --force) or missing (use --create)
	exitRestore     = 13 // restore failed; the target was left as it was
	exitLocked      = 11
	exitInterrupted = 130
)

const exitCodesHelp = `Exit codes:
  0    success
  1    unexpected error
  2    invalid settings or command line (nothing was done)
  3    init failed: missing command, uploads folder, backups folder not writable
  4    database dump failed
  5    uploads backup failed
  6    finalize failed (manifest, rename, backup_latest)
  7    cleanup failed (the new backup itself is complete)
  8    doctor found problems
  9    verify found problems (also a backup that failed BACKUP_VERIFY: it is
       kept, backup_latest stays on the previous backup)
  10   verify could not check (e.g. no scratch database could be created)
  11   another run holds the lock on BACKUPS_DIR
  12   restore refused: the target database has tables (use --force) or does
       not exist (use --create)
  13   restore failed; the target it failed on was left as it was
  130  interrupted (SIGINT/SIGTERM/SIGHUP); a backup not yet finalized is removed`

func main() {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	// A closed terminal (SIGHUP) stops a run cleanly too, instead of killing
	// it mid-step; under nohup, which ignores it, it stays ignored.
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	code := runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runCLI runs the command line and returns the process exit code.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	format := logx.FormatText
	if f := root.PersistentFlags().Lookup("log-format"); f != nil && f.Value.String() == logx.FormatJSON {
		format = logx.FormatJSON
	}
	log := logx.New(stderr, format, nil, slog.LevelInfo, nil)
	// A run logs its own step errors (once, into its log and error folder);
	// everything else is reported here.
	var se *job.StepError
	if !errors.As(err, &se) {
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Error(line)
		}
	}
	if doctorHelps(code) {
		log.Info("to check the settings, tools, folders and the database connection, run: directus-backup doctor")
	}
	return code
}

// doctorHelps reports whether doctor can shed light on a failure with this
// exit code: not on refusals, findings about backups, or interruptions.
func doctorHelps(code int) bool {
	switch code {
	case exitFailure, exitInit, exitDatabase, exitUploads, exitFinalize, exitCleanup, exitNoCheck, exitRestore:
		return true
	}
	return false
}

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	var se *job.StepError
	var de doctorProblems
	var vf verifyFailed
	var vu verifyUnchecked
	var rr restoreRefused
	var rf restoreFailed
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se) && se.Step == job.StepCleanup:
		// The new backup is complete, whatever stopped the cleanup.
		return exitCleanup
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, repo.ErrLocked):
		return exitLocked
	case errors.Is(err, config.ErrInvalid), errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &de):
		return exitDoctor
	case errors.As(err, &vf):
		return exitProblems
	case errors.As(err, &vu):
		return exitNoCheck
	case errors.Is(err, errNoBackup):
		return exitUsage
	case errors.As(err, &rr):
		return exitRefused
	case errors.As(err, &rf):
		return exitRestore
	case errors.As(err, &se):
		switch se.Step {
		case job.StepInit:
			return exitInit
		case job.StepDatabase:
			return exitDatabase
		case job.StepUploads:
			return exitUploads
		case job.StepFinalize, job.StepLatest:
			return exitFinalize
		case job.StepCleanup:
			return exitCleanup
		case job.StepVerify:
			if errors.Is(err, job.ErrVerifyUnchecked) {
				return exitNoCheck
			}
			return exitProblems
		}
	}
	return exitFailure
}
