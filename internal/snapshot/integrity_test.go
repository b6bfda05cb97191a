package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// rot flips one byte of p in place, keeping its size and its mtime to the
// nanosecond: what bit rot or a stray write looks like to a stat.
func rot(t testing.TB, p string) {
	t.Helper()
	st := lstat(t, p)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := lutimes(p, st.Mtim); err != nil {
		t.Fatal(err)
	}
	if after := lstat(t, p); after.Size != st.Size || after.Mtim != st.Mtim {
		t.Fatal("setup: rot changed size or mtime")
	}
}

// flatTree writes n distinct files into src.
func flatTree(t testing.TB, src string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("f%03d.jpg", i)
		writeFile(t, filepath.Join(src, name), []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 50+i)), 0o644, mtime(i))
		names = append(names, name)
	}
	setDirTimes(t, src)
	return names
}

// checkAgainstSource fails unless every file of dst holds the source's
// bytes and its entry their hash.
func checkAgainstSource(t *testing.T, src, dst string, r *run, names []string) {
	t.Helper()
	for _, n := range names {
		want := readFile(t, filepath.Join(src, n))
		if got := readFile(t, filepath.Join(dst, n)); !bytes.Equal(got, want) {
			t.Errorf("%s: the backup holds damaged bytes", n)
		}
		if got := r.entry(t, n).SHA256; got != shaHex(want) {
			t.Errorf("%s: entry hash %s, want the source's %s", n, got, shaHex(want))
		}
	}
}

// A rotten linked file is found at once with a recheck of 100%.
func TestRecheckAllFindsRotAtOnce(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	names := flatTree(t, src, 10)
	b1 := filepath.Join(tmp, "b1")
	first := take(t, Options{Source: src, Dest: b1})
	rot(t, filepath.Join(b1, names[3]))

	b2 := filepath.Join(tmp, "b2")
	r := take(t, Options{Source: src, Dest: b2, Previous: b1, PreviousName: "backup_one",
		PreviousList: bytes.NewReader(first.list), RecheckPercent: 100, Run: 1})
	checkAgainstSource(t, src, b2, r, names)
	if r.res.Rechecked != 10 || r.res.Refreshed != 1 || r.res.Linked != 9 || r.res.Copied != 1 {
		t.Errorf("result %+v, want 10 rechecked, 1 refreshed, 9 linked, 1 copied", r.res)
	}
	if !r.warned(names[3]) || !r.warned("backup_one") {
		t.Errorf("no warning naming %s and the backup holding the damage: %q", names[3], r.warns)
	}
	if lstat(t, filepath.Join(b2, names[3])).Ino == lstat(t, filepath.Join(b1, names[3])).Ino {
		t.Error("the damaged inode is still linked")
	}
}

// At the default 5%, every linked file is re-read within 20 runs: with
// every file of the first backup rotten, 20 chained runs leave none.
func TestRecheckDefaultCoversEveryFileIn20Runs(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	names := flatTree(t, src, 60)
	prev := filepath.Join(tmp, "b0")
	list := take(t, Options{Source: src, Dest: prev}).list
	for _, n := range names {
		rot(t, filepath.Join(prev, n))
	}
	var refreshed, rechecked int64
	var last *run
	for i := 1; i <= 20; i++ {
		dst := filepath.Join(tmp, fmt.Sprint("b", i))
		r := take(t, Options{Source: src, Dest: dst, Previous: prev, PreviousList: bytes.NewReader(list),
			RecheckPercent: 5, Run: int64(i)})
		refreshed += r.res.Refreshed
		rechecked += r.res.Rechecked
		prev, list, last = dst, r.list, r
	}
	if refreshed != int64(len(names)) {
		t.Errorf("%d of %d rotten files refreshed in 20 runs", refreshed, len(names))
	}
	// Each file is re-read about once in 20 runs, not every run.
	if rechecked < int64(len(names)) || rechecked > 3*int64(len(names)) {
		t.Errorf("%d rechecks over 20 runs of %d files", rechecked, len(names))
	}
	checkAgainstSource(t, src, prev, last, names)
}

// 0 never re-reads.
func TestRecheckZero(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	flatTree(t, src, 10)
	first := take(t, Options{Source: src, Dest: filepath.Join(tmp, "b1")})
	for run := range int64(25) {
		r := take(t, Options{Source: src, Dest: filepath.Join(tmp, fmt.Sprint("r", run)), Previous: filepath.Join(tmp, "b1"),
			PreviousList: bytes.NewReader(first.list), Run: run})
		if r.res.Rechecked != 0 || r.res.Linked != 10 {
			t.Fatalf("run %d: %+v", run, r.res)
		}
	}
}

