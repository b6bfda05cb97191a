package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// ---- helpers ----

// mtime returns a distinct time per i with a non-zero nanosecond part, so a
// copy that loses nanoseconds or mixes up files is caught.
func mtime(i int) time.Time {
	return time.Unix(1_600_000_000+int64(i)*3600, int64(100_000_001+i*7))
}

func writeFile(t testing.TB, p string, data []byte, mode os.FileMode, mt time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // after creation: umask must not interfere
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t testing.TB, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, p string, mt time.Time) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	if err := lutimes(p, syscall.NsecToTimespec(mt.UnixNano())); err != nil {
		t.Fatal(err)
	}
	// Guard the setup itself: the link, not its target, got the time.
	if got := lstat(t, p).Mtim.Nano(); got != mt.UnixNano() {
		t.Fatalf("setup: symlink %s mtime %d, want %d", p, got, mt.UnixNano())
	}
}

// setDirTimes gives every folder under root (root included) a distinct
// mtime, deepest first, once all files exist (creating a child changes its
// parent's mtime).
func setDirTimes(t testing.TB, root string) {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		mt := mtime(500 + i)
		if err := os.Chtimes(dirs[i], mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func lstat(t testing.TB, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func shaHex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// run is what one Take produced.
type run struct {
	res     Result
	entries []manifest.Entry
	list    []byte // the raw manifest.files.jsonl
	warns   []string
	onFile  []int64
}

func (r *run) entry(t testing.TB, p string) manifest.Entry {
	t.Helper()
	for _, e := range r.entries {
		if e.Path == p {
			return e
		}
	}
	t.Fatalf("no entry %q in list", p)
	return manifest.Entry{}
}

func (r *run) warned(substr string) bool {
	for _, w := range r.warns {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

// takeRun runs Take, capturing warnings, OnFile calls and the list.
func takeRun(t testing.TB, ctx context.Context, opts Options) (*run, error) {
	t.Helper()
	r := &run{}
	opts.Warn = func(msg string, args ...any) {
		r.warns = append(r.warns, fmt.Sprint(append([]any{msg}, args...)...))
	}
	opts.OnFile = func(n int64) { r.onFile = append(r.onFile, n) }
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	res, err := Take(ctx, opts, lw)
	r.res = res
	if cerr := lw.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	r.list = buf.Bytes()
	r.entries = parseList(t, r.list)
	return r, err
}

func take(t testing.TB, opts Options) *run {
	t.Helper()
	r, err := takeRun(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return r
}

func parseList(t testing.TB, data []byte) []manifest.Entry {
	t.Helper()
	rd := manifest.NewReader(bytes.NewReader(data))
	var out []manifest.Entry
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

func encodeList(t testing.TB, entries []manifest.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	for _, e := range entries {
		if err := lw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func asRoot() bool { return os.Geteuid() == 0 }

// buildTree makes the sample uploads tree used by most tests.
func buildTree(t testing.TB, src string) {
	t.Helper()
	mkdir(t, src, 0o755)
	big := make([]byte, 5<<20)
	rand.NewChaCha8([32]byte{1, 2, 3}).Read(big)

	writeFile(t, filepath.Join(src, "a", "b"), []byte("inside a\n"), 0o644, mtime(1))
	writeFile(t, filepath.Join(src, "a.b"), []byte("a dot b\n"), 0o644, mtime(2))
	writeFile(t, filepath.Join(src, "a.txt"), []byte("hello\n"), 0o644, mtime(3))
	writeFile(t, filepath.Join(src, "big.bin"), big, 0o644, mtime(4))
	mkdir(t, filepath.Join(src, "empty"), 0o755)
	writeFile(t, filepath.Join(src, "grp.txt"), []byte("group readable\n"), 0o640, mtime(5))
	mkdir(t, filepath.Join(src, "links"), 0o755)
	symlink(t, "does/not/exist", filepath.Join(src, "links", "dangling"), mtime(6))
	symlink(t, "../a.txt", filepath.Join(src, "links", "rel"), mtime(7))
	writeFile(t, filepath.Join(src, "nested", "deeper", "deepest", "file.bin"), []byte{0, 1, 2, 255}, 0o644, mtime(8))
	writeFile(t, filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755, mtime(9))
	writeFile(t, filepath.Join(src, "secret"), []byte("s3cret\n"), 0o600, mtime(10))
	mkdir(t, filepath.Join(src, "setgid"), 0o775|os.ModeSetgid)
	writeFile(t, filepath.Join(src, "setgid", "inner.txt"), []byte("inner\n"), 0o644, mtime(11))
	mkdir(t, filepath.Join(src, "sticky"), 0o777|os.ModeSticky)
	writeFile(t, filepath.Join(src, "suid"), []byte("not really a program\n"), 0o755|os.ModeSetuid, mtime(12))
	writeFile(t, filepath.Join(src, "unicode ü", "naïve café.txt"), []byte("ünïcödé\n"), 0o644, mtime(13))
	writeFile(t, filepath.Join(src, "with space.txt"), []byte("spaced out\n"), 0o644, mtime(14))
	setDirTimes(t, src)
}

// Counts of buildTree, written out by hand.
const (
	treeFiles    = 12
	treeDirs     = 10 // root, a, empty, links, nested, nested/deeper, nested/deeper/deepest, setgid, sticky, unicode ü
	treeSymlinks = 2
)

// compareTrees checks that dst is an exact copy of src (types, contents,
// permission bits, mtimes to the nanosecond, symlink targets, and owners
// when preserveOwner), that dst holds nothing else, and that entries lists
// every item in walk order with the source's attributes and the SHA-256 of
// its contents. Special files in src are expected to be absent.
func compareTrees(t *testing.T, src, dst string, entries []manifest.Entry, preserveOwner bool) {
	t.Helper()
	var want []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Type() {
		case 0, fs.ModeDir, fs.ModeSymlink:
		default:
			return nil // skipped by Take
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		want = append(want, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dst, p)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("copy holds\n%q\nwant\n%q", got, want)
	}
	if len(entries) != len(want) {
		t.Fatalf("list has %d entries, tree has %d items", len(entries), len(want))
	}

	for i, rel := range want {
		e := entries[i]
		if e.Path != rel {
			t.Fatalf("entry %d is %q, want %q", i, e.Path, rel)
		}
		sp, dp := filepath.Join(src, rel), filepath.Join(dst, rel)
		ss, ds := lstat(t, sp), lstat(t, dp)
		perm := ss.Mode & 0o7777
		if ds.Mode&syscall.S_IFMT != ss.Mode&syscall.S_IFMT {
			t.Errorf("%s: type %o, want %o", rel, ds.Mode&syscall.S_IFMT, ss.Mode&syscall.S_IFMT)
			continue
		}
		if ds.Mtim != ss.Mtim {
			t.Errorf("%s: mtime %d, want %d", rel, ds.Mtim.Nano(), ss.Mtim.Nano())
		}
		if e.MTime != manifest.TimeOf(ss.Mtim) {
			t.Errorf("%s: entry mtime %s, want %d", rel, e.MTime, ss.Mtim.Nano())
		}
		if e.Mode != fmt.Sprintf("%04o", perm) {
			t.Errorf("%s: entry mode %s, want %04o", rel, e.Mode, perm)
		}
		if e.UID != int(ss.Uid) || e.GID != int(ss.Gid) {
			t.Errorf("%s: entry owner %d:%d, want %d:%d", rel, e.UID, e.GID, ss.Uid, ss.Gid)
		}
		if preserveOwner && (ds.Uid != ss.Uid || ds.Gid != ss.Gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, ds.Uid, ds.Gid, ss.Uid, ss.Gid)
		}
		switch ss.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			if e.Type != manifest.TypeDir {
				t.Errorf("%s: entry type %s, want dir", rel, e.Type)
			}
			if ds.Mode&0o7777 != perm {
				t.Errorf("%s: mode %04o, want %04o", rel, ds.Mode&0o7777, perm)
			}
		case syscall.S_IFREG:
			data := readFile(t, sp)
			if e.Type != manifest.TypeFile {
				t.Errorf("%s: entry type %s, want file", rel, e.Type)
			}
			if ds.Mode&0o7777 != perm {
				t.Errorf("%s: mode %04o, want %04o", rel, ds.Mode&0o7777, perm)
			}
			if !bytes.Equal(readFile(t, dp), data) {
				t.Errorf("%s: contents differ", rel)
			}
			if e.Size != int64(len(data)) || e.SHA256 != shaHex(data) {
				t.Errorf("%s: entry size %d sha %s, want %d %s", rel, e.Size, e.SHA256, len(data), shaHex(data))
			}
		case syscall.S_IFLNK:
			st, _ := os.Readlink(sp)
			dt, _ := os.Readlink(dp)
			if e.Type != manifest.TypeSymlink || dt != st || e.Target != st {
				t.Errorf("%s: %s -> %q (entry %q), want symlink -> %q", rel, e.Type, dt, e.Target, st)
			}
		}
	}
}

// ---- full copy ----

func TestFullCopy(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "backup", "uploads")
	buildTree(t, src)
	mkdir(t, filepath.Dir(dst), 0o755)

	r := take(t, Options{Source: src, Dest: dst, PreserveOwner: asRoot()})
	compareTrees(t, src, dst, r.entries, asRoot())

	want := Result{Files: treeFiles, Dirs: treeDirs, Symlinks: treeSymlinks, Copied: treeFiles}
	for _, e := range r.entries {
		want.Bytes += e.Size
	}
	want.CopiedBytes = want.Bytes
	if want.Bytes < 5<<20 {
		t.Fatalf("tree bytes %d: big file missing", want.Bytes)
	}
	if r.res != want {
		t.Errorf("result %+v, want %+v", r.res, want)
	}
	if len(r.warns) != 0 {
		t.Errorf("unexpected warnings: %q", r.warns)
	}
	var onFile int64
	for _, n := range r.onFile {
		onFile += n
	}
	if len(r.onFile) != treeFiles || onFile != want.Bytes {
		t.Errorf("OnFile called %d times for %d bytes, want %d for %d", len(r.onFile), onFile, treeFiles, want.Bytes)
	}

	// Modes in unix numbering, spelled out (Go's fs.FileMode puts setuid
	// and friends elsewhere).
	modes := map[string]string{
		".": "0755", "secret": "0600", "run.sh": "0755", "grp.txt": "0640",
		"suid": "4755", "setgid": "2775", "sticky": "1777", "links/rel": "0777",
	}
	for p, m := range modes {
		if got := r.entry(t, p).Mode; got != m {
			t.Errorf("%s: entry mode %s, want %s", p, got, m)
		}
	}
	if e := r.entry(t, "links/rel"); e.Target != "../a.txt" {
		t.Errorf("links/rel target %q", e.Target)
	}
	if e := r.entry(t, "links/dangling"); e.Target != "does/not/exist" {
		t.Errorf("links/dangling target %q", e.Target)
	}
	if e := r.entry(t, "a.txt"); e.SHA256 != "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" {
		t.Errorf("a.txt sha %s, want sha256(\"hello\\n\")", e.SHA256)
	}
	if r.entries[0].Path != "." || r.entries[0].Type != manifest.TypeDir {
		t.Errorf("first entry %+v, want the root folder", r.entries[0])
	}
	if fi, err := os.Stat(filepath.Join(dst, "empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty folder not kept: %v", err)
	}
}

func TestSourceSymlinkIsFollowed(t *testing.T) {
	tmp := t.TempDir()
	real, link, dst := filepath.Join(tmp, "real"), filepath.Join(tmp, "uploads"), filepath.Join(tmp, "dst")
	writeFile(t, filepath.Join(real, "f.txt"), []byte("via link\n"), 0o644, mtime(1))
	writeFile(t, filepath.Join(real, "sub", "g.txt"), []byte("g\n"), 0o600, mtime(3))
	setDirTimes(t, real)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}

	r := take(t, Options{Source: link, Dest: dst})
	compareTrees(t, real, dst, r.entries, false)
	if fi, err := os.Lstat(dst); err != nil || !fi.IsDir() {
		t.Fatalf("dest is not a real folder: %v", err)
	}
}

// ---- incremental ----

func TestIncremental(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	b1, b2 := filepath.Join(tmp, "b1"), filepath.Join(tmp, "b2")
	buildTree(t, src)
	first := take(t, Options{Source: src, Dest: b1, PreserveOwner: asRoot()})

	// Changes: content+mtime, deletion, a new file, a chmod-only change.
	writeFile(t, filepath.Join(src, "a.txt"), []byte("hello, world\n"), 0o644, mtime(100))
	if err := os.Remove(filepath.Join(src, "with space.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "new.txt"), []byte("brand new\n"), 0o644, mtime(101))
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o700); err != nil { // mtime unchanged
		t.Fatal(err)
	}

	r := take(t, Options{
		Source: src, Dest: b2, Previous: b1,
		PreviousList: bytes.NewReader(first.list), PreserveOwner: asRoot(),
	})
	compareTrees(t, src, b2, r.entries, asRoot())

	copied := map[string]bool{"a.txt": true, "new.txt": true, "run.sh": true}
	var linked int64
	for _, e := range r.entries {
		if e.Type != manifest.TypeFile {
			continue
		}
		fi2, err := os.Lstat(filepath.Join(b2, e.Path))
		if err != nil {
			t.Fatal(err)
		}
		fi1, err1 := os.Lstat(filepath.Join(b1, e.Path))
		same := err1 == nil && os.SameFile(fi1, fi2)
		if copied[e.Path] && same {
			t.Errorf("%s: hard-linked to the previous backup, want a copy", e.Path)
		}
		if !copied[e.Path] {
			if !same {
				t.Errorf("%s: unchanged but not hard-linked to the previous backup", e.Path)
			}
			linked++
		}
	}
	// Of the original files: a.txt changed, run.sh chmod-ed, with space.txt gone.
	if linked != treeFiles-3 {
		t.Errorf("%d files linked, want %d", linked, treeFiles-3)
	}
	want := Result{Files: treeFiles, Dirs: treeDirs, Symlinks: treeSymlinks, Linked: linked, Copied: 3}
	for _, e := range r.entries {
		want.Bytes += e.Size
		if copied[e.Path] {
			want.CopiedBytes += e.Size
		}
	}
	if r.res != want {
		t.Errorf("result %+v, want %+v", r.res, want)
	}

	if e := r.entry(t, "a.txt"); e.SHA256 != shaHex([]byte("hello, world\n")) || e.MTime != manifest.TimeFromUnixNano(mtime(100).UnixNano()) {
		t.Errorf("a.txt entry %+v, want the new contents and mtime", e)
	}
	if got := readFile(t, filepath.Join(b1, "a.txt")); string(got) != "hello\n" {
		t.Errorf("previous backup's a.txt changed to %q", got)
	}
	if _, err := os.Lstat(filepath.Join(b2, "with space.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted file still in the new backup: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(b1, "with space.txt")); err != nil {
		t.Errorf("deleted file gone from the previous backup: %v", err)
	}
	if m := lstat(t, filepath.Join(b1, "run.sh")).Mode & 0o7777; m != 0o755 {
		t.Errorf("previous backup's run.sh mode became %04o, want 0755", m)
	}
	if m := lstat(t, filepath.Join(b2, "run.sh")).Mode & 0o7777; m != 0o700 {
		t.Errorf("new run.sh mode %04o, want 0700", m)
	}
	if len(r.warns) != 0 {
		t.Errorf("unexpected warnings: %q", r.warns)
	}
}

// The SHA-256 of a linked file must come from the previous list, not from
// reading the file. A fake but well-formed hash is planted in the previous
// list for one unchanged file: reading the file could never produce it, so
// finding it in the new list proves the list was used. A stale entry (other
// mtime) must not be trusted, and without a list the file must be read.
func TestLinkedHashFromPreviousList(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src)
	first := take(t, Options{Source: src, Dest: filepath.Join(tmp, "b1")})

	const fake = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
	entries := parseList(t, first.list)
	for i := range entries {
		switch entries[i].Path {
		case "a.b": // matches the file: its hash must be carried forward
			entries[i].SHA256 = fake
		case "grp.txt": // stale: another mtime, so the hash must not be used
			entries[i].SHA256 = fake
			entries[i].MTime.Nsec = (entries[i].MTime.Nsec + 1) % 1e9
		case "secret": // not a hash: must not be copied into the new list
			entries[i].SHA256 = "not-a-hash"
		}
	}
	planted := encodeList(t, entries)

	t.Run("with list", func(t *testing.T) {
		r := take(t, Options{
			Source: src, Dest: filepath.Join(tmp, "b2"), Previous: filepath.Join(tmp, "b1"),
			PreviousList: bytes.NewReader(planted),
		})
		if r.res.Linked != treeFiles {
			t.Fatalf("linked %d, want %d", r.res.Linked, treeFiles)
		}
		if got := r.entry(t, "a.b").SHA256; got != fake {
			t.Errorf("a.b sha %s: not carried over from the previous list", got)
		}
		for _, p := range []string{"grp.txt", "secret", "a.txt", "big.bin"} {
			data := readFile(t, filepath.Join(src, filepath.FromSlash(p)))
			if got := r.entry(t, p).SHA256; got != shaHex(data) {
				t.Errorf("%s sha %s, want the real %s", p, got, shaHex(data))
			}
		}
	})
	t.Run("without list", func(t *testing.T) {
		r := take(t, Options{Source: src, Dest: filepath.Join(tmp, "b3"), Previous: filepath.Join(tmp, "b1")})
		if r.res.Linked != treeFiles {
			t.Fatalf("linked %d, want %d", r.res.Linked, treeFiles)
		}
		compareTrees(t, src, filepath.Join(tmp, "b3"), r.entries, false) // real hashes everywhere
	})
}

func TestPreviousUnusable(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src)
	notDir := filepath.Join(tmp, "file")
	writeFile(t, notDir, []byte("x"), 0o644, mtime(1))
	dangling := filepath.Join(tmp, "dangling")
	if err := os.Symlink("nowhere", dangling); err != nil {
		t.Fatal(err)
	}

	for i, prev := range []string{filepath.Join(tmp, "missing"), notDir, dangling} {
		t.Run(filepath.Base(prev), func(t *testing.T) {
			dst := filepath.Join(tmp, fmt.Sprint("dst", i))
			r := take(t, Options{Source: src, Dest: dst, Previous: prev, PreviousList: strings.NewReader("garbage")})
			compareTrees(t, src, dst, r.entries, false)
			if r.res.Linked != 0 || r.res.Copied != treeFiles {
				t.Errorf("linked %d copied %d, want a full copy", r.res.Linked, r.res.Copied)
			}
			if !r.warned(prev) {
				t.Errorf("no warning naming %s: %q", prev, r.warns)
			}
		})
	}
}

// ---- special cases ----

// A previous backup on another filesystem cannot be hard-linked to (EXDEV):
// every file is copied instead, and the backup still succeeds.
func TestCrossDeviceFallsBackToCopy(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "snapshot-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	tmp := t.TempDir()
	if lstat(t, other).Dev == lstat(t, tmp).Dev {
		t.Skip("/dev/shm is on the same filesystem as", tmp)
	}
	src, prev, dst := filepath.Join(tmp, "src"), filepath.Join(other, "b1"), filepath.Join(tmp, "b2")
	buildTree(t, src)
	first := take(t, Options{Source: src, Dest: prev})
	r := take(t, Options{Source: src, Dest: dst, Previous: prev, PreviousList: bytes.NewReader(first.list)})
	compareTrees(t, src, dst, r.entries, false)
	if r.res.Linked != 0 || r.res.Copied != treeFiles {
		t.Errorf("linked %d copied %d, want every file copied", r.res.Linked, r.res.Copied)
	}
}

func TestFIFOSkipped(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"), 0o644, mtime(1))
	mkdir(t, filepath.Join(src, "sub"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(src, "sub", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "z.txt"), []byte("z"), 0o644, mtime(2))
	setDirTimes(t, src)

	r := take(t, Options{Source: src, Dest: dst})
	if r.res.Skipped != 1 || r.res.Files != 2 {
		t.Errorf("result %+v, want 1 skipped and 2 files", r.res)
	}
	if !r.warned("sub/pipe") {
		t.Errorf("no warning naming sub/pipe: %q", r.warns)
	}
	for _, e := range r.entries {
		if strings.Contains(e.Path, "pipe") {
			t.Errorf("FIFO listed: %+v", e)
		}
	}
	compareTrees(t, src, dst, r.entries, false) // also checks the FIFO is not in dst
}

// A file that grows while it is copied: the list must describe the bytes
// actually copied, and the copy keeps the mtime from before the copy (so the
// next backup sees a different mtime and copies it again).
func TestFileChangedWhileCopying(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	orig := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	writeFile(t, filepath.Join(src, "grow.bin"), orig, 0o644, mtime(1))

	// Take checks the context before every read of a copy; the hook appends
	// to the source as soon as the copy's destination exists, i.e. after
	// Take has taken the size and before it reads.
	appended := false
	ctx := &hookCtx{Context: context.Background(), hook: func() {
		if appended {
			return
		}
		if _, err := os.Lstat(filepath.Join(dst, "grow.bin")); err != nil {
			return
		}
		f, err := os.OpenFile(filepath.Join(src, "grow.bin"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.Write(bytes.Repeat([]byte{'+'}, 1<<20))
		f.Close()
		appended = true
	}}
	r, err := takeRun(t, ctx, Options{Source: src, Dest: dst})
	if err != nil {
		t.Fatal(err)
	}
	if !appended {
		t.Fatal("hook never ran during the copy")
	}
	if !r.warned("grow.bin") {
		t.Errorf("no warning naming grow.bin: %q", r.warns)
	}
	now := readFile(t, filepath.Join(src, "grow.bin"))
	copied := readFile(t, filepath.Join(dst, "grow.bin"))
	e := r.entry(t, "grow.bin")
	if !bytes.Equal(copied, now) || e.Size != int64(len(copied)) || e.SHA256 != shaHex(copied) {
		t.Errorf("entry size %d sha %s; copy has %d bytes sha %s", e.Size, e.SHA256, len(copied), shaHex(copied))
	}
	if e.MTime != manifest.TimeFromUnixNano(mtime(1).UnixNano()) || manifest.TimeOf(lstat(t, filepath.Join(dst, "grow.bin")).Mtim) != e.MTime {
		t.Errorf("mtime entry %s copy %d, want the pre-copy %d", e.MTime,
			lstat(t, filepath.Join(dst, "grow.bin")).Mtim.Nano(), mtime(1).UnixNano())
	}
	if r.res.Bytes != e.Size || r.res.CopiedBytes != e.Size {
		t.Errorf("result %+v, want bytes %d", r.res, e.Size)
	}
}

// A file deleted after its folder was listed is left out with a warning,
// like rsync's "file has vanished", instead of failing the backup.
func TestVanishedFile(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"), 0o644, mtime(1))
	writeFile(t, filepath.Join(src, "b.txt"), []byte("b"), 0o644, mtime(2))
	opts := Options{Source: src, Dest: dst}
	r := &run{}
	opts.Warn = func(msg string, args ...any) { r.warns = append(r.warns, fmt.Sprint(append([]any{msg}, args...)...)) }
	// Remove b.txt once a.txt has been copied and before b.txt is looked
	// at: Take checks the context before each item.
	ctx := &hookCtx{Context: context.Background(), hook: func() {
		if _, err := os.Stat(filepath.Join(dst, "a.txt")); err == nil {
			os.Remove(filepath.Join(src, "b.txt"))
		}
	}}
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	res, err := Take(ctx, opts, lw)
	if err != nil {
		t.Fatal(err)
	}
	lw.Close()
	if res.Files != 1 || !r.warned("b.txt") {
		t.Errorf("result %+v warnings %q, want 1 file and a warning naming b.txt", res, r.warns)
	}
	if got := parseList(t, buf.Bytes()); len(got) != 2 || got[1].Path != "a.txt" {
		t.Errorf("list %+v, want root and a.txt", got)
	}
}

// ---- cancellation ----

// hookCtx runs hook on every Err call, so a test can act at the exact
// points where Take checks for cancellation.
type hookCtx struct {
	context.Context
	hook func()
}

func (c *hookCtx) Err() error {
	c.hook()
	return c.Context.Err()
}

func TestCancelled(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src)

	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := takeRun(t, ctx, Options{Source: src, Dest: filepath.Join(tmp, "d1")})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("between files", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := Options{Source: src, Dest: filepath.Join(tmp, "d2"), OnFile: func(int64) { cancel() }}
		var buf bytes.Buffer
		res, err := Take(ctx, opts, manifest.NewListWriter(&buf))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		if res.Files != 1 {
			t.Errorf("%d files done after cancel in the first OnFile, want 1", res.Files)
		}
	})
	t.Run("inside a long copy", func(t *testing.T) {
		dst := filepath.Join(tmp, "d3")
		huge := filepath.Join(tmp, "huge")
		writeFile(t, filepath.Join(huge, "huge.bin"), make([]byte, 32<<20), 0o644, mtime(1))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancel once 2 MiB of the 32 MiB file are written.
		hc := &hookCtx{Context: ctx, hook: func() {
			if fi, err := os.Lstat(filepath.Join(dst, "huge.bin")); err == nil && fi.Size() >= 2<<20 {
				cancel()
			}
		}}
		_, err := takeRun(t, hc, Options{Source: huge, Dest: dst})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "huge.bin") {
			t.Fatalf("err %v, want context.Canceled naming huge.bin", err)
		}
		if fi, err := os.Lstat(filepath.Join(dst, "huge.bin")); err != nil || fi.Size() > 8<<20 {
			t.Errorf("copy went on after cancel: %v %v", fi.Size(), err)
		}
	})
}

// ---- order ----

func TestEntriesInComparePathsOrder(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	for i, p := range []string{"a/b/c", "a/b.c", "a-b", "a.b", "a0", "b", "A", "é"} {
		writeFile(t, filepath.Join(src, filepath.FromSlash(p)), []byte(p), 0o644, mtime(i))
	}
	r := take(t, Options{Source: src, Dest: dst})
	var got []string
	for _, e := range r.entries {
		got = append(got, e.Path)
	}
	want := []string{".", "A", "a", "a/b", "a/b/c", "a/b.c", "a-b", "a.b", "a0", "b", "é"}
	if !slices.Equal(got, want) {
		t.Fatalf("order\n%q\nwant\n%q", got, want)
	}
	for i := 1; i < len(got); i++ {
		if manifest.ComparePaths(got[i-1], got[i]) >= 0 {
			t.Errorf("ComparePaths(%q, %q) >= 0", got[i-1], got[i])
		}
	}
	if sort.StringsAreSorted(got) {
		t.Error("plain string order would pass too: the names no longer test anything")
	}
}

// An outside check of manifest.ComparePaths, on which the merge with the
// previous list relies: it must be the order filepath.WalkDir visits.
func TestComparePathsMatchesWalkDir(t *testing.T) {
	less := [][2]string{
		{".", "a"}, {"a", "a/b"}, {"a/b", "a.b"}, {"a/b/c", "a.b"}, {"a/b/c", "a/b.c"},
		{"a-b", "a.b"}, {"a/z", "a0"}, {"A", "a"}, {"a/b", "a b"}, {"z", "é"},
	}
	for _, p := range less {
		if c := manifest.ComparePaths(p[0], p[1]); c >= 0 {
			t.Errorf("ComparePaths(%q, %q) = %d, want < 0", p[0], p[1], c)
		}
		if c := manifest.ComparePaths(p[1], p[0]); c <= 0 {
			t.Errorf("ComparePaths(%q, %q) = %d, want > 0", p[1], p[0], c)
		}
	}
	if c := manifest.ComparePaths("a/b", "a/b"); c != 0 {
		t.Errorf("ComparePaths equal = %d", c)
	}

	root := t.TempDir()
	names := []string{"a/b/c", "a/b.c", "a/b0", "a-b/x", "a.b", "a0", "a b", "b", "A", "é", "e/é/z"}
	for _, n := range names {
		writeFile(t, filepath.Join(root, filepath.FromSlash(n)), nil, 0o644, mtime(0))
	}
	var walked []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		walked = append(walked, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(walked)
	slices.Reverse(sorted)
	slices.SortFunc(sorted, manifest.ComparePaths)
	if !slices.Equal(sorted, walked) {
		t.Errorf("ComparePaths sort\n%q\nWalkDir\n%q", sorted, walked)
	}
}

// ---- errors ----

func TestErrors(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, filepath.Join(src, "f"), []byte("f"), 0o644, mtime(1))

	t.Run("source missing", func(t *testing.T) {
		missing := filepath.Join(tmp, "missing")
		_, err := takeRun(t, context.Background(), Options{Source: missing, Dest: filepath.Join(tmp, "d1")})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("err %v, want not-exist naming %s", err, missing)
		}
		if _, err := os.Lstat(filepath.Join(tmp, "d1")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("dest created although the source is missing")
		}
	})
	t.Run("source not a folder", func(t *testing.T) {
		f := filepath.Join(src, "f")
		_, err := takeRun(t, context.Background(), Options{Source: f, Dest: filepath.Join(tmp, "d2")})
		if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "not a folder") {
			t.Errorf("err %v, want not a folder naming %s", err, f)
		}
	})
	t.Run("dest exists", func(t *testing.T) {
		d := filepath.Join(tmp, "d3")
		writeFile(t, filepath.Join(d, "keep"), []byte("keep"), 0o644, mtime(1))
		_, err := takeRun(t, context.Background(), Options{Source: src, Dest: d})
		if !errors.Is(err, fs.ErrExist) {
			t.Errorf("err %v, want exists", err)
		}
		if _, err := os.Lstat(filepath.Join(d, "f")); err == nil {
			t.Errorf("copied into an existing dest")
		}
	})
	t.Run("dest inside source", func(t *testing.T) {
		_, err := takeRun(t, context.Background(), Options{Source: src, Dest: filepath.Join(src, "zz-backup")})
		if err == nil || !strings.Contains(err.Error(), "inside") {
			t.Errorf("err %v, want dest-inside-source", err)
		}
	})
}

// Unreadable items must fail the backup, naming them. Root reads
// everything, so as root the test reruns itself as nobody.
func TestUnreadableIsError(t *testing.T) {
	if asRoot() {
		rerunAsNobody(t, "TestUnreadableIsError", "TestUnreadableIsError/file", "TestUnreadableIsError/folder")
		return
	}
	t.Run("file", func(t *testing.T) {
		tmp := t.TempDir()
		src := filepath.Join(tmp, "src")
		writeFile(t, filepath.Join(src, "a.txt"), []byte("a"), 0o644, mtime(1))
		writeFile(t, filepath.Join(src, "locked.txt"), []byte("no"), 0, mtime(2))
		_, err := takeRun(t, context.Background(), Options{Source: src, Dest: filepath.Join(tmp, "dst")})
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "locked.txt") {
			t.Fatalf("err %v, want permission error naming locked.txt", err)
		}
	})
	t.Run("folder", func(t *testing.T) {
		tmp := t.TempDir()
		src := filepath.Join(tmp, "src")
		writeFile(t, filepath.Join(src, "closed", "x"), []byte("x"), 0o644, mtime(1))
		mkdir(t, filepath.Join(src, "closed"), 0)
		t.Cleanup(func() { os.Chmod(filepath.Join(src, "closed"), 0o755) }) // let TempDir remove it
		_, err := takeRun(t, context.Background(), Options{Source: src, Dest: filepath.Join(tmp, "dst")})
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("err %v, want permission error naming closed", err)
		}
	})
}

// rerunAsNobody runs the test binary again as uid/gid 65534 with only the
// named test, and fails unless every name in mustPass passed.
func rerunAsNobody(t *testing.T, name string, mustPass ...string) {
	t.Helper()
	dir := t.TempDir() // <tmp>/<test name><n>/001, both 0700: open them up for nobody
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "snapshot.test")
	writeFile(t, bin, readFile(t, os.Args[0]), 0o755, time.Now())
	tmp := filepath.Join(dir, "tmp")
	mkdir(t, tmp, 0o777|os.ModeSticky)

	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	for _, n := range mustPass {
		if !strings.Contains(string(out), "--- PASS: "+n+" ") {
			t.Errorf("as nobody, %s did not pass:\n%s", n, out)
		}
	}
}

