package job

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// writeIncremental lays out what an incremental run writes into temp: an
// entry list and n new upload files in two folders. It returns the written
// paths, as the uploads step reports them.
func writeIncremental(t *testing.T, temp string, n int) []string {
	t.Helper()
	written := []string{repo.BackupUploadsName, filepath.Join(repo.BackupUploadsName, "2026")}
	if err := os.MkdirAll(filepath.Join(temp, repo.BackupUploadsName, "2026"), 0o700); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("upload "), 54<<10/7)
	for i := range n {
		rel := filepath.Join(repo.BackupUploadsName, "2026", fmt.Sprintf("f%04d.jpg", i))
		if err := os.WriteFile(filepath.Join(temp, rel), data, 0o600); err != nil {
			t.Fatal(err)
		}
		written = append(written, rel)
	}
	if err := os.WriteFile(filepath.Join(temp, manifest.FilesListName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return written
}

// An fsync cannot be observed from a test: this checks that every listed
// path is reached (through the temp folder's descriptor) and that a missing
// one is an error, not skipped.
func TestSyncWrittenReachesTheListedPaths(t *testing.T) {
	temp := t.TempDir()
	r := &run{temp: temp, writtenAll: true}
	r.written = writeIncremental(t, temp, 5)
	if err := r.syncWritten(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A listed path that is gone is an error, not skipped: the backup
	// must not be called complete.
	r.written = append(r.written, filepath.Join(repo.BackupUploadsName, "gone"))
	if err := r.syncWritten(context.Background()); err == nil {
		t.Error("no error for a missing written path")
	}
	r.writtenAll = false // too many to list: syncfs
	if err := r.syncWritten(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestMeasureFinalizeSync measures finalize's flush after 1 GiB of
// unrelated unflushed writes on the same filesystem: per-path fsync of an
// incremental run's 300 files against syncfs. It writes 2 GiB, so it runs
// only with DIRECTUS_BACKUP_MEASURE_SYNC=1:
//
//	DIRECTUS_BACKUP_MEASURE_SYNC=1 go test -count=1 -run TestMeasureFinalizeSync -v ./internal/job/
func TestMeasureFinalizeSync(t *testing.T) {
	if os.Getenv("DIRECTUS_BACKUP_MEASURE_SYNC") != "1" {
		t.Skip("set DIRECTUS_BACKUP_MEASURE_SYNC=1 to measure (writes 2 GiB)")
	}
	base := t.TempDir()
	unrelated := func(name string) {
		f, err := os.Create(filepath.Join(base, name))
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.Repeat([]byte{0x5a}, 1<<20)
		for range 1024 {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		f.Close() // no sync: left to writeback, as another program would
	}
	// Alternating, three rounds: other processes on a shared machine may
	// flush the filesystem in between, which the Dirty figure shows.
	for round := range 3 {
		for _, mode := range []string{"fsync of written paths", "syncfs"} {
			name := fmt.Sprintf("%d-%s", round, mode)
			temp := filepath.Join(base, "temp-"+name)
			os.Mkdir(temp, 0o700)
			r := &run{temp: temp, writtenAll: mode != "syncfs"}
			r.written = writeIncremental(t, temp, 300)
			unrelated("other-" + name)
			dirty := meminfo(t, "Dirty:")
			start := time.Now()
			if err := r.syncWritten(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("round %d, %s: %.3f s (Dirty before: %d MiB)", round, mode, time.Since(start).Seconds(), dirty>>10)
			if err := os.Remove(filepath.Join(base, "other-"+name)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// meminfo returns a /proc/meminfo figure in KiB.
func meminfo(t *testing.T, key string) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}
