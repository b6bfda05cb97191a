package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeLegacyBackup creates a backup folder as the old backup.sh left it: a
// dump and an uploads copy, no manifest.
func makeLegacyBackup(t *testing.T, f *fixture, ts int64, withUploads bool) string {
	t.Helper()
	name := fmt.Sprintf("backup_%s_%d", time.Unix(ts, 0).UTC().Format("2006-01-02_15-04-05"), ts)
	dir := filepath.Join(f.backups, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "db_backup.sql.gz"), []byte("legacy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if withUploads {
		if out, err := exec.Command("cp", "-a", f.uploads, filepath.Join(dir, "uploads")).CombinedOutput(); err != nil {
			t.Fatalf("cp -a: %v %s", err, out)
		}
	}
	return name
}

// Step 7: retention with the original backup.sh's defaults over a folder holding
// backups of the old script, incomplete folders, leftovers and old error
// folders.
func TestPruneRetention(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Unix()
	day := int64(24 * 3600)
	old1 := makeLegacyBackup(t, f, now-30*day, false)
	old2 := makeLegacyBackup(t, f, now-10*day, false)
	recent := makeLegacyBackup(t, f, now-2*day, false)
	incomplete := fmt.Sprintf("backup_2026-01-01_00-00-00_%d", now-day)
	os.MkdirAll(filepath.Join(f.backups, incomplete, "uploads"), 0o700)
	os.MkdirAll(filepath.Join(f.backups, "temp_job-dead"), 0o700)
	os.MkdirAll(filepath.Join(f.backups, "deleting_backup_x_1"), 0o700)
	oldErr := filepath.Join(f.backups, "error_logs", "error_2026-01-01_00-00-00_job-2b1c6a4e-1d2f-4c1e-9a7b-0d3e5f6a7b8c")
	newErr := filepath.Join(f.backups, "error_logs", "error_2026-11-01_00-00-00_job-3c2d7b5f-2e3a-4d2f-8b8c-1e4f6a7b8c9d")
	notOurs := filepath.Join(f.backups, "error_logs", "error_handling_notes") // not named by this tool
	for _, d := range []string{oldErr, newErr, notOurs} {
		os.MkdirAll(d, 0o700)
	}
	past := time.Now().Add(-40 * 24 * time.Hour)
	os.Chtimes(oldErr, past, past)
	os.Chtimes(notOurs, past, past)
	unrelated := filepath.Join(f.backups, "my-notes")
	os.MkdirAll(unrelated, 0o700)

	delete(f.env, "DB_DATABASE") // prune never touches the database
	r := f.run("prune")
	if r.code != 0 {
		t.Fatalf("prune exit %d\n%s", r.code, r.stderr)
	}
	got := strings.Join(f.backupNames(), ",")
	if got != recent {
		t.Errorf("after prune: %s, want only %s", got, recent)
	}
	for _, gone := range []string{old1, old2, incomplete, "temp_job-dead", "deleting_backup_x_1"} {
		if _, err := os.Stat(filepath.Join(f.backups, gone)); !os.IsNotExist(err) {
			t.Errorf("%s not removed", gone)
		}
		if !strings.Contains(r.stderr, gone) {
			t.Errorf("removal of %s not logged", gone)
		}
	}
	if _, err := os.Stat(oldErr); !os.IsNotExist(err) {
		t.Error("error folder older than 30 days kept")
	}
	for _, kept := range []string{newErr, notOurs, unrelated} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s removed", kept)
		}
	}

	// BACKUP_RETENTION_DAYS=1: everything is expired, the newest survives.
	f.env["BACKUP_RETENTION_DAYS"] = "1"
	makeLegacyBackup(t, f, now-5*day, false)
	if r := f.run("prune"); r.code != 0 {
		t.Fatalf("prune exit %d\n%s", r.code, r.stderr)
	}
	if got := strings.Join(f.backupNames(), ","); got != recent {
		t.Errorf("newest backup not kept when all expired: %s", got)
	}

	// Count only: BACKUP_RETENTION_DAYS=0 BACKUP_RETENTION_COUNT=2 keeps the
	// newest two whatever their age.
	f.env["BACKUP_RETENTION_DAYS"] = "0"
	f.env["BACKUP_RETENTION_COUNT"] = "2"
	second := makeLegacyBackup(t, f, now-400*day, false)
	makeLegacyBackup(t, f, now-500*day, false)
	if r := f.run("prune"); r.code != 0 {
		t.Fatalf("prune exit %d\n%s", r.code, r.stderr)
	}
	if got := strings.Join(f.backupNames(), ","); got != second+","+recent {
		t.Errorf("count-only retention kept %s, want %s and %s", got, second, recent)
	}
}

