package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A restore test killed while its scratch database exists leaves a full
// copy of the data behind; the next restore test drops it and says so, and
// leaves alone scratch databases of live runs and databases it did not make.
func TestLeftoverScratchDatabaseDropped(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()

	// A psql that takes its time over the restore (psql -f - without -A;
	// the queries use -A), so the run can be killed mid-test.
	real, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal(err)
	}
	slow := filepath.Join(f.dir, "slowbin")
	os.MkdirAll(slow, 0o755)
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *-A*) ;; *) sleep 60 ;; esac\nexec %s \"$@\"\n", real)
	if err := os.WriteFile(filepath.Join(slow, "psql"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	scratch := f.db + "_verify_0badc0de" // a name the tool makes: only those are dropped
	marked := func(name string) string {
		return f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+name+"' AND shobj_description(oid, 'pg_database') LIKE 'directus-backup restore-test scratch database;%'")
	}
	f.path = slow + ":" + os.Getenv("PATH")
	cmd, _, stderr := f.command("verify", "--restore-test", "--scratch-db", scratch)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the marked scratch database", func() bool { return marked(scratch) == "1" })
	cmd.Process.Kill()
	cmd.Wait()
	f.path = os.Getenv("PATH")
	if marked(scratch) != "1" {
		t.Fatalf("the killed run's scratch database is gone already; the test proves nothing\n%s", stderr)
	}

	// One marked as made by a live process (this test), and one not marked.
	live, plain := f.db+"_verify_11111111", f.db+"_verify_00000000"
	f.pg.MustExec(t, "postgres", "CREATE DATABASE "+live)
	f.pg.MustExec(t, "postgres", "CREATE DATABASE "+plain)
	t.Cleanup(func() {
		f.pg.Exec("postgres", "DROP DATABASE IF EXISTS "+live)
		f.pg.Exec("postgres", "DROP DATABASE IF EXISTS "+plain)
		f.pg.Exec("postgres", "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
	})
	host, _ := os.Hostname()
	stat, _ := os.ReadFile("/proc/self/stat")
	s := string(stat)
	start := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[19]
	f.pg.MustExec(t, "postgres", fmt.Sprintf("COMMENT ON DATABASE %s IS 'directus-backup restore-test scratch database; host=%s pid=%d start=%s'",
		live, host, os.Getpid(), start))

	r := f.run("verify", "--restore-test")
	if r.code != 0 {
		t.Fatalf("verify --restore-test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "dropped a scratch database left by an earlier restore test") || !strings.Contains(r.stderr, scratch) {
		t.Errorf("the drop of the leftover is not reported:\n%s", r.stderr)
	}
	exists := func(name string) bool {
		return f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+name+"'") == "1"
	}
	if exists(scratch) {
		t.Error("the killed run's scratch database is still there")
	}
	if !exists(live) || !exists(plain) {
		t.Errorf("a database that is not a dead run's scratch was dropped: live %v, unmarked %v", exists(live), exists(plain))
	}
}
