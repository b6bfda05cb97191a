package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/pgclient"
)

// assertFailedCleanly checks the promises of step 8 after a failed run:
// the exit code, an error folder with the failed step, no new backup_*,
// no temp_ folder, and the earlier backup and backup_latest untouched.
func assertFailedCleanly(t *testing.T, f *fixture, r result, wantCode int, wantStep string, before []string, latestBefore string) string {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, wantCode, r.stderr)
	}
	if !strings.Contains(r.stderr, "ERROR:") {
		t.Errorf("no ERROR: line in the log:\n%s", r.stderr)
	}
	if got := f.backupNames(); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("backups after failure %v, before %v", got, before)
	}
	ents, _ := os.ReadDir(f.backups)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "temp_") {
			t.Errorf("temporary folder left behind: %s", e.Name())
		}
	}
	if latestBefore != "" {
		if target, _ := os.Readlink(filepath.Join(f.backups, "backup_latest")); target != latestBefore {
			t.Errorf("backup_latest -> %q, was %q", target, latestBefore)
		}
		if _, err := os.Stat(filepath.Join(f.backups, latestBefore, "manifest.json")); err != nil {
			t.Errorf("earlier backup damaged: %v", err)
		}
	}
	dirs := f.errorDirs()
	if len(dirs) != 1 {
		t.Fatalf("error folders: %v", dirs)
	}
	errTxt, err := os.ReadFile(filepath.Join(dirs[0], "error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(errTxt), "step: "+wantStep) {
		t.Errorf("error.txt does not name step %s:\n%s", wantStep, errTxt)
	}
	for _, n := range []string{"job.log", "environment.txt"} {
		if _, err := os.Stat(filepath.Join(dirs[0], n)); err != nil {
			t.Errorf("error folder lacks %s", n)
		}
	}
	return dirs[0]
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprint(port)
}

func TestDatabaseDown(t *testing.T) {
	f := newFixture(t)
	latest := filepath.Base(f.mustBackup())
	before := f.backupNames()
	f.env["DB_PORT"] = closedPort(t)
	r := f.run("backup")
	dir := assertFailedCleanly(t, f, r, exitDatabase, "database", before, latest)
	stderr, err := os.ReadFile(filepath.Join(dir, "pg_dump.stderr"))
	if err != nil || !strings.Contains(string(stderr), "connection") {
		t.Errorf("pg_dump.stderr = %q, %v", stderr, err)
	}
}

func TestPgDumpMissing(t *testing.T) {
	f := newFixture(t)
	empty := t.TempDir()
	f.path = empty // no pg_dump anywhere
	f.env[pgclient.SearchRootsEnv] = empty
	r := f.run("backup")
	assertFailedCleanly(t, f, r, exitInit, "init", nil, "")
	if !strings.Contains(r.stderr, "pg_dump") || !strings.Contains(r.stderr, "not found") {
		t.Errorf("log does not say pg_dump is missing:\n%s", r.stderr)
	}
}

// An unwritable backups folder: as root (CI) permissions do not stop us,
// so the folder is made immutable with chattr +i instead.
func TestUnwritableBackupsFolder(t *testing.T) {
	f := newFixture(t)
	latest := filepath.Base(f.mustBackup())
	before := f.backupNames()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", f.backups).CombinedOutput(); err != nil {
			if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
				t.Fatalf("chattr +i: %v %s", err, out) // scripts/test.sh promises no skips
			}
			t.Skipf("chattr +i not available here: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", f.backups).Run() })
	} else {
		os.Chmod(f.backups, 0o500)
		t.Cleanup(func() { os.Chmod(f.backups, 0o700) })
	}
	r := f.run("backup")
	assertFailedCleanly(t, f, r, exitInit, "init", before, latest)
}

// A fake pg_dump that waits before running the real one, so a test can act
// while a backup is in progress. It also records its arguments.
func slowPgDump(t *testing.T, f *fixture, delay string) {
	t.Helper()
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	// --version (init's check of the pg_dump to use) is answered at once.
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = --version ] && exec %q --version\necho \"$@\" >> %q\nsleep %s\nexec %q \"$@\"\n",
		real, filepath.Join(f.dir, "pg_dump-argv.log"), delay, real)
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f.path = bin + ":" + os.Getenv("PATH")
}

// waitFor polls until cond is true or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasTemp(f *fixture) bool {
	ents, _ := os.ReadDir(f.backups)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "temp_") {
			return true
		}
	}
	return false
}

// Step 1: a second run against the same BACKUPS_DIR exits at once with its
// own code while the first carries on.
func TestConcurrentRunRefused(t *testing.T) {
	f := newFixture(t)
	slowPgDump(t, f, "2")
	first, _, firstErr := f.command("backup")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first run's temp folder", func() bool { return hasTemp(f) })

	start := time.Now()
	r := f.run("backup")
	if r.code != exitLocked {
		t.Errorf("second run: exit %d, want %d\n%s", r.code, exitLocked, r.stderr)
	}
	if !strings.Contains(r.stderr, "another directus-backup run") {
		t.Errorf("second run does not say why:\n%s", r.stderr)
	}
	if time.Since(start) > 1500*time.Millisecond {
		t.Errorf("second run waited %v instead of exiting at once", time.Since(start))
	}
	if len(f.errorDirs()) != 0 {
		t.Errorf("a refused run wrote an error folder: %v", f.errorDirs())
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run failed: %v\n%s", err, firstErr)
	}
	if len(f.backupNames()) != 1 {
		t.Errorf("backups: %v", f.backupNames())
	}
}

