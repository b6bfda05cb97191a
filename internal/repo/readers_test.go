package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// within fails the test when f does not return in time: a FIFO opened for
// reading or writing without O_NONBLOCK hangs forever.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}

// lockUsers take each lock file of BACKUPS_DIR the way the tool does.
var lockUsers = map[string]func(dir string) error{
	LockName: func(dir string) error {
		l, err := Acquire(dir, "test")
		l.Release()
		return err
	},
	PurgeLockName: func(dir string) error {
		_, err := Purge(dir)
		return err
	},
	ReadersWaitingName: func(dir string) error {
		_, err := Purge(dir)
		return err
	},
	ReadersLockName: func(dir string) error {
		l, err := Read(context.Background(), dir, nil)
		l.Release()
		return err
	},
}

// A planted lock file that is not a plain file is refused, named, and
// never written through: not a symlink to a file outside (whose content
// stays), not a dangling one (nothing is created at its target), not a
// FIFO (no hang), a folder or a hard link.
func TestLockFilesNotFollowed(t *testing.T) {
	for name, use := range lockUsers {
		t.Run(name, func(t *testing.T) {
			outsideDir := t.TempDir()
			victim := filepath.Join(outsideDir, "passwd")
			if err := os.WriteFile(victim, []byte("root:x:0:0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				kind  string
				plant func(path string) error
			}{
				{"symlink", func(p string) error { return os.Symlink(victim, p) }},
				{"symlink", func(p string) error { return os.Symlink(filepath.Join(outsideDir, "nologin"), p) }},
				{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
				{"folder", func(p string) error { return os.Mkdir(p, 0o700) }},
				{"hard links", func(p string) error { return os.Link(victim, p) }},
			} {
				dir := t.TempDir()
				path := filepath.Join(dir, name)
				if err := c.plant(path); err != nil {
					t.Fatal(err)
				}
				var err error
				within(t, name+" as "+c.kind, func() { err = use(dir) })
				if !errors.Is(err, ErrBadLockFile) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.kind) {
					t.Errorf("%s as %s: err = %v; want ErrBadLockFile naming the path and %q", name, c.kind, err, c.kind)
				}
				if errs := CheckLockFiles(dir); len(errs) != 1 || !errors.Is(errs[0], ErrBadLockFile) || !strings.Contains(errs[0].Error(), c.kind) {
					t.Errorf("CheckLockFiles with %s as %s = %v", name, c.kind, errs)
				}
				if data, _ := os.ReadFile(victim); string(data) != "root:x:0:0\n" {
					t.Fatalf("%s as %s: the file outside was changed to %q", name, c.kind, data)
				}
				if _, err := os.Lstat(filepath.Join(outsideDir, "nologin")); err == nil {
					t.Fatalf("%s as a dangling symlink: a file was created at its target", name)
				}
			}
			if errs := CheckLockFiles(t.TempDir()); len(errs) != 0 {
				t.Errorf("CheckLockFiles of an empty folder: %v", errs)
			}
			// A regular lock file is made 0600 and works.
			dir := t.TempDir()
			if err := use(dir); err != nil {
				t.Fatalf("plain use: %v", err)
			}
			fi, err := os.Lstat(filepath.Join(dir, name))
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("lock file: %v %v; want a regular file, mode 0600", fi, err)
			}
			if err := use(dir); err != nil {
				t.Errorf("second use of an existing lock file: %v", err)
			}
		})
	}
}

// Purge leaves retired folders while readers hold the readers lock, and
// deletes them once the readers are gone. A retired backup stays readable
// by a reader that listed it.
func TestPurgeLeavesWhatReadersRead(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, dir, "backup_a_1", "uploads")
	os.WriteFile(filepath.Join(dir, "backup_a_1", DumpGzip), []byte("x"), 0o600)
	rl, err := Read(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := List(dir)
	if err != nil || len(bs) != 1 || bs[0].Gone() {
		t.Fatalf("List = %+v, %v", bs, err)
	}
	if err := Retire(dir, "backup_a_1"); err != nil { // a backup never waits for readers
		t.Fatal(err)
	}
	if !bs[0].Gone() {
		t.Error("Gone() = false for a retired backup")
	}
	removed, err := Purge(dir)
	if !errors.Is(err, ErrReaders) || len(removed) != 0 {
		t.Fatalf("Purge with a reader = %v, %v; want ErrReaders and nothing removed", removed, err)
	}
	if _, err := os.Stat(filepath.Join(dir, DeletingPrefix+"backup_a_1", DumpGzip)); err != nil {
		t.Fatalf("retired folder deleted under a reader: %v", err)
	}
	rl.Release()
	removed, err = Purge(dir)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Purge after the reader = %v, %v", removed, err)
	}
}