// A backup made by the old script is the previous backup for hard links.
func TestLegacyBackupIsLinkedAgainst(t *testing.T) {
	f := newFixture(t)
	legacy := makeLegacyBackup(t, f, time.Now().Unix()-7200, true)
	b := f.mustBackup()
	if !sameFile(t, filepath.Join(f.backups, legacy, "uploads/sub dir/deep/x.bin"), filepath.Join(b, "uploads/sub dir/deep/x.bin")) {
		t.Error("file unchanged since the legacy backup was copied instead of linked")
	}
	m, entries := readManifest(t, b)
	if m.Uploads.Previous != legacy {
		t.Errorf("previous = %q", m.Uploads.Previous)
	}
	for _, e := range entries {
		if e.Type == "file" && len(e.SHA256) != 64 {
			t.Errorf("%s has no hash (legacy previous has no list, so it must be computed)", e.Path)
		}
	}
}

// Settings from a Directus .env file; STORAGE_LOCAL_ROOT relative to it;
// the real environment wins over the file.
func TestDotEnvFile(t *testing.T) {
	f := newFixture(t)
	for _, k := range []string{"DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USER", "DB_PASSWORD", "BACKUP_UPLOADS_DIR", "BACKUPS_DIR"} {
		delete(f.env, k)
	}
	envDir := filepath.Join(f.dir, "config")
	os.MkdirAll(envDir, 0o700)
	os.Rename(f.uploads, filepath.Join(envDir, "files"))
	envFile := fmt.Sprintf("# Directus settings\nDB_CLIENT=pg\nDB_HOST=%s\nDB_PORT=%s\nDB_DATABASE=%s\nDB_USER=%s\nDB_PASSWORD='%s'\nSTORAGE_LOCAL_ROOT=./files\nBACKUPS_DIR=%s\n",
		f.pg.Host, f.pg.Port, "wrong_database", f.user, strings.ReplaceAll(f.password, "'", ""), f.backups)
	// The password has a quote in it; give the real one through the file's
	// _FILE form instead, to exercise that too.
	pwFile := filepath.Join(envDir, "db_password")
	os.WriteFile(pwFile, []byte(f.password+"\n"), 0o600)
	envFile = strings.Replace(envFile, "DB_PASSWORD='"+strings.ReplaceAll(f.password, "'", "")+"'\n", "DB_PASSWORD_FILE=./db_password\n", 1)
	os.WriteFile(filepath.Join(envDir, "directus.env"), []byte(envFile), 0o600)
	f.env["BACKUP_ENV_FILE"] = filepath.Join(envDir, "directus.env")
	f.env["DB_DATABASE"] = f.db // the environment wins over the file

	b := f.mustBackup()
	if _, err := os.Stat(filepath.Join(b, "uploads", "a.jpg")); err != nil {
		t.Errorf("uploads not taken from STORAGE_LOCAL_ROOT relative to the .env file: %v", err)
	}
	m, _ := readManifest(t, b)
	if m.Database.Name != f.db {
		t.Errorf("dumped %q, want %q (environment over file)", m.Database.Name, f.db)
	}

	// A flag wins over both.
	if r := f.run("backup", "--db-database", "no_such_db"); r.code != exitDatabase {
		t.Errorf("flag did not win: exit %d", r.code)
	}
}

