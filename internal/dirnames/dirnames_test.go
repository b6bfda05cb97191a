package dirnames

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"golang.org/x/sys/unix"
)

func TestOrderInMemoryAndSpilled(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := 0; i < 1000; i++ {
		n := fmt.Sprintf("f-%05d\n%c.jpg", (i*7919)%1000, 'a'+i%26) // awkward: a newline in the name
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
		want = append(want, n)
	}
	sort.Strings(want)
	for _, max := range []int{DefaultMax, 100, 7} {
		d, _ := os.Open(dir)
		spill := t.TempDir()
		it, err := Open(d, spill, max)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			b := it.Batch(33)
			if len(b) == 0 {
				break
			}
			got = append(got, b...)
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		it.Close()
		if len(got) != len(want) {
			t.Fatalf("max %d: %d names, want %d", max, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("max %d: name %d = %q, want %q", max, i, got[i], want[i])
			}
		}
		if left, _ := os.ReadDir(spill); len(left) != 0 {
			t.Errorf("spill files left: %d", len(left))
		}
	}
}

// Spill files never get a name in the spill folder where O_TMPFILE works
// (so nothing can be removed by a name resolved again), and the fallback
// for filesystems without it leaves nothing behind.
func TestSpillFilesHaveNoName(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 50; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), nil, 0o644)
	}
	spill := t.TempDir()
	ifd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	defer unix.Close(ifd)
	if _, err := unix.InotifyAddWatch(ifd, spill, unix.IN_CREATE); err != nil {
		t.Skipf("no inotify: %v", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	it, err := Open(d, spill, 7)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(it.Batch(100)); n != 50 || it.Err() != nil {
		t.Fatalf("%d names, err %v", n, it.Err())
	}
	it.Close()
	buf := make([]byte, 4096)
	if n, err := unix.Read(ifd, buf); err != unix.EAGAIN {
		tmp, terr := unix.Open(spill, unix.O_TMPFILE|unix.O_RDWR, 0o600)
		if terr != nil {
			t.Skipf("no O_TMPFILE on %s: %v", spill, terr)
		}
		unix.Close(tmp)
		t.Errorf("names were created in the spill folder (%d bytes of inotify events, err %v)", n, err)
	}

	f, err := fsmeta.UnnamedFile(spill, ".directus-backup-names-", false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("x\x00"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spill); len(left) != 0 {
		t.Errorf("fallback spill file left a name: %v", left)
	}
}