// A reader waits while a purge deletes a folder, and gives up with ctx.
func TestReadWaitsForPurge(t *testing.T) {
	dir := t.TempDir()
	f, ok, err := exclusiveReaders(dir)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Read(ctx, dir, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read during a purge = %v; want to wait until ctx ends", err)
	}
	go func() { time.Sleep(100 * time.Millisecond); f.Close() }()
	l, err := Read(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// A FIFO or symlink where a backup's manifest, dump or entry list should
// be makes the backup damaged (listed, never linked against), without
// hanging.
func TestListNotRegularFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "x")
	os.WriteFile(outside, []byte("{}"), 0o600)
	for _, c := range []struct {
		file, kind string
		legacy     bool
	}{
		{manifest.FileName, "FIFO", false},
		{manifest.FileName, "symlink", false},
		{DumpGzip, "FIFO", false},
		{DumpGzip, "symlink", false},
		{manifest.FilesListName, "FIFO", false},
		{DumpGzip, "FIFO", true},
		{DumpZstd, "symlink", true},
	} {
		dir := t.TempDir()
		b := mkdir(t, dir, "backup_a_1")
		if !c.legacy {
			m := &manifest.Manifest{Format: manifest.Format, Name: "backup_a_1"}
			m.Database.File = DumpGzip
			m.Uploads.ListFile = manifest.FilesListName
			if err := manifest.Write(b, m); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(b, c.file)
		os.Remove(p)
		if c.kind == "FIFO" {
			syscall.Mkfifo(p, 0o600)
		} else {
			os.Symlink(outside, p)
		}
		var bs []Backup
		var err error
		within(t, c.file+" as "+c.kind, func() { bs, err = List(dir) })
		if err != nil || len(bs) != 1 {
			t.Fatalf("List = %+v, %v", bs, err)
		}
		if bs[0].State != Damaged || !errors.Is(bs[0].Err, regfile.ErrNotRegular) || !strings.Contains(bs[0].Err.Error(), c.kind) {
			t.Errorf("%s as %s (legacy %v): state %s, err %v; want damaged, saying it is a %s", c.file, c.kind, c.legacy, bs[0].State, bs[0].Err, c.kind)
		}
		if _, ok := NewestUsable(bs); ok {
			t.Errorf("%s as %s: a damaged backup is usable", c.file, c.kind)
		}
	}
}

// deletingFolders counts the deleting_ folders in dir.
func deletingFolders(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), DeletingPrefix) {
			n++
		}
	}
	return n
}

// A reader that starts while a purge deletes many retired folders gets in
// after at most the folder being deleted: the purge stops and leaves the
// rest for the next run. (A reader that only polled the readers lock
// almost never got in between two folders, so it waited for the whole
// purge.)
func TestReadWaitsForOneFolderOnly(t *testing.T) {
	// On a loaded machine the purge may get ahead before the reader starts;
	// that run proves nothing, so it is tried again (three times at most).
	for try := 1; ; try++ {
		if readWaitsForOneFolderOnly(t, try == 3) || t.Failed() {
			return
		}
		t.Logf("try %d: the purge got ahead of the reader; again", try)
	}
}

// readWaitsForOneFolderOnly runs the test once; false when the purge got
// too far before the reader started (a failure when last is set).
func readWaitsForOneFolderOnly(t *testing.T, last bool) bool {
	const folders, files = 6, 1500
	dir := t.TempDir()
	for i := 0; i < folders; i++ {
		d := mkdir(t, dir, fmt.Sprintf("%sbackup_a_%d", DeletingPrefix, i), "uploads")
		for j := 0; j < files; j++ {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", j)), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	type purged struct {
		removed []string
		err     error
	}
	done := make(chan purged, 1)
	go func() {
		removed, err := Purge(dir)
		done <- purged{removed, err}
	}()
	// Start reading once the purge is deleting a folder (it holds the
	// readers lock exclusively), and before it has deleted more than two.
	deadline := time.Now().Add(30 * time.Second)
	for !exclusivelyLocked(t, filepath.Join(dir, ReadersLockName)) {
		if time.Now().After(deadline) {
			t.Fatal("the purge does not start")
		}
		time.Sleep(100 * time.Microsecond)
	}
	before := deletingFolders(t, dir)
	if before < 3 {
		if !last {
			<-done
			return false
		}
		t.Fatalf("the purge deleted %d folders before the reader started; the test proves nothing", folders-before)
	}
	l, err := Read(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := deletingFolders(t, dir)
	l.Release()
	p := <-done
	// The folder being deleted when they were counted may finish, and the
	// one being deleted when the reader came (the count and Read's first
	// try are not one step); no other.
	if after < before-2 {
		t.Errorf("%d retired folders were deleted while the reader waited (%d left of %d); want at most the one being deleted", before-after, after, before)
	}
	if !errors.Is(p.err, ErrReaders) || deletingFolders(t, dir) == 0 {
		t.Errorf("Purge = %d removed, %v; want it to stop for the reader and leave folders for the next run", len(p.removed), p.err)
	}
	if removed, err := Purge(dir); err != nil || len(removed)+len(p.removed) != folders {
		t.Errorf("next Purge = %d removed, %v; want the %d left", len(removed), err, folders-len(p.removed))
	}
	return true
}

// exclusivelyLocked reports whether some process holds an exclusive flock
// on path, from the kernel's lock table (taking a lock to find out would
// disturb the purge).
func exclusivelyLocked(t *testing.T, path string) bool {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	held, err := flocks(fi.Sys().(*syscall.Stat_t))
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(held, "WRITE")
}

// A reader that waits for longer than a second says so, once.
func TestReadSaysItWaits(t *testing.T) {
	dir := t.TempDir()
	f, ok, err := exclusiveReaders(dir)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	go func() { time.Sleep(1500 * time.Millisecond); f.Close() }()
	waited := 0
	l, err := Read(context.Background(), dir, func() { waited++ })
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if waited != 1 {
		t.Errorf("waiting callback called %d times; want once", waited)
	}
	// No wait, no message.
	waited = 0
	l, err = Read(context.Background(), dir, func() { waited++ })
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if waited != 0 {
		t.Errorf("waiting callback called %d times without a wait", waited)
	}
}
