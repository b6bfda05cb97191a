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

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/logx"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Short names for the codes of internal/exitcode, whose Table says what
// each means and which commands return it.
const (
	exitOK          = exitcode.OK
	exitFailure     = exitcode.Failure
	exitUsage       = exitcode.Usage
	exitInit        = exitcode.Init
	exitDatabase    = exitcode.Database
	exitUploads     = exitcode.Uploads
	exitFinalize    = exitcode.Finalize
	exitCleanup     = exitcode.Cleanup
	exitDoctor      = exitcode.Doctor
	exitProblems    = exitcode.Problems
	exitNoCheck     = exitcode.NoCheck
	exitLocked      = exitcode.Locked
	exitRefused     = exitcode.Refused
	exitRestore     = exitcode.Restore
	exitInterrupted = exitcode.Interrupted
)

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
	root, a := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	a.removeCerts()
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	format := logx.FormatText
	if f := root.PersistentFlags().Lookup("log-format"); f != nil && f.Value.String() == logx.FormatJSON {
		format = logx.FormatJSON
	}
	log := logx.New(stderr, format, nil, slog.LevelInfo, a.secrets)
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

// exitCode is the one place errors become exit codes: each error carries
// its own (see internal/exitcode).
func exitCode(err error) int { return exitcode.Of(err) }