// --log-format json writes one JSON object per line; levels as fields.
func TestJSONLogs(t *testing.T) {
	f := newFixture(t)
	r := f.run("backup", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) < 3 {
		t.Fatalf("too few log lines: %q", r.stderr)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["msg"] == nil || m["level"] == nil || m["time"] == nil {
			t.Errorf("missing fields: %q", l)
		}
	}
	if !strings.Contains(r.stdout, "Backup complete") {
		t.Errorf("no summary on stdout: %q", r.stdout)
	}
}

func TestDoctor(t *testing.T) {
	f := newFixture(t)
	r := f.run("doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "All checks passed") {
		t.Fatalf("doctor on a good setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(f.backups); !os.IsNotExist(err) {
		t.Error("doctor created the backups folder")
	}
	wrong := "wr0ng-<pass>\"word"
	f.env["DB_PASSWORD"] = wrong
	f.env["BACKUP_UPLOADS_DIR"] = filepath.Join(f.dir, "missing")
	r = f.run("doctor")
	if r.code != exitDoctor {
		t.Fatalf("doctor with problems: exit %d\n%s", r.code, r.stdout)
	}
	for _, want := range []string{"FAIL  database", "FAIL  uploads folder", "fix:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "wr0ng") {
		t.Error("doctor printed the password")
	}
}

// The repository's backup.sh runs the binary with the same environment, as
// an existing crontab line does.
func TestBackupShWrapper(t *testing.T) {
	f := newFixture(t)
	wd, _ := os.Getwd()
	script := filepath.Join(wd, "..", "..", "backup.sh")
	f.env["DIRECTUS_BACKUP_BIN"] = binPath
	cmd, stdout, stderr := f.command()
	cmd.Path = "/bin/sh"
	cmd.Args = []string{"/bin/sh", "-c", "cd \"$1\" && \"$2\" >> backups.log 2>&1", "sh", f.dir, script}
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(f.dir, "backups.log"))
		t.Fatalf("backup.sh: %v\n%s%s%s", err, stdout, stderr, log)
	}
	log, _ := os.ReadFile(filepath.Join(f.dir, "backups.log"))
	if !strings.Contains(string(log), "Backup complete") {
		t.Errorf("log:\n%s", log)
	}
	if strings.Contains(string(log), "\r") || strings.Contains(string(log), "\033[") {
		t.Error("progress display written to a log file")
	}
	f.latest()
}

func TestHelpListsEnvironment(t *testing.T) {
	f := newFixture(t)
	for _, sub := range []string{"backup", "prune", "doctor"} {
		r := f.run(sub, "--help")
		if r.code != 0 {
			t.Fatalf("%s --help: exit %d", sub, r.code)
		}
		for _, want := range []string{"BACKUPS_DIR", "BACKUP_RETENTION_DAYS", "BACKUP_GZIP_LEVEL", "DB_DATABASE", "--backups-dir"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks %s", sub, want)
			}
		}
	}
	if r := f.run("backup", "--no-such-flag"); r.code != exitUsage {
		t.Errorf("unknown flag: exit %d", r.code)
	}
}

// A run whose BACKUP_TIMESTAMP is older than the retention window keeps the
// backup it just made (and backup_latest stays valid).
func TestOldFixedTimestampKeepsNewBackup(t *testing.T) {
	f := newFixture(t)
	f.mustBackup() // a newer backup, so the old-stamped one is not the newest
	cmd, _, stderr := f.command("backup")
	cmd.Env = append(cmd.Env, fmt.Sprintf("BACKUP_TIMESTAMP=%d", time.Now().Unix()-30*24*3600))
	if err := cmd.Run(); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr)
	}
	if len(f.backupNames()) != 2 {
		t.Fatalf("backups: %v", f.backupNames())
	}
	if _, err := os.Stat(filepath.Join(f.latest(), "manifest.json")); err != nil {
		t.Errorf("backup_latest: %v", err)
	}
	if !strings.Contains(stderr.String(), "kept anyway") {
		t.Errorf("no warning about the old timestamp:\n%s", stderr)
	}
}
