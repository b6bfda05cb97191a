// Package exitcode is the one table of the process exit codes: each code's
// number, meaning and the commands that can return it. Errors carry their
// code (an ExitCode method), so the command line maps an error to its code
// by asking it, not by knowing every package's error kinds. --help and the
// README's table are produced from, or checked against, Table.
package exitcode

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// The exit codes. Untyped, so they compare with an exec.ExitError's int.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Init        = 3
	Database    = 4
	Uploads     = 5
	Finalize    = 6
	Cleanup     = 7
	Doctor      = 8
	Problems    = 9
	NoCheck     = 10
	Locked      = 11
	Refused     = 12
	Restore     = 13
	Offsite     = 14
	Before      = 15
	Interrupted = 130
)

// Command names, as in Table's Commands.
const (
	cmdBackup   = "backup"
	cmdPrune    = "prune"
	cmdList     = "list"
	cmdVerify   = "verify"
	cmdRestore  = "restore"
	cmdDoctor   = "doctor"
	cmdVersion  = "version"
	cmdOffsite  = "offsite"
	cmdSchedule = "schedule"
	cmdNotify   = "notify"
)

var allCommands = []string{cmdBackup, cmdPrune, cmdList, cmdVerify, cmdRestore, cmdDoctor, cmdVersion, cmdOffsite, cmdSchedule, cmdNotify}

// Info describes one exit code.
type Info struct {
	Code     int
	Meaning  string   // one line; --help wraps it
	Commands []string // the commands that can return it
}

// Table lists every exit code, in order. It is the only place a code's
// meaning is written.
var Table = []Info{
	{OK, "success", allCommands},
	{Failure, "unexpected error; for notify --test: a test message could not be sent", allCommands},
	{Usage, "invalid settings or command line, or no such backup (nothing was done)", allCommands},
	{Init, "init failed: missing command, no pg_dump as new as the server, not enough free space (BACKUP_MIN_FREE), uploads folder, backups folder not writable", []string{cmdBackup, cmdPrune}},
	{Database, "database dump failed", []string{cmdBackup}},
	{Uploads, "uploads backup failed", []string{cmdBackup}},
	{Finalize, "finalize failed (manifest, rename, backup_latest)", []string{cmdBackup}},
	{Cleanup, "cleanup failed (the new backup itself is complete)", []string{cmdBackup, cmdPrune}},
	{Doctor, "doctor found problems", []string{cmdDoctor}},
	{Problems, "verify found problems (also a backup that failed BACKUP_VERIFY: it is kept, backup_latest stays on the previous backup)", []string{cmdBackup, cmdVerify, cmdOffsite}},
	{NoCheck, "verify could not check (e.g. no scratch database could be created)", []string{cmdBackup, cmdVerify}},
	{Locked, "another run holds the lock on BACKUPS_DIR", []string{cmdBackup, cmdPrune, cmdRestore}},
	{Refused, "restore refused: the target database has tables (use --yes) or does not exist (use --create)", []string{cmdRestore}},
	{Restore, "restore failed; the target it failed on was left as it was (except an uploads swap stopped half-way, whose message gives the mv that undoes it)", []string{cmdRestore}},
	{Offsite, "offsite copy failed: the bucket could not be reached, read or written (after backup: the local backup itself is complete, and the next run pushes what is missing)", []string{cmdBackup, cmdOffsite, cmdRestore}},
	{Before, "BACKUP_BEFORE_COMMAND failed (non-zero exit or timeout); nothing was done", []string{cmdBackup}},
	{Interrupted, "interrupted (SIGINT/SIGTERM/SIGHUP); a backup not yet finalized is removed", []string{cmdBackup, cmdPrune, cmdList, cmdVerify, cmdRestore, cmdOffsite, cmdSchedule}},
}

// Coder is an error that knows its exit code.
type Coder interface {
	ExitCode() int
}

// Error is an error carrying its exit code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }
func (e *Error) ExitCode() int { return e.Code }

// With gives err the exit code code (nil stays nil).
func With(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// New makes a sentinel error (compare it with errors.Is) that carries code.
func New(code int, msg string) error { return &Error{Code: code, Err: errors.New(msg)} }

// Find returns the code err carries: the outermost Coder's (a Coder that
// wraps another may defer to it, as job.StepError does). An interruption
// (context.Canceled anywhere in the chain) overrides it, since whatever
// failed then failed because of it; except Cleanup, which says the new
// backup is complete, and an interrupted cleanup does not change that.
// ok is false when err carries no code.
func Find(err error) (code int, ok bool) {
	if err == nil {
		return OK, true
	}
	var c Coder
	found := errors.As(err, &c)
	if found && c.ExitCode() == Cleanup {
		return Cleanup, true
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted, true
	}
	if found {
		return c.ExitCode(), true
	}
	return Failure, false
}

// Of is the exit code for err: the code it carries, else Failure.
func Of(err error) int {
	code, _ := Find(err)
	return code
}

// Help is the "Exit codes:" block of a command's --help: the codes that
// command can return ("" for all of them, for the top-level help).
func Help(command string) string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, in := range Table {
		if command != "" && !slices.Contains(in.Commands, command) {
			continue
		}
		n := strconv.Itoa(in.Code)
		b.WriteString("\n  " + n + strings.Repeat(" ", 5-len(n)))
		col := 7
		for i, w := range strings.Fields(in.Meaning) {
			if i > 0 && col+1+len(w) > 80 {
				b.WriteString("\n" + strings.Repeat(" ", 7))
				col = 7
			} else if i > 0 {
				b.WriteString(" ")
				col++
			}
			b.WriteString(w)
			col += len(w)
		}
	}
	return b.String()
}