// A run killed with SIGKILL mid-way leaves a temp folder; the next run
// removes it and succeeds.
func TestKilledRunCleanedUpByNext(t *testing.T) {
	f := newFixture(t)
	slowPgDump(t, f, "30")
	cmd, _, _ := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "temp folder", func() bool { return hasTemp(f) })
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group, pg_dump too
	cmd.Wait()
	if !hasTemp(f) {
		t.Fatal("expected the killed run to leave its temp folder")
	}
	if len(f.backupNames()) != 0 {
		t.Fatalf("killed run left a backup: %v", f.backupNames())
	}

	slowPgDump(t, f, "0")
	b := f.mustBackup()
	if hasTemp(f) {
		t.Error("next run did not remove the dead run's temp folder")
	}
	if _, err := os.Stat(filepath.Join(b, "manifest.json")); err != nil {
		t.Error(err)
	}
}

// SIGTERM stops the run cleanly: exit 130, error folder, nothing partial.
func TestInterrupted(t *testing.T) {
	f := newFixture(t)
	slowPgDump(t, f, "30")
	cmd, _, stderr := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "temp folder", func() bool { return hasTemp(f) })
	time.Sleep(200 * time.Millisecond) // let pg_dump start
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %v to stop", time.Since(start))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	assertFailedCleanly(t, f, result{code: code, stderr: stderr.String()}, exitInterrupted, "database", nil, "")
}

// Secrets: not in any file written, not in the log, not on a command line
// that ps shows, and no file readable by others.
func TestSecretsNeverLeak(t *testing.T) {
	f := newFixture(t)
	f.env["SOME_API_TOKEN"] = "tok-" + f.password
	f.env["DATABASE_URL"] = "postgres://" + f.user + ":" + f.password + "@localhost/db"
	slowPgDump(t, f, "1")

	// While the dump runs, look at every process's command line.
	cmd, stdout, stderr := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "temp folder", func() bool { return hasTemp(f) })
	time.Sleep(300 * time.Millisecond)
	ps, err := exec.Command("ps", "-eo", "args").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if strings.Contains(string(ps), f.password) {
		t.Errorf("password visible in ps output")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr)
	}
	// A failed run too, to get an error folder with the environment.
	f.env["DB_PORT"] = closedPort(t)
	r := f.run("backup")
	if r.code != exitDatabase {
		t.Fatalf("exit %d", r.code)
	}
	for _, out := range []string{stdout.String(), stderr.String(), r.stdout, r.stderr} {
		if strings.Contains(out, f.password) {
			t.Errorf("password in output:\n%s", out)
		}
	}
	env, _ := os.ReadFile(filepath.Join(f.errorDirs()[0], "environment.txt"))
	if !strings.Contains(string(env), "DB_PASSWORD=") || !strings.Contains(string(env), "DB_DATABASE="+f.db) {
		t.Errorf("environment.txt lacks the settings:\n%s", env)
	}
	filepath.WalkDir(f.backups, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fi, _ := d.Info()
		rel, _ := filepath.Rel(f.backups, p)
		if !strings.Contains(rel, "uploads") && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: readable by others", rel, fi.Mode().Perm())
		}
		if d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), f.password) {
			t.Errorf("password found in %s", rel)
		}
		return nil
	})
}

// Invalid settings are rejected before any work: nothing is created.
func TestInvalidSettingsRejected(t *testing.T) {
	cases := map[string]string{
		"BACKUP_GZIP_LEVEL":                "10",
		"BACKUP_RETENTION_DAYS":            "-1",
		"BACKUP_RETENTION_COUNT":           "x",
		"BACKUP_TIMESTAMP":                 "yesterday",
		"BACKUP_FORMATTED_DATE":            "../../etc",
		"BACKUP_ERROR_LOGS_RETENTION_DAYS": "abc",
		"DB_CLIENT":                        "mysql",
	}
	f := newFixture(t)
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			env := f.env
			f.env = map[string]string{}
			for k, v := range env {
				f.env[k] = v
			}
			f.env[name] = value
			cmd, _, stderr := f.command("backup")
			delete(f.env, name)
			cmd.Env = append(cmd.Env, name+"="+value) // overrides the fresh timestamp too
			err := cmd.Run()
			f.env = env
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != exitUsage {
				t.Fatalf("exit %v, want %d\n%s", err, exitUsage, stderr)
			}
			if !strings.Contains(stderr.String(), name) {
				t.Errorf("message does not name %s:\n%s", name, stderr)
			}
			if _, err := os.Stat(f.backups); !os.IsNotExist(err) {
				t.Errorf("backups folder created despite invalid settings")
			}
		})
	}
}

