package repo

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A lock whose holder line cannot be written (here: a file size limit of
// one byte, so the write fails with EFBIG) still locks; the failure is
// kept for the caller to warn of, and a refused run says it cannot tell who
// holds the lock instead of printing a part of a line.
func TestAcquireHolderLineNotWritten(t *testing.T) {
	if dir := os.Getenv("DIRECTUS_BACKUP_TEST_FSIZE_DIR"); dir != "" {
		// The child: the limit applies to this process only.
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1, Max: 1}); err != nil {
			t.Fatal(err)
		}
		l, err := Acquire(dir, "pid 1, job-long-enough-to-overflow")
		if err != nil {
			t.Fatalf("Acquire with an unwritable holder line: %v; want the lock", err)
		}
		if err := l.HolderErr(); !errors.Is(err, unix.EFBIG) {
			t.Errorf("HolderErr() = %v; want the write's EFBIG", err)
		}
		_, err = Acquire(dir, "second")
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "could not write its name") {
			t.Errorf("second Acquire = %v; want ErrLocked saying the holder is unknown", err)
		}
		l.Release()
		return
	}
	dir := t.TempDir()
	// An earlier holder's line, longer than the limit: it must not stay.
	if err := os.WriteFile(dir+"/"+LockName, []byte("pid 99 (prune)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcquireHolderLineNotWritten$", "-test.v")
	cmd.Env = append(os.Environ(), "DIRECTUS_BACKUP_TEST_FSIZE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// A plain Acquire still works, and writes its line.
	l, err := Acquire(dir, "third")
	if err != nil || l.HolderErr() != nil {
		t.Fatalf("Acquire = %v, HolderErr %v", err, l.HolderErr())
	}
	defer l.Release()
	if data, _ := os.ReadFile(dir + "/" + LockName); string(data) != "third\n" {
		t.Errorf("holder line %q", data)
	}
}