// The rotation: with p percent, ceil(100/p) consecutive runs cover every
// slot.
func TestRecheckRotationCoversAllSlots(t *testing.T) {
	for _, p := range []int{1, 3, 5, 7, 30, 50, 99} {
		runs := (100 + p - 1) / p
		for start := int64(0); start < 120; start += 17 {
			for i := range 200 {
				rel := fmt.Sprintf("dir/file-%d.bin", i)
				seen := false
				for run := start; run < start+int64(runs); run++ {
					w := &walker{opts: Options{RecheckPercent: p, Run: run}}
					seen = seen || w.recheckDue(rel)
				}
				if !seen {
					t.Fatalf("p=%d: %s not rechecked in runs %d..%d", p, rel, start, start+int64(runs)-1)
				}
			}
		}
	}
}

// Without a vouched list (a backup.sh backup, or a list that failed its
// checksum) a rotten previous copy is not laundered: the linked file is
// compared with the source and copied afresh.
func TestUnvouchedLinkNotLaundered(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	names := flatTree(t, src, 10)
	b1 := filepath.Join(tmp, "b1")
	take(t, Options{Source: src, Dest: b1})
	rot(t, filepath.Join(b1, names[7]))

	b2 := filepath.Join(tmp, "b2")
	r := take(t, Options{Source: src, Dest: b2, Previous: b1, PreviousName: "backup_legacy"})
	checkAgainstSource(t, src, b2, r, names)
	if r.res.Compared != 10 || r.res.Refreshed != 1 || r.res.Linked != 9 {
		t.Errorf("result %+v, want 10 compared, 1 refreshed, 9 linked", r.res)
	}
	if !r.warned(names[7]) {
		t.Errorf("no warning naming %s: %q", names[7], r.warns)
	}
}

// A file verify recorded as damaged (by inode) is copied afresh instead of
// linked; the same path with another inode is linked as usual.
func TestKnownDamageCopiedAfresh(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	names := flatTree(t, src, 10)
	b1 := filepath.Join(tmp, "b1")
	first := take(t, Options{Source: src, Dest: b1})
	rot(t, filepath.Join(b1, names[2]))
	st := lstat(t, filepath.Join(b1, names[2]))
	other := lstat(t, filepath.Join(b1, names[4]))
	damaged := map[string][]Damaged{
		names[2]: {{Ino: st.Ino, Size: st.Size, MTime: unix.Timespec(st.Mtim), HasAttrs: true, Backup: "backup_verified"}},
		names[4]: {{Ino: other.Ino + 1_000_000, Size: other.Size, MTime: unix.Timespec(other.Mtim), HasAttrs: true, Backup: "backup_old"}}, // another inode: not this file
		// The same inode number with another size: the number was reused
		// by a good file, so it is linked.
		names[5]: {{Ino: lstat(t, filepath.Join(b1, names[5])).Ino, Size: 1, HasAttrs: true, Backup: "backup_old"}},
	}
	b2 := filepath.Join(tmp, "b2")
	r := take(t, Options{Source: src, Dest: b2, Previous: b1, PreviousList: bytes.NewReader(first.list), Damaged: damaged})
	checkAgainstSource(t, src, b2, r, names)
	if r.res.Refreshed != 1 || r.res.Linked != 9 || r.res.Rechecked != 0 {
		t.Errorf("result %+v, want 1 refreshed, 9 linked", r.res)
	}
	if !r.warned(names[2]) || !r.warned("backup_verified") {
		t.Errorf("no warning naming %s and backup_verified: %q", names[2], r.warns)
	}
}