// As root (rsync -a as root), owners are copied, including on symlinks, and
// an owner-only change means a copy, not a link.
func TestPreserveOwner(t *testing.T) {
	if !asRoot() {
		t.Skip("needs root to chown")
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	b1, b2, b3 := filepath.Join(tmp, "b1"), filepath.Join(tmp, "b2"), filepath.Join(tmp, "b3")
	f := filepath.Join(src, "owned.txt")
	writeFile(t, f, []byte("owned"), 0o644, mtime(1))
	if err := os.Lchown(f, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	// chmod after chown: chown clears setuid, so the copy must chown first too.
	if err := os.Chmod(f, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(src, "owned-dir"), 0o750|os.ModeSetgid)
	if err := os.Lchown(filepath.Join(src, "owned-dir"), 2345, 6789); err != nil {
		t.Fatal(err)
	}
	symlink(t, "owned.txt", filepath.Join(src, "owned-link"), mtime(2))
	if err := os.Lchown(filepath.Join(src, "owned-link"), 3456, 7890); err != nil {
		t.Fatal(err)
	}
	if err := lutimes(filepath.Join(src, "owned-link"), syscall.NsecToTimespec(mtime(2).UnixNano())); err != nil { // lchown touched ctime only, but be sure
		t.Fatal(err)
	}
	setDirTimes(t, src)

	first := take(t, Options{Source: src, Dest: b1, PreserveOwner: true})
	compareTrees(t, src, b1, first.entries, true)
	for p, uid := range map[string]int{"owned.txt": 1234, "owned-dir": 2345, "owned-link": 3456} {
		if s := lstat(t, filepath.Join(b1, p)); int(s.Uid) != uid {
			t.Errorf("%s: uid %d, want %d", p, s.Uid, uid)
		}
		if e := first.entry(t, p); e.UID != uid {
			t.Errorf("%s: entry uid %d, want %d", p, e.UID, uid)
		}
	}
	if e := first.entry(t, "owned.txt"); e.Mode != "4755" || e.GID != 5678 {
		t.Errorf("owned.txt entry %+v, want mode 4755 gid 5678", e)
	}

	// Owner-only change.
	if err := os.Lchown(f, 1235, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	second := take(t, Options{Source: src, Dest: b2, Previous: b1, PreviousList: bytes.NewReader(first.list), PreserveOwner: true})
	compareTrees(t, src, b2, second.entries, true)
	fi1, _ := os.Lstat(filepath.Join(b1, "owned.txt"))
	fi2, _ := os.Lstat(filepath.Join(b2, "owned.txt"))
	if os.SameFile(fi1, fi2) || second.res.Copied != 1 {
		t.Errorf("owner change: linked (copied %d), want a copy", second.res.Copied)
	}
	if s := lstat(t, filepath.Join(b1, "owned.txt")); s.Uid != 1234 {
		t.Errorf("previous backup's owner changed to %d", s.Uid)
	}

	// Without -o, rsync ignores owners when matching: linked.
	third := take(t, Options{Source: src, Dest: b3, Previous: b1, PreviousList: bytes.NewReader(first.list)})
	fi3, _ := os.Lstat(filepath.Join(b3, "owned.txt"))
	if !os.SameFile(fi1, fi3) || third.res.Linked != 1 {
		t.Errorf("owner change without PreserveOwner: not linked (linked %d)", third.res.Linked)
	}
}

// ---- benchmark ----

// BenchmarkTakeIncremental measures the common case: a second backup of
// 2000 small unchanged files, all hard-linked with hashes from the list.
func BenchmarkTakeIncremental(b *testing.B) {
	tmp := b.TempDir()
	src := filepath.Join(tmp, "src")
	for i := range 2000 {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d.jpg", i))
		writeFile(b, p, []byte(strings.Repeat("x", 1000+i)), 0o644, mtime(i))
	}
	base := filepath.Join(tmp, "base")
	first := take(b, Options{Source: src, Dest: base})
	i := 0
	for b.Loop() {
		i++
		r := take(b, Options{Source: src, Dest: filepath.Join(tmp, fmt.Sprint("b", i)), Previous: base,
			PreviousList: bytes.NewReader(first.list)})
		if r.res.Linked != 2000 {
			b.Fatalf("linked %d", r.res.Linked)
		}
	}
}
