package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// readEnvFile reads the KEY=VALUE lines a hook wrote with env.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hook did not run: %v", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// A before-command that exits 3 stops the run with exit code 15 before any
// work: no temp folder, no backup, no error folder; its output is in the log.
func TestBeforeCommandFailureStopsRun(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_BEFORE_COMMAND"] = `echo "stopping the app"; echo "app refused" >&2; exit 3`
	r := f.run("backup")
	if r.code != exitcode.Before {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitcode.Before, r.stderr)
	}
	for _, want := range []string{"before-command: stopping the app", "before-command: app refused", "exited with status 3"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, r.stderr)
		}
	}
	ents, _ := os.ReadDir(f.backups)
	for _, e := range ents {
		t.Errorf("backups folder not empty after a failed before-command: %s", e.Name())
	}

	// The flag works too, and a succeeding before-command lets the run go on.
	f.env["BACKUP_BEFORE_COMMAND"] = ""
	marker := filepath.Join(f.dir, "before-ran")
	r = f.run("backup", "--before-command", "touch "+marker)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("before-command from the flag did not run: %v", err)
	}
	if len(f.backupNames()) != 1 {
		t.Errorf("backups: %v", f.backupNames())
	}
}

// The after-command sees the outcome: success with the backup's name and
// path, then failure with the failed step and exit code; a failing
// after-command is a warning and leaves the exit code alone.
func TestAfterCommandSeesOutcome(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "after.env")
	f.env["HOOK_OUT"] = out
	f.env["BACKUP_AFTER_COMMAND"] = `env > "$HOOK_OUT"; exit 7`
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("a failing after-command changed the exit code to %d\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "WARN") || !strings.Contains(r.stderr, "after-command exited with status 7") {
		t.Errorf("no warning for the failing after-command:\n%s", r.stderr)
	}
	latest := f.latest()
	env := readEnvFile(t, out)
	want := map[string]string{
		"BACKUP_RESULT": "success", "BACKUP_EXIT_CODE": "0", "BACKUP_NAME": filepath.Base(latest),
		"BACKUP_PATH": latest, "BACKUP_FAILED_STEP": "", "BACKUP_ERROR": "",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("success: %s=%q (set: %v), want %q", k, got, ok, v)
		}
	}

	os.Remove(out)
	f.env["DB_PORT"] = closedPort(t)
	r = f.run("backup")
	if r.code != exitDatabase {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitDatabase, r.stderr)
	}
	env = readEnvFile(t, out)
	if env["BACKUP_RESULT"] != "failure" || env["BACKUP_FAILED_STEP"] != "database" ||
		env["BACKUP_EXIT_CODE"] != strconv.Itoa(exitDatabase) || env["BACKUP_ERROR"] == "" {
		t.Errorf("failure outcome: RESULT=%q STEP=%q CODE=%q ERROR=%q",
			env["BACKUP_RESULT"], env["BACKUP_FAILED_STEP"], env["BACKUP_EXIT_CODE"], env["BACKUP_ERROR"])
	}
}

// DB_PASSWORD read from the .env file is not passed to the hooks; one that
// is in the real environment is, but never shows in the log.
func TestHookEnvironmentSecrets(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "DB_PASSWORD")
	// A password without quotes or $, so the .env line needs no escaping.
	f.password = "EnvFilePw-" + strconv.FormatInt(f.ts, 10) + "-x9"
	f.pg.MustExec(t, "postgres", "ALTER ROLE \""+f.user+"\" PASSWORD '"+f.password+"'")
	envFile := "DB_PASSWORD=" + f.password + "\n"
	if err := os.WriteFile(filepath.Join(f.dir, ".env"), []byte(envFile), 0o600); err != nil {
		t.Fatal(err)
	}
	before, after := filepath.Join(f.dir, "before.env"), filepath.Join(f.dir, "after.env")
	f.env["BACKUP_BEFORE_COMMAND"] = "env > " + before
	f.env["BACKUP_AFTER_COMMAND"] = "env > " + after
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("exit %d (the .env password was not read?)\nstderr:\n%s", r.code, r.stderr)
	}
	for _, p := range []string{before, after} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "DB_PASSWORD") || strings.Contains(string(data), f.password) {
			t.Errorf("%s: the .env password reached the hook", filepath.Base(p))
		}
	}

	// From the real environment it is passed on, and redacted in the log.
	os.Remove(filepath.Join(f.dir, ".env"))
	f.env["DB_PASSWORD"] = f.password
	f.env["BACKUP_AFTER_COMMAND"] = `echo "pw=$DB_PASSWORD"`
	r = f.run("backup")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, f.password) {
		t.Errorf("password in the log:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "after-command: pw=") {
		t.Errorf("hook output not logged:\n%s", r.stderr)
	}
}
