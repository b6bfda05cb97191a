package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
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
	if f, ok := Owners(dir, 0); ok {
		t.Fatalf("root-owned folders: %+v", f)
	}
	if _, ok := Owners(dir, 1000); ok {
		t.Error("warned for a run that is not root")
	}
	// The Directus user owns the folder above BACKUPS_DIR.
	if err := os.Chown(filepath.Dir(dir), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("parent owned by another user: %+v %v", f, ok)
	}
	os.Chown(filepath.Dir(dir), 0, 0)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("world-writable BACKUPS_DIR: %+v %v", f, ok)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil { // sticky, like /tmp: others cannot rename root's folders
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); ok {
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
	if f := withTimeout(t, func() Finding { return Uploads(&config.Config{UploadsDir: fifo}) }); f.Status != Fail || !strings.Contains(f.Detail, "not a folder") {
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
		seen[withTimeout(t, func() Finding { return Uploads(&config.Config{UploadsDir: link}) }).Status]++
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
