package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// bare is a deployment without a database: enough for the commands that
// never reach one (list, prune, restore --uploads, version).
type bare struct {
	t       *testing.T
	dir     string
	backups string
	env     []string
}

func newBare(t *testing.T) *bare {
	dir := t.TempDir()
	b := &bare{t: t, dir: dir, backups: filepath.Join(dir, "backups")}
	up := filepath.Join(dir, "uploads")
	if err := os.MkdirAll(up, 0o755); err != nil {
		t.Fatal(err)
	}
	b.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC",
		"BACKUPS_DIR=" + b.backups, "BACKUP_UPLOADS_DIR=" + up, "BACKUP_RETENTION_DAYS=7"}
	return b
}

func (b *bare) run(args ...string) result {
	b.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env, cmd.Dir = b.env, b.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			b.t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// legacy makes a backup as the old backup.sh left it (a dump, no
// manifest), daysAgo days old, and returns its name.
func (b *bare) legacy(daysAgo int) string {
	b.t.Helper()
	ts := time.Now().Add(-time.Duration(daysAgo)*24*time.Hour - time.Minute).Unix()
	name := fmt.Sprintf("backup_%s_%d", time.Unix(ts, 0).UTC().Format("2006-01-02_15-04-05"), ts)
	p := filepath.Join(b.backups, name)
	if err := os.MkdirAll(filepath.Join(p, "uploads"), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, repo.DumpGzip), []byte("not checked by prune"), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return name
}

func (b *bare) setLatest(name string) {
	b.t.Helper()
	l := filepath.Join(b.backups, repo.LatestLink)
	os.Remove(l)
	if err := os.Symlink(name, l); err != nil {
		b.t.Fatal(err)
	}
}

func TestVersionFlag(t *testing.T) {
	b := newBare(t)
	r := b.run("--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "directus-backup ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Fatalf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if v := b.run("version"); v.stdout != r.stdout {
		t.Errorf("version says %q, --version %q", v.stdout, r.stdout)
	}
	var doc struct{ Version, Go, OS, Arch string }
	j := b.run("version", "--json")
	if err := json.Unmarshal([]byte(j.stdout), &doc); err != nil || j.code != 0 || doc.Go != runtime.Version() ||
		!strings.HasPrefix(r.stdout, "directus-backup "+doc.Version+" ") {
		t.Errorf("version --json: exit %d, %v, %q (text: %q)", j.code, err, j.stdout, r.stdout)
	}
}

// list before the first backup is not an error, whether BACKUPS_DIR does
// not exist yet or is empty.
func TestListNoBackupsYet(t *testing.T) {
	b := newBare(t)
	for _, state := range []string{"missing", "empty"} {
		if state == "empty" {
			os.MkdirAll(b.backups, 0o755)
		}
		r := b.run("list")
		if r.code != 0 || !strings.Contains(r.stdout, "No backups yet") || r.stderr != "" {
			t.Errorf("%s BACKUPS_DIR: exit %d, stdout %q, stderr %q", state, r.code, r.stdout, r.stderr)
		}
		if r := b.run("list", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"backups": []`) {
			t.Errorf("%s BACKUPS_DIR, --json: exit %d, stdout %q, stderr %q", state, r.code, r.stdout, r.stderr)
		}
	}
}

// prune --dry-run lists what prune would remove and why each backup is
// kept, removes nothing, and agrees with the prune that follows.
func TestPruneDryRun(t *testing.T) {
	b := newBare(t)
	old := b.legacy(20)
	older := b.legacy(30)
	mid := b.legacy(3)
	newest := b.legacy(1)
	b.setLatest(newest)
	os.MkdirAll(filepath.Join(b.backups, "temp_job-dead"), 0o755)
	os.MkdirAll(filepath.Join(b.backups, "deleting_backup_x"), 0o755)                     // a purge cut short
	os.MkdirAll(filepath.Join(b.backups, "backup_2026-01-01_00-00-00_1767225600"), 0o755) // incomplete
	before := listDir(t, b.backups)

	r := b.run("prune", "--dry-run")
	if r.code != 0 {
		t.Fatalf("prune --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := listDir(t, b.backups); after != before {
		t.Fatalf("a dry run changed BACKUPS_DIR:\nbefore %s\nafter  %s", before, after)
	}
	for _, want := range []string{
		"would remove  " + old + " ", "would remove  " + older + " ", "older than 7 days (BACKUP_RETENTION_DAYS)",
		"would remove  backup_2026-01-01_00-00-00_1767225600 ", "incomplete",
		"would remove  temp_job-dead ", "leftover",
		"would remove  deleting_backup_x ", "not yet deleted",
		"keep          " + newest + " ", "one of the newest 1 kept whatever their age",
		"keep          " + mid + " ", "within 7 days",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}

	// backup_latest on an expired backup keeps it, and the plan says why.
	b.setLatest(old)
	r = b.run("prune", "--dry-run")
	if !strings.Contains(r.stdout, "keep          "+old+" ") || !strings.Contains(r.stdout, "backup_latest points at it") {
		t.Errorf("dry run with backup_latest on an old backup:\n%s", r.stdout)
	}

	if r := b.run("prune"); r.code != 0 {
		t.Fatalf("prune: exit %d\n%s", r.code, r.stderr)
	}
	for _, n := range []string{older, "temp_job-dead", "deleting_backup_x", "backup_2026-01-01_00-00-00_1767225600"} {
		if _, err := os.Lstat(filepath.Join(b.backups, n)); err == nil {
			t.Errorf("prune kept %s, which the dry run said it would remove", n)
		}
	}
	for _, n := range []string{old, mid, newest} {
		if _, err := os.Lstat(filepath.Join(b.backups, n)); err != nil {
			t.Errorf("prune removed %s, which the dry run said it would keep: %v", n, err)
		}
	}
	if r := b.run("prune", "--dry-run"); !strings.Contains(r.stdout, "Nothing to remove.") {
		t.Errorf("dry run after prune:\n%s", r.stdout)
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") { // lock files
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, " ")
}

// -q: a successful prune says nothing at all (cron mails nothing); a
// warning still gets through.
func TestQuietPrune(t *testing.T) {
	b := newBare(t)
	b.legacy(20)
	b.setLatest(b.legacy(1))
	if r := b.run("prune", "-q"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("prune -q: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A damaged backup is warned about even with --quiet.
	d := filepath.Join(b.backups, b.legacy(2))
	os.WriteFile(filepath.Join(d, "manifest.json"), []byte("{not json"), 0o644)
	if r := b.run("prune", "--quiet"); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "WARN") || strings.Contains(r.stderr, "INFO") {
		t.Errorf("prune --quiet with a damaged backup: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := b.run("prune"); r.code != 0 || !strings.Contains(r.stderr, "INFO") || !strings.Contains(r.stdout, "Prune:") {
		t.Errorf("prune without -q should log and print a summary: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r := b.run("prune", "-q", "-v"); r.code != exitUsage {
		t.Errorf("-q -v: exit %d, want %d", r.code, exitUsage)
	}
}

// A run refused by the lock says so once, and exits 11.
func TestLockRefusalLoggedOnce(t *testing.T) {
	b := newBare(t)
	b.setLatest(b.legacy(1))
	f, err := os.OpenFile(filepath.Join(b.backups, repo.LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	f.WriteString("pid 1 (test)\n")
	cmds := [][]string{{"prune"}, {"prune", "--dry-run"}, {"restore", "--uploads"}}
	if _, err := exec.LookPath("pg_dump"); err == nil {
		cmds = append(cmds, []string{"backup", "--db-database", "x"})
	}
	for _, args := range cmds {
		r := b.run(args...)
		if r.code != exitLocked {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitLocked, r.stderr)
		}
		if n := strings.Count(r.stderr, "another directus-backup run is using this backups folder"); n != 1 {
			t.Errorf("%v: the refusal is logged %d times, want once:\n%s", args, n, r.stderr)
		}
	}
	// With --json, the refused prune still prints its document (docs/usage.md).
	r := b.run("prune", "--json")
	var doc struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != exitLocked || doc.OK == nil || *doc.OK ||
		!strings.Contains(doc.Error, "another directus-backup run") {
		t.Errorf("prune --json under the lock: exit %d, %v, stdout %q", r.code, err, r.stdout)
	}
}

// Each command's --help lists the exit codes it can return, and only those.
func TestHelpListsOnlyItsExitCodes(t *testing.T) {
	b := newBare(t)
	for _, tc := range []struct {
		cmd       string
		want, not []string
	}{
		{"restore", []string{"  12   restore refused", "  13   restore failed", "  11   another run"}, []string{"  4    database dump", "  8    doctor"}},
		{"doctor", []string{"  8    doctor found problems"}, []string{"  12   ", "  11   "}},
		{"backup", []string{"  4    database dump failed", "  7    cleanup failed"}, []string{"  12   ", "  8    "}},
		{"list", []string{"  0    success", "  130  interrupted"}, []string{"  11   ", "  9    "}},
	} {
		r := b.run(tc.cmd, "--help")
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, "\n"+w) {
				t.Errorf("%s --help lacks %q", tc.cmd, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.stdout, "\n"+n) {
				t.Errorf("%s --help lists %q, which it never returns", tc.cmd, n)
			}
		}
	}
}

// backup -q: a successful run prints nothing at all, so cron mails nothing.
// (A directus_files row whose file is missing, or a file with no row, is a
// WARN line: the fixture's files get their rows here.)
func TestQuietBackup(t *testing.T) {
	f := newFixture(t)
	f.execAsUser(f.db, `INSERT INTO directus_files (id, filename_disk)
  SELECT gen_random_uuid(), n FROM unnest(ARRAY['a.jpg', 'a.b', 'a/b.txt', 'sub dir/ünïcødé 名.png', 'sub dir/deep/x.bin', 'link-to-a']) n`)
	r := f.run("backup", "-q")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("backup -q: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	f.latest()
	// A failure still speaks.
	r = f.run("backup", "-q", "--db-database", "no_such_db")
	if r.code != exitDatabase || !strings.Contains(r.stderr, "ERROR") {
		t.Errorf("failed backup -q: exit %d, stderr %q", r.code, r.stderr)
	}
}

// backup --retention-dry-run makes the backup but removes nothing: the
// summary (and --json's cleanup) says what retention would remove and why
// each backup is kept; a plain backup then removes just that.
func TestBackupRetentionDryRun(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Unix()
	const day = 86400
	f.env["BACKUP_RETENTION_DAYS"] = "7"
	f.env["BACKUP_RETENTION_COUNT"] = "1"
	old := makeLegacyBackup(t, f, now-30*day, false)
	before := f.backupNames()

	r := f.run("backup", "--retention-dry-run")
	if r.code != 0 {
		t.Fatalf("backup --retention-dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	made := filepath.Base(f.latest())
	if got, want := strings.Join(f.backupNames(), ","), strings.Join(append(before, made), ","); got != want {
		t.Errorf("backups after the dry run: %s, want %s (the new one added, nothing removed)", got, want)
	}
	for _, want := range []string{"dry run: nothing was removed", "would remove  " + old + " ", "older than 7 days", "keep          " + made + " "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}

	r = f.run("backup", "--retention-dry-run", "--json")
	var doc struct {
		Cleanup struct {
			DryRun  bool     `json:"dry_run"`
			Expired []string `json:"expired"`
		} `json:"cleanup"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("backup --retention-dry-run --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if !doc.Cleanup.DryRun || strings.Join(doc.Cleanup.Expired, ",") != old {
		t.Errorf("JSON cleanup %+v: want dry_run and %s expired", doc.Cleanup, old)
	}
	if _, err := os.Stat(filepath.Join(f.backups, old)); err != nil {
		t.Fatalf("the dry run removed %s: %v", old, err)
	}

	if r := f.run("backup"); r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(f.backups, old)); err == nil {
		t.Errorf("a plain backup kept %s, which the dry run said it would remove", old)
	}
}
