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
