package repo

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDamageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if got, err := ReadDamage(dir); err != nil || got != nil {
		t.Fatalf("no list: %v %v", got, err)
	}
	found := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	want := []Damage{
		{Path: "a/b.jpg", Kind: "content", Dev: 2049, Ino: 12345, Found: found},
		{Path: "caf\xe9.jpg", Kind: "size", Dev: 2049, Ino: 7, Found: found}, // Latin-1 name
	}
	if err := WriteDamage(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDamage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if fi, _ := os.Stat(filepath.Join(dir, DamageName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if err := WriteDamage(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, DamageName)); !os.IsNotExist(err) {
		t.Errorf("an empty list left the file: %v", err)
	}
}

// A FIFO or a symlink planted as the list is refused, not read or followed.
func TestDamageNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, DamageName), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadDamage(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadDamage hangs on a FIFO")
	}

	dir = t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	os.WriteFile(outside, []byte("keep\n"), 0o600)
	if err := os.Symlink(outside, filepath.Join(dir, DamageName)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDamage(dir); err == nil {
		t.Error("a symlinked list was read")
	}
	if err := WriteDamage(dir, []Damage{{Path: "x", Kind: "content"}}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(outside); string(data) != "keep\n" {
		t.Errorf("the symlink's target was written: %q", data)
	}
}

// On a read-only mount a verify must not fail to "record" what changes
// nothing: a clean check with no list, or damage already recorded.
func TestWriteDamageOnReadOnlyMountChangesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v)", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	clean, damaged := filepath.Join(dir, "clean"), filepath.Join(dir, "damaged")
	os.Mkdir(clean, 0o700)
	os.Mkdir(damaged, 0o700)
	list := []Damage{{Path: "a.jpg", Kind: "content", Dev: 1, Ino: 2, Size: 3,
		MTime: Timespec{Sec: 9_999_999_999, Nsec: 5}, Found: time.Now()}}
	if err := WriteDamage(damaged, list); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only (%v)", err)
	}
	if err := WriteDamage(clean, nil); err != nil {
		t.Errorf("clean verify on a read-only mount: %v", err)
	}
	again := []Damage{list[0]}
	again[0].Found = time.Now().Add(time.Hour) // found again later
	if err := WriteDamage(damaged, again); err != nil {
		t.Errorf("the same damage again on a read-only mount: %v", err)
	}
	got, err := ReadDamage(damaged)
	if err != nil || len(got) != 1 || !got[0].same(list[0]) {
		t.Errorf("read back %+v, %v", got, err)
	}
	// A clean verify cannot clear the old list there: that is no error.
	if err := WriteDamage(damaged, nil); err != nil {
		t.Errorf("clearing a list on a read-only mount: %v", err)
	}
	// New damage that cannot be recorded is an error.
	if err := WriteDamage(damaged, append(again, Damage{Path: "b.jpg", Kind: "size", Ino: 4})); err == nil {
		t.Error("no error when new damage could not be recorded")
	}
}
