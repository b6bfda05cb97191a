package fsmeta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func openDir(t *testing.T, p string) int {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// A source stat with setuid, setgid and sticky bits, another owner (as
// root) and times to the nanosecond, distinct atime and mtime.
func source(t *testing.T, dir string) *unix.Stat_t {
	t.Helper()
	p := filepath.Join(dir, "src")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Chmod(p, 0o7751); err != nil {
		t.Fatal(err)
	}
	at := unix.Timespec{Sec: 1_600_000_000, Nsec: 111_111_111}
	mt := unix.Timespec{Sec: 1_700_000_000, Nsec: 123_456_789}
	if err := SetTimes(unix.AT_FDCWD, p, at, mt); err != nil {
		t.Fatal(err)
	}
	return lstat(t, p)
}

func TestAttrsFile(t *testing.T) {
	for _, a := range []Attrs{{}, {Atime: true}, {Owner: true}, {Owner: true, Atime: true}} {
		dir := t.TempDir()
		src := source(t, dir)
		dfd := openDir(t, dir)
		fd, err := unix.Openat(dfd, "copy", CreateFlags, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		err = a.File(fd, dfd, "copy", src)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		got := lstat(t, filepath.Join(dir, "copy"))
		// Setuid and setgid survive only when chown came before chmod.
		if Mode(got) != 0o7751 {
			t.Errorf("%+v: mode %04o, want 7751", a, Mode(got))
		}
		if got.Mtim != src.Mtim {
			t.Errorf("%+v: mtime %v, want %v", a, got.Mtim, src.Mtim)
		}
		wantAt := src.Mtim
		if a.Atime {
			wantAt = src.Atim
		}
		if got.Atim != wantAt {
			t.Errorf("%+v: atime %v, want %v", a, got.Atim, wantAt)
		}
		if a.Owner && os.Geteuid() == 0 && (got.Uid != 1234 || got.Gid != 5678) {
			t.Errorf("%+v: owner %d:%d, want 1234:5678", a, got.Uid, got.Gid)
		}
		if !a.Owner && got.Uid != uint32(os.Geteuid()) {
			t.Errorf("%+v: owner %d changed without Owner", a, got.Uid)
		}
	}
}

// Symlink sets the link's own attributes and leaves what it points to alone.
func TestAttrsSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	src := source(t, dir)
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := lstat(t, victim)
	if err := os.Symlink(victim, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	dfd := openDir(t, dir)
	if err := (Attrs{Owner: true}).Symlink(dfd, "link", src); err != nil {
		t.Fatal(err)
	}
	if l := lstat(t, filepath.Join(dir, "link")); l.Mtim != src.Mtim {
		t.Errorf("link mtime %v, want %v", l.Mtim, src.Mtim)
	}
	after := lstat(t, victim)
	if after.Mtim != before.Mtim || after.Uid != before.Uid || Mode(after) != Mode(before) {
		t.Errorf("the link's target was changed: %+v", after)
	}
	// SetTimes through a path does not follow a symlink either.
	if err := SetTimes(unix.AT_FDCWD, filepath.Join(dir, "link"), src.Atim, src.Atim); err != nil {
		t.Fatal(err)
	}
	if lstat(t, victim).Mtim != before.Mtim {
		t.Error("SetTimes followed the symlink")
	}
}

func TestAttrsErrorsNameTheStep(t *testing.T) {
	dir := t.TempDir()
	src := source(t, dir)
	err := (Attrs{}).Times(openDir(t, dir), "missing", src)
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("got %v, want ENOENT", err)
	}
	if got := Name(err, `"a/b" in the stage`).Error(); got != `set times of "a/b" in the stage: no such file or directory` {
		t.Errorf("named: %q", got)
	}
	if got := Name(context.Canceled, "x").Error(); got != "x: context canceled" {
		t.Errorf("named plain error: %q", got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, unix.ENOSPC }

func TestCopy(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1000) // several reads of 4 KiB
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	c := NewCopier(4096)
	ctx := context.Background()

	var out bytes.Buffer
	n, got, err := c.Copy(ctx, bytes.NewReader(data), &out)
	if err != nil || n != int64(len(data)) || got != want || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy: n %d, sum %s, err %v, copied %d bytes", n, got, err, out.Len())
	}
	// Hashing only.
	if n, got, err := c.Copy(ctx, bytes.NewReader(data), nil); err != nil || n != int64(len(data)) || got != want {
		t.Fatalf("hash: n %d, sum %s, err %v", n, got, err)
	}
	// Empty input.
	empty := sha256.Sum256(nil)
	if n, got, err := c.Copy(ctx, bytes.NewReader(nil), nil); err != nil || n != 0 || got != hex.EncodeToString(empty[:]) {
		t.Fatalf("empty: n %d, sum %s, err %v", n, got, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Copy(cctx, bytes.NewReader(data), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	_, _, err = c.Copy(ctx, bytes.NewReader(data), failWriter{})
	var e *Error
	if !errors.As(err, &e) || e.Op != "write" || !errors.Is(err, unix.ENOSPC) {
		t.Errorf("write error: %v", err)
	}

	// A read error (a folder read as a file).
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, err = c.Copy(ctx, f, nil)
	if !errors.As(err, &e) || e.Op != "read" || !errors.Is(err, unix.EISDIR) {
		t.Errorf("read error: %v", err)
	}
}

func TestEntry(t *testing.T) {
	dir := t.TempDir()
	src := source(t, dir)
	e := Entry("a/src", manifest.TypeFile, src)
	if e.Path != "a/src" || e.Type != manifest.TypeFile || e.Mode != "7751" ||
		e.UID != int(src.Uid) || e.GID != int(src.Gid) || e.MTime.Sec != 1_700_000_000 || e.MTime.Nsec != 123_456_789 {
		t.Errorf("entry %+v", e)
	}
}

func TestReadlinkat(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("abcdefgh/", 100) + "end" // longer than the first buffer
	for _, target := range []string{"short", long} {
		if err := os.Symlink(target, filepath.Join(dir, "l")); err != nil {
			t.Fatal(err)
		}
		got, err := Readlinkat(openDir(t, dir), "l")
		if err != nil || got != target {
			t.Errorf("Readlinkat: %q, %v; want %q", got, err, target)
		}
		os.Remove(filepath.Join(dir, "l"))
	}
	if _, err := Readlinkat(openDir(t, dir), "none"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing link: %v", err)
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		p, dir string
		want   bool
	}{
		{"/a", "/a", true},
		{"/a/b", "/a", true},
		{"/a/b/c", "/a", true},
		{"/ab", "/a", false},
		{"/a", "/a/b", false},
		{"/", "/a", false},
		{"/a/..b", "/a", true},
		{"/x", "/", true},
	} {
		if got := Within(c.p, c.dir); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.p, c.dir, got, c.want)
		}
	}
}

func TestRealPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		link:                                real,
		filepath.Join(link, "not/made/yet"): filepath.Join(real, "not/made/yet"),
		filepath.Join(dir, "none", "x"):     filepath.Join(dir, "none", "x"),
		filepath.Join(real, "sub"):          filepath.Join(real, "sub"),
	} {
		if got := RealPath(p); got != want {
			t.Errorf("RealPath(%q) = %q, want %q", p, got, want)
		}
	}
	// A folder to be made below a symlink into another is within it.
	if !Within(RealPath(filepath.Join(link, "new")), RealPath(real)) {
		t.Error("a path through a symlink is not seen inside its target")
	}
}

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dfd := openDir(t, dir)

	var st unix.Stat_t
	fd, err := OpenRegular(dfd, "file", &st)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if want := lstat(t, filepath.Join(dir, "file")); st.Ino != want.Ino || st.Size != 3 {
		t.Errorf("stat of another inode: %+v", st)
	}
	// A FIFO without a writer would hang a blocking open.
	for name, want := range map[string]error{"link": unix.ELOOP, "fifo": ErrNotRegular, "sub": ErrNotRegular, "none": unix.ENOENT} {
		fd, err := OpenRegular(dfd, name, &st)
		if fd != -1 || !errors.Is(err, want) {
			t.Errorf("%s: fd %d, err %v; want %v", name, fd, err, want)
		}
	}
}
