package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckOwnersWarnsAboutAnotherUsersBackupsFolder(t *testing.T) {
	base := t.TempDir() // root-owned 0700 under the sticky /tmp
	dir := filepath.Join(base, "directus", "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check is about root runs")
	}
	if f, ok := checkOwners(dir, 0); ok {
		t.Fatalf("root-owned folders: %+v", f)
	}
	if _, ok := checkOwners(dir, 1000); ok {
		t.Error("warned for a run that is not root")
	}
	// The Directus user owns the folder above BACKUPS_DIR.
	if err := os.Chown(filepath.Dir(dir), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if f, ok := checkOwners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("parent owned by another user: %+v %v", f, ok)
	}
	os.Chown(filepath.Dir(dir), 0, 0)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if f, ok := checkOwners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("world-writable BACKUPS_DIR: %+v %v", f, ok)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil { // sticky, like /tmp: others cannot rename root's folders
		t.Fatal(err)
	}
	if f, ok := checkOwners(dir, 0); ok {
		t.Errorf("sticky folder: %+v", f)
	}
}

// A FIFO where the uploads folder should be must not hang the doctor: not
// when UPLOADS_DIR is one, nor when a symlink UPLOADS_DIR is switched
// between a folder and a FIFO while the doctor looks (a stat, then an
// open, would see the folder and then block opening the FIFO).
func TestCheckUploadsFIFODoesNotHang(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Whatever blocks on the FIFO is let go at the end, so that a failing
	// test does not leave the run hanging.
	t.Cleanup(func() {
		for i := 0; i < 100; i++ {
			if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				syscall.Close(fd)
			}
		}
	})
	dir := filepath.Join(tmp, "dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if f := withTimeout(t, func() Finding { return checkUploads(fifo) }); f.Status != Fail || !strings.Contains(f.Detail, "not a folder") {
		t.Errorf("FIFO as uploads folder: %+v", f)
	}

	link := filepath.Join(tmp, "uploads")
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			target := dir
			if i%2 == 1 {
				target = fifo
			}
			next := link + ".next"
			os.Remove(next)
			if os.Symlink(target, next) == nil {
				os.Rename(next, link)
			}
		}
	}()
	defer func() { close(stop); <-flipped }()
	seen := map[Status]int{}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		seen[withTimeout(t, func() Finding { return checkUploads(link) }).Status]++
		if t.Failed() {
			return
		}
	}
	t.Logf("checks: %v", seen)
}

// withTimeout runs check and fails the test if it takes more than 5 s.
func withTimeout(t *testing.T, check func() Finding) Finding {
	t.Helper()
	done := make(chan Finding, 1)
	go func() { done <- check() }()
	select {
	case f := <-done:
		return f
	case <-time.After(5 * time.Second):
		t.Error("the uploads check hung (blocked opening a FIFO)")
		return Finding{}
	}
}

// Folders a restore left beside the uploads folder are reported: the
// previous uploads moved aside (Fail when the uploads folder is missing,
// since it may be the only copy), and staging folders (OK while their
// restore runs, which holds a lock on them).
func TestCheckRestoreLeftovers(t *testing.T) {
	parent := t.TempDir()
	uploads := filepath.Join(parent, "uploads")
	old := filepath.Join(parent, ".uploads.old-0123456789abcdef")
	stage := filepath.Join(parent, ".uploads.restore-fedcba9876543210")
	for _, d := range []string{uploads, old, stage, filepath.Join(parent, ".uploads.old-short"),
		filepath.Join(parent, ".other.old-0123456789abcdef"), filepath.Join(parent, ".uploads.restore-0123456789ABCDEF")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stage+".list", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := func() map[string]Finding {
		m := map[string]Finding{}
		for _, f := range checkRestoreLeftovers(uploads) {
			switch {
			case strings.Contains(f.Detail, old):
				m["old"] = f
			case strings.Contains(f.Detail, stage):
				m["stage"] = f
			default:
				t.Errorf("unexpected finding %+v", f)
			}
		}
		return m
	}
	m := got()
	if f := m["old"]; f.Status != Warn || !strings.Contains(f.Fix, "rm -rf "+old) {
		t.Errorf("old uploads beside the uploads folder: %+v", f)
	}
	if f := m["stage"]; f.Status != Warn || !strings.Contains(f.Fix, "next restore") {
		t.Errorf("stage: %+v", f)
	}

	// A restore holding its stage.
	fd, err := syscall.Open(stage, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if f := got()["stage"]; f.Status != OK || !strings.Contains(f.Detail, "running") {
		t.Errorf("stage of a running restore: %+v", f)
	}

	// The swap stopped half-way: no uploads folder, only the old one.
	if err := os.Remove(uploads); err != nil {
		t.Fatal(err)
	}
	if f := got()["old"]; f.Status != Fail || !strings.Contains(f.Fix, "mv "+old+" "+uploads) {
		t.Errorf("old uploads, uploads folder missing: %+v", f)
	}
}
