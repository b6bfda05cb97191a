package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/pgclient"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// serverMajor is the test server's major version, asked the way init asks.
func serverMajor(t *testing.T, f *fixture) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(f.pg.MustExec(t, "postgres", "SHOW server_version_num")))
	if err != nil {
		t.Fatal(err)
	}
	return n / 10000
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// A pg_dump older than the server is refused in the init step, before any
// work, with the version needed and how to get it; a matching one in a
// standard install location (under an injected root) is then found and
// used, with the psql beside it, and the backup succeeds.
func TestPgDumpMatchedToServer(t *testing.T) {
	f := newFixture(t)
	major := serverMajor(t, f)
	realDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	realPsql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal(err)
	}
	// On PATH: a pg_dump three majors older than the server, which
	// would fail the dump the way the real one does.
	old := major - 3
	bin := t.TempDir()
	writeScript(t, filepath.Join(bin, "pg_dump"), fmt.Sprintf(`[ "$1" = --version ] && { echo "pg_dump (PostgreSQL) %d.22"; exit 0; }
echo "pg_dump: error: aborting because of server version mismatch" >&2; exit 1`, old))
	f.path = bin + ":" + os.Getenv("PATH")
	root := t.TempDir()
	f.env[pgclient.SearchRootsEnv] = root

	r := f.run("backup")
	assertFailedCleanly(t, f, r, exitInit, "init", nil, "")
	for _, want := range []string{
		fmt.Sprintf("needs pg_dump %d or newer", major),
		fmt.Sprintf("found only %s (%d.22)", filepath.Join(bin, "pg_dump"), old),
		fmt.Sprintf("apt-get install postgresql-client-%d", major),
		"BACKUP_DB_METHOD=docker",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "dumping database") {
		t.Errorf("the dump was started:\n%s", r.stderr)
	}
	if r := f.run("doctor"); r.code != exitcode.Doctor || !strings.Contains(r.stdout, fmt.Sprintf("needs pg_dump %d or newer", major)) {
		t.Errorf("doctor exit %d, does not report the old pg_dump:\n%s", r.code, r.stdout)
	}
	os.RemoveAll(filepath.Join(f.backups, "error_logs"))

	// In the standard locations: the server's major (a wrapper around the
	// real programs, logging each call) and a newer one that must not be
	// picked over it (the lowest that is new enough wins).
	calls := filepath.Join(f.dir, "calls.log")
	match := filepath.Join(root, "usr/lib/postgresql", strconv.Itoa(major), "bin")
	writeScript(t, filepath.Join(match, "pg_dump"), fmt.Sprintf(`echo "pg_dump $1" >> %q; exec %q "$@"`, calls, realDump))
	writeScript(t, filepath.Join(match, "psql"), fmt.Sprintf(`echo "psql" >> %q; exec %q "$@"`, calls, realPsql))
	newer := filepath.Join(root, "usr/pgsql-"+strconv.Itoa(major+2), "bin")
	writeScript(t, filepath.Join(newer, "pg_dump"), fmt.Sprintf(`[ "$1" = --version ] && { echo "pg_dump (PostgreSQL) %d.1"; exit 0; }; exit 1`, major+2))
	writeScript(t, filepath.Join(newer, "psql"), "exit 1")

	f.env["BACKUP_VERIFY"] = "restore" // the restore test runs psql too
	r = f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup with a matching pg_dump in a standard location: exit %d\n%s", r.code, r.stderr)
	}
	if want := "using pg_dump " + filepath.Join(match, "pg_dump"); !strings.Contains(r.stderr, want) {
		t.Errorf("the log does not say %q:\n%s", want, r.stderr)
	}
	log, _ := os.ReadFile(calls)
	for _, want := range []string{"pg_dump --version", "pg_dump --format=plain", "psql"} {
		if !strings.Contains(string(log), want+"\n") {
			t.Errorf("the matching programs were not run (%q missing):\n%s", want, log)
		}
	}

	// restore runs the psql that goes with it.
	os.Remove(calls)
	if r := f.run("restore", "--db", "--target-db", f.db+"_restored", "--create"); r.code != 0 {
		t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
	}
	if log, _ := os.ReadFile(calls); !strings.Contains(string(log), "psql\n") {
		t.Errorf("restore did not run the matching psql:\n%s", log)
	}

	// doctor names the same pg_dump.
	r = f.run("doctor")
	if !strings.Contains(r.stdout, "pg_dump version") || !strings.Contains(r.stdout, filepath.Join(match, "pg_dump")) {
		t.Errorf("doctor does not report the pg_dump used:\n%s", r.stdout)
	}
}

// BACKUP_MIN_FREE refuses a run before any work when BACKUPS_DIR's free
// space, less the need estimated from the last backup, is below it. A
// small tmpfs gives exact figures.
func TestMinFreeRefusesBeforeWork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	f := newFixture(t)
	data := filepath.Join(f.dir, "directus", "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", data).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
	free := func() int64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(f.backups, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Bavail) * st.Bsize
	}

	// The default, 1GiB, on a 32MiB filesystem: refused with no backup
	// to estimate from.
	r := f.run("backup")
	assertFailedCleanly(t, f, r, exitInit, "init", nil, "")
	for _, want := range []string{"not enough free space to start", "no earlier backup to estimate", "BACKUP_MIN_FREE=1.0 GiB"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	os.RemoveAll(filepath.Join(f.backups, "error_logs"))

	f.env["BACKUP_MIN_FREE"] = "0"
	first := filepath.Base(f.mustBackup())
	b, err := repo.Get(f.backups, first)
	if err != nil || b.Manifest == nil {
		t.Fatalf("first backup: %v", err)
	}
	need := b.Manifest.Database.Bytes + b.Manifest.Uploads.CopiedBytes
	if need < 512<<10 {
		t.Fatalf("the first backup needed only %d bytes: too little to tell the estimate from the margin", need)
	}

	// A margin the free space covers only without the estimate.
	f.env["BACKUP_MIN_FREE"] = strconv.FormatInt(free()-need/2, 10)
	before := f.backupNames()
	r = f.run("backup")
	dir := assertFailedCleanly(t, f, r, exitInit, "init", before, first)
	if !strings.Contains(r.stderr, "this run needs about") || !strings.Contains(r.stderr, "backup "+first) {
		t.Errorf("the refusal does not give the estimate:\n%s", r.stderr)
	}
	errTxt, _ := os.ReadFile(filepath.Join(dir, "error.txt"))
	if !strings.Contains(string(errTxt), "not enough free space") {
		t.Errorf("error.txt does not say why:\n%s", errTxt)
	}
	if strings.Contains(r.stderr, "dumping database") {
		t.Errorf("the dump was started:\n%s", r.stderr)
	}

	// doctor reports the estimate and the refusal.
	r = f.run("doctor")
	if r.code == 0 || !strings.Contains(r.stdout, "this run needs about") {
		t.Errorf("doctor exit %d, does not report the estimate:\n%s", r.code, r.stdout)
	}
	os.RemoveAll(filepath.Join(f.backups, "error_logs"))

	// Room for the estimate and the margin: the run goes ahead.
	f.env["BACKUP_MIN_FREE"] = strconv.FormatInt(free()-2*need, 10)
	f.mustBackup()
}
