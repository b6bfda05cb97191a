package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/listing"
)

// stopWhenReading waits until process pid has a file under prefix open,
// then stops it (SIGSTOP): a reader held mid-read, deterministically.
func stopWhenReading(t *testing.T, pid int, prefix string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	for time.Now().Before(deadline) {
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			t.Fatalf("reader exited before it read %s: %v", prefix, err)
		}
		for _, e := range ents {
			if l, _ := os.Readlink(filepath.Join(fdDir, e.Name())); strings.HasPrefix(l, prefix) {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("reader never opened anything under %s", prefix)
}

// waitTimeout waits for cmd, killing it (and failing) when it hangs.
func waitTimeout(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%v hangs (killed after %s)", cmd.Args[1:], d)
		return -1
	}
}

// runTimeout is f.run with a deadline: a FIFO must never hang a command.
func (f *fixture) runTimeout(args ...string) result {
	f.t.Helper()
	cmd, stdout, stderr := f.command(args...)
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	code := waitTimeout(f.t, cmd, 60*time.Second)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (f *fixture) deleting() []string {
	ents, _ := os.ReadDir(f.backups)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "deleting_") {
			out = append(out, e.Name())
		}
	}
	return out
}

// Issue 7, section 2: a verify --all held mid-read while a prune retires
// backups. The prune is not held up, verify exits 0 and says REMOVED for
// the backups that went (text and JSON), the retired folders stay until
// the readers are gone, and the next prune deletes them.
func TestVerifyWhilePruneRemoves(t *testing.T) {
	f := newFixture(t)
	// A file big enough that verify is still hashing it when stopped.
	big := make([]byte, 32<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(f.uploads, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	oldest := filepath.Base(f.mustBackup())
	middle := filepath.Base(f.mustBackup())
	newest := filepath.Base(f.mustBackup())

	text, textOut, textErr := f.command("verify", "--all")
	js, jsOut, _ := f.command("verify", "--all", "--json")
	for _, c := range []*exec.Cmd{text, js} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// Stopped while reading the middle backup, the newest already done.
		stopWhenReading(t, c.Process.Pid, filepath.Join(f.backups, middle)+"/")
	}

	f.env["BACKUP_RETENTION_DAYS"] = "0"
	f.env["BACKUP_RETENTION_COUNT"] = "1"
	start := time.Now()
	r := f.runTimeout("prune")
	if r.code != 0 {
		t.Fatalf("prune while verify reads: exit %d\n%s", r.code, r.stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("prune waited for the readers (%s)", d)
	}
	if !strings.Contains(r.stderr, "left for the next run") {
		t.Errorf("prune does not say it left the retired folders:\n%s", r.stderr)
	}
	if got := f.deleting(); len(got) != 2 {
		t.Fatalf("retired folders while readers read: %v; want both left on disk", got)
	}

	for _, c := range []*exec.Cmd{text, js} {
		syscall.Kill(c.Process.Pid, syscall.SIGCONT)
	}
	if code := waitTimeout(t, text, 120*time.Second); code != 0 {
		t.Errorf("verify --all: exit %d, want 0\n%s\n%s", code, textOut, textErr)
	}
	for _, n := range []string{oldest, middle} {
		if !strings.Contains(textOut.String(), "REMOVED  "+n) {
			t.Errorf("verify does not say %s was REMOVED:\n%s", n, textOut)
		}
	}
	if !strings.Contains(textOut.String(), "OK       "+newest) || strings.Contains(textOut.String(), "PROBLEMS") {
		t.Errorf("verify output:\n%s", textOut)
	}
	if code := waitTimeout(t, js, 120*time.Second); code != 0 {
		t.Errorf("verify --all --json: exit %d, want 0\n%s", code, jsOut)
	}
	var out struct {
		Backups []struct {
			Backup   string
			OK       bool
			Removed  bool
			Problems []any
		}
		OK bool
	}
	if err := json.Unmarshal(jsOut.Bytes(), &out); err != nil {
		t.Fatalf("JSON: %v\n%s", err, jsOut)
	}
	removed := map[string]bool{}
	for _, b := range out.Backups {
		if b.Removed {
			removed[b.Backup] = true
		}
		if len(b.Problems) > 0 {
			t.Errorf("JSON: problems reported for %s: %v", b.Backup, b.Problems)
		}
	}
	if !out.OK || !removed[oldest] || !removed[middle] || removed[newest] {
		t.Errorf("JSON: ok %v, removed %v; want ok and %s, %s removed\n%s", out.OK, removed, oldest, middle, jsOut)
	}

	// The readers are gone: the next prune deletes what was retired.
	if r := f.runTimeout("prune"); r.code != 0 || len(f.deleting()) != 0 {
		t.Errorf("second prune: exit %d, left %v\n%s", r.code, f.deleting(), r.stderr)
	}
}

// Issue 7, section 4: lock files planted in BACKUPS_DIR are refused with
// a message naming them, and never written through.
func TestPlantedLockFiles(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	outside := t.TempDir()
	victim := filepath.Join(outside, "shadow")
	if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plant := func(name string, mk func(string) error) string {
		p := filepath.Join(f.backups, name)
		os.Remove(p)
		if err := mk(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	intact := func(what string) {
		if data, _ := os.ReadFile(victim); string(data) != "root:secret\n" {
			t.Fatalf("%s: the file outside BACKUPS_DIR was changed: %q", what, data)
		}
	}

	// Run lock as a symlink to a file outside: backup, prune and restore refuse.
	p := plant(".directus-backup.lock", func(p string) error { return os.Symlink(victim, p) })
	for _, args := range [][]string{{"backup"}, {"prune"}, {"restore", "--uploads", "--target-dir", filepath.Join(f.dir, "r")}} {
		r := f.runTimeout(args...)
		if r.code == 0 || !strings.Contains(r.stderr, p) || !strings.Contains(r.stderr, "symlink") || !strings.Contains(r.stderr, "remove it") {
			t.Errorf("%v with a symlinked run lock: exit %d\n%s", args, r.code, r.stderr)
		}
		intact(fmt.Sprint(args))
	}
	os.Remove(p)

	// Purge lock as a dangling symlink: nothing is created at its target.
	nologin := filepath.Join(outside, "nologin")
	p = plant(".directus-backup-purge.lock", func(p string) error { return os.Symlink(nologin, p) })
	r := f.runTimeout("prune")
	if !strings.Contains(r.stderr, p) || !strings.Contains(r.stderr, "symlink") {
		t.Errorf("prune with a dangling purge lock: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Lstat(nologin); err == nil {
		t.Fatal("a file was created at the target of the dangling purge lock")
	}
	os.Remove(p)

	// Readers lock as a FIFO: verify and list say so at once, no hang.
	p = plant(".directus-backup-readers.lock", func(p string) error { return syscall.Mkfifo(p, 0o600) })
	if r := f.runTimeout("doctor"); r.code != exitDoctor || !strings.Contains(r.stdout, p) || !strings.Contains(r.stdout, "FIFO") {
		t.Errorf("doctor with a FIFO readers lock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"verify"}, {"list"}} {
		r := f.runTimeout(args...)
		if r.code == 0 || !strings.Contains(r.stderr, p) || !strings.Contains(r.stderr, "FIFO") {
			t.Errorf("%v with a FIFO readers lock: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	os.Remove(p)
	if r := f.runTimeout("verify"); r.code != 0 {
		t.Errorf("verify after the lock was removed: exit %d\n%s", r.code, r.stderr)
	}
}

// Issue 7, section 4: a FIFO in place of the latest backup's manifest,
// dump or file list hangs no command; each says what it found.
func TestFIFOsInBackup(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	latest := f.mustBackup()
	name := filepath.Base(latest)
	for _, file := range []string{"manifest.json", "db_backup.sql.gz", "manifest.files.jsonl"} {
		t.Run(file, func(t *testing.T) {
			parent := f.t
			f.t = t // the fixture's helpers fail this case, not the parent
			defer func() { f.t = parent }()
			p := filepath.Join(latest, file)
			saved := p + ".saved"
			if err := os.Rename(p, saved); err != nil {
				t.Fatal(err)
			}
			defer os.Rename(saved, p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(p)

			r := f.runTimeout("verify", "--all")
			if r.code != exitProblems || !strings.Contains(r.stdout, "FIFO") || !strings.Contains(r.stdout, name) {
				t.Errorf("verify --all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = f.runTimeout("verify", name)
			if r.code != exitProblems || !strings.Contains(r.stdout, "FIFO") {
				t.Errorf("verify %s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
			}
			r = f.runTimeout("restore", "--uploads", "--target-dir", filepath.Join(t.TempDir(), "r"), name)
			if r.code == 0 || !strings.Contains(r.stderr, "FIFO") {
				t.Errorf("restore %s: exit %d\n%s", name, r.code, r.stderr)
			}
			r = f.runTimeout("list", "--json")
			var l listing.Report
			if err := json.Unmarshal([]byte(r.stdout), &l); r.code != 0 || err != nil {
				t.Fatalf("list: exit %d, %v\n%s", r.code, err, r.stderr)
			}
			for _, b := range l.Backups {
				if b.Name == name && (b.State != "damaged" || !strings.Contains(b.Problem, "FIFO")) {
					t.Errorf("list: %s is %s (%q); want damaged, naming the FIFO", name, b.State, b.Problem)
				}
			}
			before := f.backupNames()
			r = f.runTimeout("backup")
			if r.code != 0 {
				t.Fatalf("backup after a FIFO in the latest backup: exit %d\n%s", r.code, r.stderr)
			}
			if file != "manifest.json" { // else the old manifest is damaged, not the new one
				var m struct {
					Uploads struct{ Previous string }
				}
				data, _ := os.ReadFile(filepath.Join(f.latest(), "manifest.json"))
				if err := json.Unmarshal(data, &m); err != nil || m.Uploads.Previous == name {
					t.Errorf("new backup: manifest %v, previous %q; must not link against the damaged %s", err, m.Uploads.Previous, name)
				}
			}
			// Put the latest back for the next case: remove what this made.
			for _, n := range f.backupNames() {
				if !contains(before, n) {
					os.RemoveAll(filepath.Join(f.backups, n))
				}
			}
			if err := os.Remove(filepath.Join(f.backups, "backup_latest")); err != nil {
				t.Fatal(err)
			}
			os.Symlink(name, filepath.Join(f.backups, "backup_latest"))
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A reader that has to wait for the removal of a retired backup says so
// after about a second, and then reads.
func TestReaderSaysItWaitsForRemoval(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	// Held as a purge holds it while it deletes a folder.
	lf, err := os.OpenFile(filepath.Join(f.backups, ".directus-backup-readers.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(2 * time.Second); lf.Close() }()
	r := f.runTimeout("verify")
	if r.code != 0 || !strings.Contains(r.stderr, "waiting for the removal of retired backups") {
		t.Errorf("verify while a folder is being removed: exit %d; want 0 and the wait said\n%s", r.code, r.stderr)
	}
}
