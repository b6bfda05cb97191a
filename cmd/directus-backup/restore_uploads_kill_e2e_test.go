package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uploadsStages lists the stage folders a restore made beside the uploads.
func uploadsStages(t *testing.T, f *fixture) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(f.uploads))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(f.uploads)+".restore-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A restore --uploads killed with SIGKILL while it stages leaves its stage
// folder; the next restore removes it, says so, and restores. Its summary
// counts what it linked from the live folder and what it copied.
func TestKilledUploadsRestoreLeftoverRemoved(t *testing.T) {
	f := newFixture(t)
	big := filepath.Join(f.uploads, "big.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a large upload "), 8<<20), 0o644); err != nil { // 120 MiB
		t.Fatal(err)
	}
	f.mustBackup()
	wantTree := treeState(t, f.uploads)
	// The live big.bin differs from the backup's, so it is copied: that
	// takes long enough to kill the restore while it stages.
	later := time.Now().Add(time.Hour)
	os.Chtimes(big, later, later)

	cmd, _, _ := f.command("restore", "--uploads", "--force")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(uploadsStages(t, f)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the stage folder")
		}
		time.Sleep(time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	left := uploadsStages(t, f)
	if len(left) != 1 {
		t.Fatalf("the killed restore left %q, want one stage folder", left)
	}

	r := f.run("restore", "--uploads", "--force")
	if r.code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "removed what an earlier, interrupted restore left behind") || !strings.Contains(r.stderr, left[0]) {
		t.Errorf("the restore did not say it removed %s:\n%s", left[0], r.stderr)
	}
	if s := uploadsStages(t, f); len(s) != 0 {
		t.Errorf("left behind after the restore: %q", s)
	}
	compareTrees(t, "restored uploads", treeState(t, f.uploads), wantTree)
	if m := regexp.MustCompile(`checksums verified for the 1 copied files; (\d+) linked from the live folder by size and time`).FindStringSubmatch(r.stdout); m == nil || m[1] == "0" {
		t.Errorf("summary does not say 1 copied (verified), N linked by size and time:\n%s", r.stdout)
	}

	// Once more: the folder already matches, nothing is written.
	r = f.run("restore", "--uploads", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing written") {
		t.Errorf("restore over an equal folder: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