// fakePgDump puts a pg_dump on PATH that runs body (a shell snippet, with
// $REAL the real pg_dump) instead.
func fakePgDump(t *testing.T, f *fixture, body string) {
	t.Helper()
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/bash\nREAL=%q\n%s\n", real, body)
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f.path = bin + ":" + os.Getenv("PATH")
}

// Step 2: pg_dump exiting 0 is not enough; an empty dump or one cut short
// (no completion line) fails the run and leaves no backup.
func TestEmptyOrTruncatedDumpFails(t *testing.T) {
	for name, body := range map[string]string{
		"empty":     "exit 0",
		"truncated": `"$REAL" "$@" | head -c 20000; exit 0`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			latest := filepath.Base(f.mustBackup())
			before := f.backupNames()
			fakePgDump(t, f, body)
			r := f.run("backup")
			assertFailedCleanly(t, f, r, exitDatabase, "database", before, latest)
			if !strings.Contains(r.stderr, "pg_dump wrote nothing") && !strings.Contains(r.stderr, "completion line") {
				t.Errorf("log does not say why:\n%s", r.stderr)
			}
		})
	}
}

// A pg_dump that prints the password (as a driver error might) must not get
// it into the log, the error folder or the output, however it is quoted.
func TestSecretInToolOutputIsScrubbed(t *testing.T) {
	f := newFixture(t)
	f.password = `Pw"<&>'x` + testpgSuffix(t)
	f.pg.MustExec(t, "postgres", `ALTER ROLE "`+f.user+`" PASSWORD '`+strings.ReplaceAll(f.password, "'", "''")+`'`)
	f.env["DB_PASSWORD"] = f.password
	fakePgDump(t, f, `echo "pg_dump: error: password \"$PGPASSWORD\" rejected" >&2; exit 1`)
	r := f.run("backup")
	if r.code != exitDatabase {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "[REDACTED]") {
		t.Errorf("the password was not where the test expects it:\n%s", r.stderr)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, "<&>") {
			t.Errorf("password in output:\n%s", out)
		}
	}
	filepath.WalkDir(f.backups, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), "<&>") {
				t.Errorf("password in %s:\n%s", p, data)
			}
		}
		return nil
	})
	f.run("backup", "--log-format", "json")
	if r := f.run("backup", "--log-format", "json"); strings.Contains(r.stderr, "<&>") || strings.Contains(r.stderr, `\u003c&\u003e`) {
		t.Errorf("password in JSON log:\n%s", r.stderr)
	}
}

func testpgSuffix(t *testing.T) string { return fmt.Sprint(time.Now().UnixNano() % 100000) }

// Backups keep the modes of the uploads folders. As a non-root user a
// read-only folder (0555) must not make old backups impossible to remove,
// nor block every later run. Runs the binary as nobody (needs root).
func TestReadOnlyUploadFolderAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as another user")
	}
	f := newFixture(t)
	ro := filepath.Join(f.uploads, "ro")
	os.MkdirAll(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "f.txt"), []byte("locked in"), 0o644)
	os.Chmod(ro, 0o555)
	os.Chmod(filepath.Dir(f.dir), 0o711) // let nobody reach the fixture
	const nobody = 65534
	filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, nobody, nobody)
		}
		return nil
	})
	f.env["BACKUP_RETENTION_DAYS"] = "0"
	f.env["BACKUP_RETENTION_COUNT"] = "1"
	for i := 0; i < 3; i++ {
		cmd, stdout, stderr := f.command("backup")
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d as nobody: %v\n%s%s", i+1, err, stdout, stderr)
		}
	}
	if got := f.backupNames(); len(got) != 1 {
		t.Errorf("backups after three runs with count 1: %v", got)
	}
	ents, _ := os.ReadDir(f.backups)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "deleting_") || strings.HasPrefix(e.Name(), "temp_") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if fi, err := os.Stat(filepath.Join(f.latest(), "uploads", "ro")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("read-only folder in the backup: %v %v", fi.Mode().Perm(), err)
	}
}

// backup_latest cannot be switched (someone made it a folder): the backup
// itself is complete and kept, the run says so with exit 6 and no summary.
func TestLatestLinkCannotBeSwitched(t *testing.T) {
	f := newFixture(t)
	os.MkdirAll(filepath.Join(f.backups, "backup_latest", "something"), 0o700)
	r := f.run("backup")
	if r.code != exitFinalize {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitFinalize, r.stderr)
	}
	if strings.Contains(r.stdout, "Backup complete") {
		t.Errorf("summary printed although backup_latest was not switched:\n%s", r.stdout)
	}
	names := f.backupNames()
	var made []string
	for _, n := range names {
		if n != "backup_latest" {
			made = append(made, n)
		}
	}
	if len(made) != 1 {
		t.Fatalf("backups: %v", names)
	}
	if _, err := os.Stat(filepath.Join(f.backups, made[0], "manifest.json")); err != nil {
		t.Errorf("the complete backup was not kept: %v", err)
	}
	if len(f.errorDirs()) != 1 {
		t.Errorf("error folders: %v", f.errorDirs())
	}
}
