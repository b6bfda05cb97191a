// Package hooks runs BACKUP_BEFORE_COMMAND and BACKUP_AFTER_COMMAND: shell
// commands (sh -c) around a backup run, with their output sent to the log
// line by line. The caller decides what a failure means: a failed
// before-command stops the run, a failed after-command is only a warning.
package hooks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Timeout bounds one hook: a hung command must not hold the backup (and its
// lock) forever. Documented in docs/backup.md.
const Timeout = time.Hour

// waitDelay is how long, after the hook is killed, we wait for its output
// pipes to close (a background grandchild may hold them open).
const waitDelay = 5 * time.Second

// Hook is one command to run.
type Hook struct {
	Name    string        // "before-command" or "after-command", for the log
	Command string        // run with sh -c
	Dir     string        // working folder
	Env     []string      // the whole environment of the command
	Timeout time.Duration // 0 = Timeout
	Log     *slog.Logger  // receives each output line; it redacts secrets
}

// Run runs the hook and waits for it. Cancelling ctx (SIGTERM to us) or the
// timeout kills the hook's whole process group, so a command's children
// stop with it. The error says how it ended (exit status, timeout, signal).
func (h Hook) Run(ctx context.Context) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "sh", "-c", h.Command)
	cmd.Dir = h.Dir
	cmd.Env = h.Env
	// Its own process group, so the kill reaches everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	cmd.WaitDelay = waitDelay

	// stdout and stderr share one pipe so lines keep their order.
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			h.Log.Info(h.Name + ": " + sc.Text())
		}
		// A line longer than the buffer: drain the rest so the hook never blocks.
		_, _ = io.Copy(io.Discard, pr)
	}()

	h.Log.Info(h.Name+" started", "command", h.Command)
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	wg.Wait()
	if errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil {
		// sh exited 0 but left a background process holding its output
		// (a daemon it started): a success; that output is not logged.
		h.Log.Info(h.Name + ": a process it started in the background still runs; its output is not logged")
		err = nil
	}
	if err == nil {
		h.Log.Info(h.Name+" done", "seconds", time.Since(start).Round(time.Millisecond).Seconds())
		return nil
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s timed out after %s and was killed", h.Name, timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped: %w", h.Name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return fmt.Errorf("%s exited with status %d", h.Name, ee.ExitCode())
	}
	return fmt.Errorf("%s: %w", h.Name, err)
}

// Outcome is a finished run, as the after-command sees it.
type Outcome struct {
	ExitCode   int
	Name       string // backup folder name, "" when none was made
	Path       string // absolute path of the backup, "" when none was made
	FailedStep string // "" on success
	Error      string // already redacted; "" on success
}

// Env returns base plus the outcome variables (replacing any of the same
// name in base): BACKUP_RESULT, BACKUP_EXIT_CODE, BACKUP_NAME, BACKUP_PATH,
// BACKUP_FAILED_STEP, BACKUP_ERROR.
func (o Outcome) Env(base []string) []string {
	result := "success"
	if o.ExitCode != 0 {
		result = "failure"
	}
	add := []string{
		"BACKUP_RESULT=" + result,
		fmt.Sprintf("BACKUP_EXIT_CODE=%d", o.ExitCode),
		"BACKUP_NAME=" + o.Name,
		"BACKUP_PATH=" + o.Path,
		"BACKUP_FAILED_STEP=" + o.FailedStep,
		"BACKUP_ERROR=" + o.Error,
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "BACKUP_RESULT", "BACKUP_EXIT_CODE", "BACKUP_NAME", "BACKUP_PATH", "BACKUP_FAILED_STEP", "BACKUP_ERROR":
			continue
		}
		out = append(out, kv)
	}
	return append(out, add...)
}
