package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startHolder starts a backup whose pg_dump sleeps for delay seconds and
// returns once it holds the run lock (its temp folder exists).
func startHolder(t *testing.T, f *fixture, delay string) (*exec.Cmd, func() string) {
	t.Helper()
	slowPgDump(t, f, delay)
	cmd, _, stderr := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	waitFor(t, "the first run's temp folder", func() bool { return hasTemp(f) })
	return cmd, stderr.String
}

func processExit(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// A second backup with --lock-wait queues behind the first and starts
// once it has released the lock; a prune does too. Both say once, at
// INFO, that they wait and for whom.
func TestLockWaitQueues(t *testing.T) {
	f := newFixture(t)
	first, firstErr := startHolder(t, f, "2")
	type run struct {
		cmd    *exec.Cmd
		stderr func() string
	}
	var runs []run
	for _, args := range [][]string{{"backup", "--lock-wait", "10s"}, {"prune", "--lock-wait", "10s"}} {
		cmd, _, stderr := f.command(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{cmd, stderr.String})
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, firstErr())
	}
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Fatalf("queued run %d: %v\n%s", i, err, r.stderr())
		}
		log := r.stderr()
		if n := strings.Count(log, "waiting for it"); n != 1 {
			t.Errorf("queued run %d logged its wait %d times, want once:\n%s", i, n, log)
		}
		if !strings.Contains(log, "INFO: another run holds the backups folder; waiting for it") || !strings.Contains(log, `held_by="pid `) {
			t.Errorf("queued run %d does not say at INFO who it waits for:\n%s", i, log)
		}
	}
	if n := len(f.backupNames()); n != 2 {
		t.Errorf("%d backups, want 2 (the first and the queued one): %v", n, f.backupNames())
	}
}

// With a wait shorter than the holder's run, backup, prune and restore
// each fail with the Locked exit code after about that wait, saying how
// long they waited and who holds the lock; nothing is written.
func TestLockWaitExpires(t *testing.T) {
	f := newFixture(t)
	f.mustBackup() // something for restore to pick
	_, _ = startHolder(t, f, "20")
	for _, args := range [][]string{
		{"backup", "--lock-wait", "1s"},
		{"prune", "--lock-wait", "1s"},
		{"restore", "--uploads", "--lock-wait", "1s"},
	} {
		start := time.Now()
		r := f.run(args...)
		took := time.Since(start)
		if r.code != exitLocked {
			t.Errorf("%s: exit %d, want %d\n%s", args[0], r.code, exitLocked, r.stderr)
			continue
		}
		if took < time.Second || took > 4*time.Second {
			t.Errorf("%s: gave up after %v, want about 1s", args[0], took)
		}
		for _, want := range []string{"waited 1", "held by pid", "BACKUP_LOCK_WAIT"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: the error lacks %q:\n%s", args[0], want, r.stderr)
			}
		}
	}
	if len(f.errorDirs()) != 0 {
		t.Errorf("a refused run wrote an error folder: %v", f.errorDirs())
	}
}

// SIGTERM during the wait stops it at once: exit 130, nothing done (no
// temp folder of its own, no error folder, no backup).
func TestLockWaitInterrupted(t *testing.T) {
	f := newFixture(t)
	_, _ = startHolder(t, f, "30")
	cmd, _, stderr := f.command("backup", "--lock-wait", "1m")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "the second run to wait", func() bool { return strings.Contains(stderr.String(), "waiting for it") })
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stopped %v after SIGTERM, want at once", took)
	}
	if code := processExit(err); code != exitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupted, stderr)
	}
	if len(f.errorDirs()) != 0 {
		t.Errorf("the interrupted wait wrote an error folder: %v", f.errorDirs())
	}
	if n := len(f.backupNames()); n != 0 {
		t.Errorf("backups %v, want none", f.backupNames())
	}
	if strings.Contains(stderr.String(), "dump") && strings.Contains(stderr.String(), "step=database") {
		t.Errorf("the interrupted run started working:\n%s", stderr)
	}
}

// Bad durations are refused before any work, naming the setting, where
// the value came from and what is accepted.
func TestLockWaitInvalid(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{"5", "-1s", "25h", "soon"} {
		r := f.run("backup", "--lock-wait", v)
		if r.code != exitUsage {
			t.Errorf("--lock-wait %s: exit %d, want %d\n%s", v, r.code, exitUsage, r.stderr)
		}
		for _, want := range []string{"BACKUP_LOCK_WAIT", v, "30s, 5m or 1h30m"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("--lock-wait %s: the error lacks %q:\n%s", v, want, r.stderr)
			}
		}
	}
	f.env["BACKUP_LOCK_WAIT"] = "10 minutes"
	if r := f.run("prune"); r.code != exitUsage || !strings.Contains(r.stderr, "environment") {
		t.Errorf("BACKUP_LOCK_WAIT=10 minutes: exit %d, want %d naming the environment\n%s", r.code, exitUsage, r.stderr)
	}
	if n := len(f.backupNames()); n != 0 {
		t.Errorf("backups %v after refused runs", f.backupNames())
	}
}

// A scheduled backup due while a manual run holds BACKUPS_DIR waits for
// it (schedule's own 1h wait, BACKUP_LOCK_WAIT unset) instead of failing.
func TestScheduleWaitsForManualRun(t *testing.T) {
	f := newFixture(t)
	holder, holderErr := startHolder(t, f, "3")
	f.path = os.Getenv("PATH") // the scheduled runs' pg_dump is quick
	f.env["BACKUP_SCHEDULE"] = "@every 1s"
	cmd, stdout, stderr := startSchedule(t, f)
	if err := holder.Wait(); err != nil {
		t.Fatalf("manual run: %v\n%s", err, holderErr())
	}
	waitFor(t, "a scheduled run to finish", func() bool { return strings.Contains(stdout.String(), "\n") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	first := strings.SplitN(stdout.String(), "\n", 2)[0]
	if !strings.Contains(first, `"ok":true`) {
		t.Errorf("first scheduled run: %s\n%s", first, stderr)
	}
	if !strings.Contains(stderr.String(), "waiting for it") || !strings.Contains(stderr.String(), "up_to=1h0m0s") {
		t.Errorf("the scheduled run did not wait for the manual one:\n%s", stderr)
	}
}

// verify never takes the run lock: a verify --all (as a weekly cron job
// runs it) beside a running backup neither waits for it nor fails, and
// does not count the backup being made as a problem.
func TestVerifyRunsBesideBackup(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	holder, holderErr := startHolder(t, f, "5")
	start := time.Now()
	r := f.run("verify", "--all")
	if r.code != 0 {
		t.Errorf("verify --all beside a backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("verify took %v: it waited for the backup", took)
	}
	if !hasTemp(f) {
		t.Error("the backup finished before verify did: the test proves nothing")
	}
	if err := holder.Wait(); err != nil {
		t.Fatalf("the backup failed beside verify: %v\n%s", err, holderErr())
	}
}
