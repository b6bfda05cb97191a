package hooks

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
)

func newHook(cmd string) (Hook, *capbuf.Head) {
	buf := &capbuf.Head{Max: 1 << 20} // the log, shared with the hook's output goroutine
	return Hook{Name: "test-hook", Command: cmd, Env: os.Environ(), Log: slog.New(slog.NewTextHandler(buf, nil))}, buf
}

func TestOutputLoggedLineByLine(t *testing.T) {
	dir := t.TempDir()
	h, buf := newHook(`echo one; echo two >&2; pwd; printf 'no newline'`)
	h.Dir = dir
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"test-hook: one"`, `"test-hook: two"`, `"test-hook: no newline"`, "test-hook: " + dir + `"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf)
		}
	}
}

func TestExitStatus(t *testing.T) {
	h, _ := newHook("exit 3")
	err := h.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") {
		t.Fatalf("err = %v", err)
	}
}

// waitPid reads the pid a hook wrote to path.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	for range 200 {
		if data, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(data), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the hook never started its child")
	return 0
}

// gone reports whether pid has exited (a zombie of ours would still answer
// kill 0, but the grandchild is reaped by init, not by us).
func gone(pid int) bool {
	for range 100 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Cancelling (what SIGTERM to us does) kills the hook and the children it
// started, not only sh.
func TestCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h, _ := newHook(`sleep 300 & echo $! > ` + pidFile + `; wait`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	pid := waitPid(t, pidFile)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hook did not stop")
	}
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the hook's child %d survived", pid)
	}
}

func TestTimeout(t *testing.T) {
	h, _ := newHook("sleep 300")
	h.Timeout = 200 * time.Millisecond
	start := time.Now()
	err := h.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestOutcomeEnv(t *testing.T) {
	env := Outcome{ExitCode: 4, FailedStep: "database", Error: "boom"}.Env([]string{"PATH=/bin", "BACKUP_RESULT=stale"})
	got := strings.Join(env, "\n")
	for _, want := range []string{"PATH=/bin", "BACKUP_RESULT=failure", "BACKUP_EXIT_CODE=4", "BACKUP_FAILED_STEP=database", "BACKUP_ERROR=boom", "BACKUP_NAME="} {
		if !strings.Contains(got, want+"\n") && !strings.HasSuffix(got, want) {
			t.Errorf("env lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "stale") {
		t.Errorf("stale value kept:\n%s", got)
	}
}

// A hook that leaves a daemon running (holding its output) succeeds and
// does not hold the run for long.
func TestBackgroundChildDoesNotBlock(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h, _ := newHook(`sleep 300 & echo $! > ` + pidFile)
	start := time.Now()
	if err := h.Run(context.Background()); err != nil {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > waitDelay+5*time.Second {
		t.Errorf("took %s", d)
	}
	syscall.Kill(waitPid(t, pidFile), syscall.SIGKILL)
}
