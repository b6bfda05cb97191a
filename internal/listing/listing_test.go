package listing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// A missing BACKUPS_DIR lists nothing, without an error.
func TestRunNoBackupsYet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	rep, err := Run(t.Context(), Request{BackupsDir: dir, ErrorDir: filepath.Join(dir, "error_logs"), FailedRuns: 5})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(rep)
	want := `{"backups_dir":"` + dir + `","latest":"","backups":[],"removed":[],"failed_runs":[]}`
	if string(data) != want {
		t.Errorf("JSON:\n got  %s\n want %s", data, want)
	}
}

// Backups are listed newest first with their state, sizes and the latest
// mark; a folder with neither manifest nor dump is incomplete.
func TestRunStatesAndSizes(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, newer := repo.BackupName("2026-01-01", 1767225600), repo.BackupName("2026-01-02", 1767312000)
	write(filepath.Join(dir, old, repo.DumpGzip), "not really gzip, 30 bytes long")
	write(filepath.Join(dir, old, repo.BackupUploadsName, "a.jpg"), "12345")
	if err := os.MkdirAll(filepath.Join(dir, newer, repo.BackupUploadsName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetLatest(dir, old); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767312000+3600, 0)
	rep, err := Run(t.Context(), Request{BackupsDir: dir, ErrorDir: filepath.Join(dir, "error_logs"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Latest != old || len(rep.Backups) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	n, o := rep.Backups[0], rep.Backups[1]
	if n.Name != newer || n.State != string(repo.Incomplete) || n.Latest || n.AgeSeconds != 3600 {
		t.Errorf("newer: %+v", n)
	}
	if o.Name != old || o.State != string(repo.Legacy) || !o.Latest || o.DumpStored != 30 || o.Files != 1 || !strings.HasSuffix(o.Path, old) {
		t.Errorf("older: %+v", o)
	}
}

// An interrupted list stops with an error wrapping context.Canceled (the
// CLI exits 130) instead of walking every backup and printing it all.
func TestRunStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		up := filepath.Join(dir, repo.BackupName(fmt.Sprintf("2026-01-0%d", i+1), int64(1767225600+i*86400)), repo.BackupUploadsName)
		if err := os.MkdirAll(up, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 300 {
			if err := os.WriteFile(filepath.Join(up, fmt.Sprintf("f%d", j)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := Run(ctx, Request{BackupsDir: dir, ErrorDir: filepath.Join(dir, "error_logs"), FailedRuns: 5})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context: %d backups listed, err %v; want context.Canceled", len(rep.Backups), err)
	}
}
