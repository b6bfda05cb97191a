package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// A dump or entry list swapped for a FIFO after the backup was listed (so
// repo still calls it complete) is reported as not a regular file, and
// never opened: opening a FIFO for reading waits for a writer forever.
func TestFIFOSwappedInAfterListing(t *testing.T) {
	for _, name := range []string{repo.DumpGzip, manifest.FilesListName} {
		t.Run(name, func(t *testing.T) {
			dir, bdir := fixture(t)
			b := load(t, dir)
			if b.State != repo.Complete {
				t.Fatalf("state %s", b.State)
			}
			p := filepath.Join(bdir, name)
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan Result, 1)
			go func() {
				res, err := Backup(context.Background(), b, Options{})
				if err != nil {
					t.Errorf("Backup: %v", err)
				}
				done <- res
			}()
			select {
			case res := <-done:
				if !strings.Contains(listProblems(res), "FIFO") {
					t.Errorf("problems do not name the FIFO:\n%s", listProblems(res))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("verify hangs on a FIFO")
			}
		})
	}
}

// An uploads file swapped for a FIFO between the walk's Lstat and its
// open, with a writer holding the FIFO open (so a read would wait for data
// forever), is reported as not a regular file, without hanging.
func TestUploadSwappedForFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jpg")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p) // what the walk saw
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR opens a FIFO without waiting, and keeps a writer on it.
	writer, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	res := &Result{}
	w := &walk{ctx: context.Background(), res: res, c: &counter{}, buf: make([]byte, chunk)}
	done := make(chan error, 1)
	go func() {
		done <- w.file("a.jpg", p, fi, manifest.Entry{Path: "a.jpg", Type: manifest.TypeFile, Size: 5})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("verify hangs on an uploads file swapped for a FIFO")
	}
	if got := listProblems(*res); len(res.Problems) != 1 || res.Problems[0].Kind != KindUnreadable || !strings.Contains(got, "FIFO") {
		t.Errorf("problems = %s; want one %q naming the FIFO", got, KindUnreadable)
	}
}
