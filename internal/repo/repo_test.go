package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

func TestNames(t *testing.T) {
	name := BackupName("2026-11-26_02-00-00", 1795658400)
	if name != "backup_2026-11-26_02-00-00_1795658400" {
		t.Fatalf("BackupName = %q", name)
	}
	ts, ok := ParseName(name)
	if !ok || ts.Unix() != 1795658400 {
		t.Fatalf("ParseName(%q) = %v, %v", name, ts, ok)
	}
	for _, bad := range []string{"backup_latest", "backup_", "backup_x", "temp_job-1", "backup_2026_abc", "other_2026_1"} {
		if _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListStates(t *testing.T) {
	dir := t.TempDir()
	complete := mkdir(t, dir, "backup_a_400")
	if err := manifest.Write(complete, &manifest.Manifest{Format: manifest.Format, Name: "backup_a_400"}); err != nil {
		t.Fatal(err)
	}
	legacy := mkdir(t, dir, "backup_b_300")
	os.WriteFile(filepath.Join(legacy, DumpGzip), []byte("x"), 0o600)
	mkdir(t, dir, "backup_c_200", "uploads") // neither manifest nor dump
	damaged := mkdir(t, dir, "backup_d_100")
	os.WriteFile(filepath.Join(damaged, manifest.FileName), []byte("{not json"), 0o600)
	mkdir(t, dir, "backup_notanumber")
	mkdir(t, dir, "temp_job-1")
	if err := SetLatest(dir, "backup_a_400"); err != nil {
		t.Fatal(err)
	}

	bs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		state State
	}{{"backup_a_400", Complete}, {"backup_b_300", Legacy}, {"backup_c_200", Incomplete}, {"backup_d_100", Damaged}}
	if len(bs) != len(want) {
		t.Fatalf("List returned %d backups: %+v", len(bs), bs)
	}
	for i, w := range want {
		if bs[i].Name != w.name || bs[i].State != w.state {
			t.Errorf("backup %d = %s %s, want %s %s", i, bs[i].Name, bs[i].State, w.name, w.state)
		}
	}
	if b, ok := NewestUsable(bs); !ok || b.Name != "backup_a_400" {
		t.Errorf("NewestUsable = %s, %v", b.Name, ok)
	}
	if bs[1].DumpFile() != filepath.Join(legacy, DumpGzip) {
		t.Errorf("legacy DumpFile = %q", bs[1].DumpFile())
	}
	if target, ok := Latest(dir); target != "backup_a_400" || !ok {
		t.Errorf("Latest = %q, %v", target, ok)
	}
	left, _ := Leftovers(dir)
	if len(left) != 1 || left[0] != "temp_job-1" {
		t.Errorf("Leftovers = %v", left)
	}
}

func TestSetLatestReplacesAndRemove(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, dir, "backup_a_1")
	mkdir(t, dir, "backup_b_2", "uploads", "deep")
	if err := SetLatest(dir, "backup_a_1"); err != nil {
		t.Fatal(err)
	}
	if err := SetLatest(dir, "backup_b_2"); err != nil {
		t.Fatal(err)
	}
	if target, ok := Latest(dir); target != "backup_b_2" || !ok {
		t.Fatalf("Latest = %q, %v", target, ok)
	}
	if err := removeNow(dir, "backup_a_1"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() == "backup_a_1" || e.Name() == DeletingPrefix+"backup_a_1" {
			t.Errorf("%s still there after Retire and Purge", e.Name())
		}
	}
	if err := removeNow(dir, "backup_b_2"); err != nil {
		t.Fatal(err)
	}
	if target, ok := Latest(dir); target != "backup_b_2" || ok {
		t.Errorf("dangling link not reported: %q, %v", target, ok)
	}
}

func TestFinalizeRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, dir, "temp_job-1")
	mkdir(t, dir, "backup_x_1") // empty: rename(2) would silently replace it
	err := Finalize(dir, "temp_job-1", "backup_x_1")
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("Finalize over an existing backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "temp_job-1")); err != nil {
		t.Errorf("temp folder gone after refused finalize: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	if held, who := Held(dir); !held || who != "first" {
		t.Errorf("Held = %v, %q while locked", held, who)
	}
	// flock is per open file: a second open in this process conflicts like
	// another process would.
	if _, err := Acquire(dir, "second"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if held, _ := Held(dir); held {
		t.Error("Held after Release")
	}
	l2, err := Acquire(dir, "third")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	a := mkdir(t, dir, "backup_a_1", "uploads")
	b := mkdir(t, dir, "backup_b_2", "uploads")
	os.WriteFile(filepath.Join(a, "shared"), make([]byte, 100), 0o600)
	os.Link(filepath.Join(a, "shared"), filepath.Join(b, "shared"))
	os.WriteFile(filepath.Join(b, "own"), make([]byte, 30), 0o600)
	os.WriteFile(filepath.Join(dir, "backup_b_2", DumpGzip), make([]byte, 7), 0o600)
	bs, _ := List(dir)
	u, err := DiskUsage(t.Context(), bs[0]) // backup_b_2, the newest
	if err != nil {
		t.Fatal(err)
	}
	if u.Files != 2 || u.Bytes != 137 || u.UniqueBytes != 37 {
		t.Errorf("usage = %+v, want 2 files, 137 bytes, 37 unique", u)
	}
}

func TestRetireAndPurge(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, dir, "backup_a_1", "uploads", "x")
	mkdir(t, dir, DeletingPrefix+"backup_a_1") // left by an earlier, failed purge
	if err := Retire(dir, "backup_a_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DeletingPrefix+"backup_a_1.1", "uploads", "x")); err != nil {
		t.Fatalf("retired backup not set aside under a new name: %v", err)
	}
	if bs, _ := List(dir); len(bs) != 0 {
		t.Errorf("a retired backup is still listed: %+v", bs)
	}

	// Another process purging: Purge leaves the work to it.
	f, err := os.OpenFile(filepath.Join(dir, PurgeLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	if removed, err := Purge(dir); err != nil || len(removed) != 0 {
		t.Errorf("Purge while another purges: %v %v", removed, err)
	}
	f.Close()
	removed, err := Purge(dir)
	if err != nil || len(removed) != 2 {
		t.Errorf("Purge = %v, %v; want both deleting_ folders", removed, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			t.Errorf("left: %s", e.Name())
		}
	}
}

// removeNow retires a backup and purges it, as a run does in two steps.
func removeNow(dir, name string) error {
	if err := Retire(dir, name); err != nil {
		return err
	}
	_, err := Purge(dir)
	return err
}

// An interrupted DiskUsage stops inside the walk of a big backup instead of
// finishing it (list on a big repository took minutes after a Ctrl-C).
func TestDiskUsageStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	up := mkdir(t, dir, "backup_a_1", "uploads")
	for i := range 4 * usageCtxEvery {
		if err := os.WriteFile(filepath.Join(up, fmt.Sprintf("f%d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bs, _ := List(dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u, err := DiskUsage(ctx, bs[0])
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("DiskUsage with a cancelled context: %+v, %v; want context.Canceled", u, err)
	}
	if u.Files >= usageCtxEvery {
		t.Errorf("walked %d files after the cancel, want fewer than %d", u.Files, usageCtxEvery)
	}
}