// A subfolder swapped for a symlink to a folder outside the uploads, over
// and over while backups run, never brings the outside file's bytes into a
// backup: every item is opened relative to its already open parent and
// never through a symlink.
func TestSymlinkSwapRace(t *testing.T) {
	tmp := t.TempDir()
	src, outside := filepath.Join(tmp, "src"), filepath.Join(tmp, "outside")
	const secret = "TOP-SECRET outside the uploads folder\n"
	var names []string
	for i := range 40 {
		n := fmt.Sprintf("f%02d.txt", i)
		names = append(names, n)
		writeFile(t, filepath.Join(src, "sub", n), []byte(fmt.Sprintf("uploads file %d\n", i)), 0o644, mtime(i))
		writeFile(t, filepath.Join(src, "sub", "deep", n), []byte(fmt.Sprintf("deep file %d\n", i)), 0o644, mtime(i))
		// Same names outside, so a path re-resolved through the symlink
		// finds a file.
		writeFile(t, filepath.Join(outside, n), []byte(secret), 0o600, mtime(i))
		writeFile(t, filepath.Join(outside, "deep", n), []byte(secret), 0o600, mtime(i))
	}
	if err := os.Chmod(outside, 0o700); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var swaps atomic.Int64
	sub, real := filepath.Join(src, "sub"), filepath.Join(src, "sub.real")
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if os.Rename(sub, real) != nil {
				continue
			}
			os.Symlink(outside, sub)
			swaps.Add(1)
			time.Sleep(time.Duration(swaps.Load()%3) * 50 * time.Microsecond)
			os.Remove(sub)
			os.Rename(real, sub)
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	deadline := time.Now().Add(3 * time.Second)
	runs := 0
	for ; time.Now().Before(deadline) || runs < 20; runs++ {
		dst := filepath.Join(tmp, fmt.Sprint("b", runs))
		r, err := takeRun(t, context.Background(), Options{Source: src, Dest: dst})
		if err != nil {
			t.Fatalf("run %d: %v", runs, err)
		}
		err = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return err
			}
			if data := readFile(t, p); bytes.Contains(data, []byte("TOP-SECRET")) {
				return fmt.Errorf("run %d copied the outside file into %s", runs, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.entries {
			if e.Type == manifest.TypeSymlink && e.Path == "sub" && e.Target != outside {
				t.Errorf("run %d: sub recorded as symlink to %q", runs, e.Target)
			}
		}
		os.RemoveAll(dst)
	}
	cancel()
	wg.Wait()
	t.Logf("%d backups during %d swaps", runs, swaps.Load())
	if swaps.Load() < 100 {
		t.Fatalf("only %d swaps: the race was not exercised", swaps.Load())
	}
}

// The walk holds a few descriptors per level of depth, never one per file.
func TestFdsBoundedByDepth(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	const depth, perLevel = 20, 40
	dir := src
	for d := range depth {
		for i := range perLevel {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprint(d, i)), 0o644, mtime(i))
		}
		dir = filepath.Join(dir, fmt.Sprintf("d%02d", d))
	}
	setDirTimes(t, src)
	openFds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	base := openFds()
	first := take(t, Options{Source: src, Dest: filepath.Join(tmp, "b1")})
	var most atomic.Int64
	opts := Options{Source: src, Dest: filepath.Join(tmp, "b2"), Previous: filepath.Join(tmp, "b1"), RecheckPercent: 100}
	opts.PreviousList = bytes.NewReader(first.list)
	opts.OnWritten = func(string) {
		if n := int64(openFds()); n > most.Load() {
			most.Store(n)
		}
	}
	r := take(t, opts)
	if r.res.Linked != depth*perLevel {
		t.Fatalf("linked %d", r.res.Linked)
	}
	// 3 per level (source, copy, previous) and a little slack for the
	// runtime and the workers' open file.
	if limit := int64(base + 3*(depth+1) + 8); most.Load() > limit {
		t.Errorf("%d descriptors open at the deepest level, more than %d", most.Load(), limit)
	}
	t.Logf("descriptors: %d before, at most %d during", base, most.Load())
}

// A linked copy that cannot be read (a disk error in the previous backup)
// is copied afresh with a warning, both when a recheck reads it and when no
// list vouches for it; it must not fail the run, or every later run would
// link it again and fail the same way.
func TestUnreadableLinkedCopyIsCopiedAfresh(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	names := flatTree(t, src, 10)
	b1 := filepath.Join(tmp, "b1")
	first := take(t, Options{Source: src, Dest: b1})
	bad := names[4]
	linkedReadHook = func(rel string) error {
		if rel == bad {
			return syscall.EIO
		}
		return nil
	}
	t.Cleanup(func() { linkedReadHook = nil })
	for _, c := range []struct {
		name string
		list []byte
	}{{"recheck", first.list}, {"no list", nil}} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Source: src, Dest: filepath.Join(tmp, "b2-"+strings.ReplaceAll(c.name, " ", "-")),
				Previous: b1, PreviousName: "backup_one", RecheckPercent: 100, Run: 1}
			if c.list != nil {
				opts.PreviousList = bytes.NewReader(c.list)
			}
			r := take(t, opts)
			checkAgainstSource(t, src, opts.Dest, r, names)
			if r.res.Refreshed != 1 || r.res.Linked != 9 {
				t.Errorf("result %+v, want 1 refreshed, 9 linked", r.res)
			}
			if !r.warned(bad) || !r.warned("backup_one") {
				t.Errorf("no warning naming %s and the backup: %q", bad, r.warns)
			}
			if lstat(t, filepath.Join(opts.Dest, bad)).Ino == lstat(t, filepath.Join(b1, bad)).Ino {
				t.Error("the unreadable inode is still linked")
			}
		})
	}
}

// A FIFO in place of the uploads folder is refused at once, not waited on.
func TestFIFOAsSourceIsRefused(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "uploads")
	if err := syscall.Mkfifo(src, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := takeRun(t, context.Background(), Options{Source: src, Dest: filepath.Join(tmp, "dst")})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a folder") {
			t.Errorf("FIFO as the uploads folder: %v", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the goroutine can end.
		if f, err := os.OpenFile(src, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal("a FIFO as the uploads folder hangs the backup")
	}
	if _, err := os.Lstat(filepath.Join(tmp, "dst")); err == nil {
		t.Error("the snapshot folder was made for a FIFO source")
	}
}

// lutimes sets the access and modification times of p to mt without
// following a symlink.
func lutimes(p string, mt syscall.Timespec) error {
	return fsmeta.SetTimes(unix.AT_FDCWD, p, unix.Timespec(mt), unix.Timespec(mt))
}
