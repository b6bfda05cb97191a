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
