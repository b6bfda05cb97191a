package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// The uploads copy runs beside pg_dump: when it fails, pg_dump (here a
// pg_dump that has written its first bytes and then stalls) is stopped at
// once, and the run fails as the uploads step, not the database step.
func TestUploadsFailureStopsARunningPgDump(t *testing.T) {
	f := newFixture(t)
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	// The uploads folder goes after init has checked it; then the first
	// bytes, then a stall pg_dump itself could have (a locked table).
	// --version (init's check of the pg_dump to use) is answered at once.
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = --version ] && exec %q --version\nmv %q %q\nprintf -- '--\\n-- PostgreSQL database dump\\n--\\n\\n'\nsleep 30\nexec %q \"$@\"\n",
		real, f.uploads, f.uploads+".moved", real)
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f.path = bin + ":" + os.Getenv("PATH")
	start := time.Now()
	r := f.run("backup")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %v: pg_dump was not stopped when the uploads copy failed", took)
	}
	assertFailedCleanly(t, f, r, exitcode.Uploads, "uploads", nil, "")
	if !strings.Contains(r.stderr, "database step stopped: the uploads step failed") {
		t.Errorf("the log does not say the dump was stopped:\n%s", r.stderr)
	}
}
