package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The scheduler runs real backups on a fast schedule, skips a run that
// falls due while one is running (pg_dump takes 2s, the schedule fires
// every second), and SIGTERM during a run rolls that run back: exit 130,
// no temp folder, the finished backups intact.
func TestScheduleRunsSkipsAndStops(t *testing.T) {
	f := newFixture(t)
	slowPgDump(t, f, "2")
	f.env["BACKUP_SCHEDULE"] = "@every 1s"
	cmd, stdout, stderr := startSchedule(t, f)
	waitFor(t, "two backups and a third run under way", func() bool {
		return len(f.backupNames()) >= 2 && hasTemp(f)
	})
	done := f.backupNames()
	time.Sleep(300 * time.Millisecond) // let pg_dump start
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr)
	}
	if hasTemp(f) {
		t.Errorf("a temp folder was left behind\n%s", stderr)
	}
	if got := f.backupNames(); strings.Join(got, ",") != strings.Join(done, ",") {
		t.Errorf("backups %v after the stop, want %v", got, done)
	}
	for _, name := range done {
		if r := f.run("verify", name); r.code != 0 {
			t.Errorf("verify %s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}
	log := stderr.String()
	for _, want := range []string{"run skipped", "next run", "scheduler stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// --json: one line per run, the interrupted one last.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(done)+1 {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(done)+1, stdout)
	}
	for i, l := range lines {
		var r scheduleRun
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		last := i == len(lines)-1
		if r.Job != "backup" || r.OK == last || (last && r.ExitCode != exitInterrupted) {
			t.Errorf("line %d: %s", i, l)
		}
	}
}

// BACKUP_VERIFY_SCHEDULE alone runs verify --all --restore-test (and
// writes its metrics, as the verify command does).
func TestScheduleRunsVerify(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	metricsFile := filepath.Join(f.dir, "metrics.prom")
	f.env["BACKUP_VERIFY_SCHEDULE"] = "@every 1s"
	f.env["BACKUP_METRICS_FILE"] = metricsFile
	// Scheduled runs notify as the verify command does.
	recv := newPingReceiver(t)
	f.env["BACKUP_NOTIFY_URLS"] = "generic+" + recv.URL + "/notify"
	f.env["BACKUP_NOTIFY_ON"] = "always"
	cmd, stdout, stderr := f.command("schedule", "--json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "the verify run's metrics", func() bool { _, err := os.Stat(metricsFile); return err == nil })
	var notified []pingRequest
	waitFor(t, "the verify run's notification", func() bool { notified = append(notified, recv.take()...); return len(notified) > 0 })
	if !strings.Contains(notified[0].body, "verify of all backups succeeded") || !strings.Contains(notified[0].body, "OK ") {
		t.Errorf("notification of the scheduled verify:\n%s", notified[0].body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	var r scheduleRun
	first, _, _ := strings.Cut(stdout.String(), "\n")
	if err := json.Unmarshal([]byte(first), &r); err != nil || r.Job != "verify" || !r.OK {
		t.Fatalf("first run: %q (%v)\n%s", first, err, stderr)
	}
	if !strings.Contains(stderr.String(), "restore test") && !strings.Contains(stderr.String(), "scratch") {
		t.Errorf("no restore test in the log:\n%s", stderr)
	}
}

// startSchedule starts `schedule --json` without the fixture's fixed
// BACKUP_TIMESTAMP: each run is named from its own start time, and a fixed
// timestamp would give every run the same name. The process is killed when
// the test ends.
func startSchedule(t *testing.T, f *fixture) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd, stdout, stderr := f.command("schedule", "--json")
	env := cmd.Env[:0]
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "BACKUP_TIMESTAMP=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stdout, stderr
}
