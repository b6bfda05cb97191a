package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// ---- helpers (prefixed: the package is shared with the database restore) ----

// uploadsMTime returns a distinct time per i with a non-zero nanosecond
// part, so a restore that loses nanoseconds or mixes up items is caught.
func uploadsMTime(i int) time.Time {
	return time.Unix(1_600_000_000+int64(i)*3600, int64(100_000_001+i*7))
}

func uploadsWriteFile(t *testing.T, p string, data []byte, mode uint32, mt time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(p, mode); err != nil { // after creation: no umask
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func uploadsSymlink(t *testing.T, target, p string, mt time.Time) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// uploadsSetDirs gives every folder under root (root included) its mode
// (0755 unless listed) and a distinct mtime, deepest first, once all items
// exist: creating a child changes its parent's mtime.
func uploadsSetDirs(t *testing.T, root string, modes map[string]uint32) {
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
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for i, d := range dirs {
		rel, _ := filepath.Rel(root, d)
		mode, ok := modes[filepath.ToSlash(rel)]
		if !ok {
			mode = 0o755
		}
		if err := syscall.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		mt := uploadsMTime(100 + i)
		if err := os.Chtimes(d, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// uploadsKeepDirTime runs f, which changes something inside folder dir, and
// puts dir's mtime back, so that a tampering test changes only what it means
// to change.
func uploadsKeepDirTime(t *testing.T, dir string, f func()) {
	t.Helper()
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	f()
	if err := os.Chtimes(dir, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// uploadsMakeSource builds a live uploads tree with every kind of item a
// restore must bring back exactly.
func uploadsMakeSource(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "live-uploads")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	uploadsWriteFile(t, filepath.Join(src, "a/b/c/deep.txt"), []byte("deep inside\n"), 0o644, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(src, "a/top.txt"), []byte("top of a\n"), 0o644, uploadsMTime(2))
	uploadsWriteFile(t, filepath.Join(src, "with space/ü ñ 文件.txt"), []byte("unicode name\n"), 0o644, uploadsMTime(3))
	uploadsWriteFile(t, filepath.Join(src, "shared/secret.txt"), []byte("only the owner\n"), 0o600, uploadsMTime(4))
	uploadsWriteFile(t, filepath.Join(src, "bin/run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755, uploadsMTime(5))
	uploadsWriteFile(t, filepath.Join(src, "big.bin"), big, 0o644, uploadsMTime(6))
	uploadsWriteFile(t, filepath.Join(src, "old.txt"), []byte("written long ago\n"), 0o644,
		time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC))
	uploadsWriteFile(t, filepath.Join(src, "empty.txt"), nil, 0o644, uploadsMTime(7))
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	uploadsSymlink(t, "a/b/c/deep.txt", filepath.Join(src, "link"), uploadsMTime(8))
	uploadsSymlink(t, "does/not/exist", filepath.Join(src, "dangling"), uploadsMTime(9))
	uploadsSetDirs(t, src, map[string]uint32{"shared": 0o2775, "empty": 0o700})
	return src
}

// uploadsMakeBackup makes BACKUPS_DIR/backup_x_1 from src the way a backup
// run does (snapshot.Take writing the entry list, then manifest.json), and
// returns it as repo.List sees it. A legacy backup has the uploads and a
// dump but no manifest and no list.
func uploadsMakeBackup(t *testing.T, src string, preserveOwner, legacy bool) repo.Backup {
	t.Helper()
	backups := filepath.Join(t.TempDir(), "backups")
	bdir := filepath.Join(backups, "backup_x_1")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lw *manifest.ListWriter
	var lf *os.File
	if legacy {
		lw = manifest.NewListWriter(io.Discard)
	} else {
		var err error
		lf, err = os.Create(filepath.Join(bdir, manifest.FilesListName))
		if err != nil {
			t.Fatal(err)
		}
		lw = manifest.NewListWriter(lf)
	}
	res, err := snapshot.Take(t.Context(), snapshot.Options{
		Source: src, Dest: filepath.Join(bdir, repo.BackupUploadsName), PreserveOwner: preserveOwner,
	}, lw)
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, repo.DumpGzip), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !legacy {
		if err := lf.Close(); err != nil {
			t.Fatal(err)
		}
		m := &manifest.Manifest{
			Format: manifest.Format, Tool: "directus-backup", Name: "backup_x_1", Timestamp: 1,
			Database: manifest.Database{File: repo.DumpGzip, Compression: "gzip"},
			Uploads: manifest.Uploads{
				Source: src, Files: res.Files, Dirs: res.Dirs, Symlinks: res.Symlinks, Bytes: res.Bytes,
				Copied: res.Copied, CopiedBytes: res.CopiedBytes,
				ListFile: manifest.FilesListName, ListSHA256: lw.SHA256(), Entries: lw.Count(),
			},
		}
		if err := manifest.Write(bdir, m); err != nil {
			t.Fatal(err)
		}
	}
	list, err := repo.List(backups)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("setup: repo.List found %d backups, want 1", len(list))
	}
	want := repo.Complete
	if legacy {
		want = repo.Legacy
	}
	if list[0].State != want {
		t.Fatalf("setup: backup state %s, want %s (err %v)", list[0].State, want, list[0].Err)
	}
	return list[0]
}

// uploadsCopyTree makes dst an exact copy of src (an existing uploads
// folder to restore over).
func uploadsCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	if _, err := snapshot.Take(t.Context(), snapshot.Options{Source: src, Dest: dst, PreserveOwner: os.Geteuid() == 0},
		manifest.NewListWriter(io.Discard)); err != nil {
		t.Fatal(err)
	}
}

// uploadsTree describes every item under root, keyed by slash path ("."
// for root): type, mode bits, mtime in ns, owner, and size with SHA-256 or
// link target. withIno adds the inode, to tell "unchanged" from "replaced
// by an equal copy".
func uploadsTree(t *testing.T, root string, withIno bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fmt.Sprintf("%s mode=%04o mtime=%d owner=%d:%d", fi.Mode().Type(), st.Mode&0o7777, st.Mtim.Nano(), st.Uid, st.Gid)
		switch fi.Mode().Type() {
		case 0:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			s += fmt.Sprintf(" size=%d sha=%s", len(data), hex.EncodeToString(sum[:8]))
		case fs.ModeSymlink:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			s += " -> " + l
		}
		if withIno {
			s += fmt.Sprintf(" ino=%d", st.Ino)
		}
		out[filepath.ToSlash(rel)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// uploadsSameTree fails the test with every difference between two trees.
func uploadsSameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diffs []string
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			diffs = append(diffs, fmt.Sprintf("  %q missing (want %s)", k, w))
		case !wok:
			diffs = append(diffs, fmt.Sprintf("  %q unexpected (%s)", k, g))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("  %q:\n    got  %s\n    want %s", k, g, w))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: %d differences:\n%s", what, len(diffs), strings.Join(diffs, "\n"))
	}
}

// uploadsOnlyEntries checks that dir holds exactly the given names: no
// stage, temporary list or old tree left behind.
func uploadsOnlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// uploadsCount counts the files, folders (root included), symlinks and
// file bytes of a tree.
func uploadsCount(t *testing.T, root string) (files, dirs, links, bytes int64) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Type() {
		case fs.ModeDir:
			dirs++
		case fs.ModeSymlink:
			links++
		case 0:
			files++
			fi, err := d.Info()
			if err != nil {
				return err
			}
			bytes += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

// uploadsWarnings collects Warn calls.
type uploadsWarnings struct{ msgs []string }

func (w *uploadsWarnings) warn(msg string, args ...any) {
	w.msgs = append(w.msgs, fmt.Sprint(append([]any{msg}, args...)...))
}

func (w *uploadsWarnings) has(sub string) bool {
	return slices.ContainsFunc(w.msgs, func(m string) bool { return strings.Contains(m, sub) })
}

func uploadsFlipByte(t *testing.T, p string, off int64) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Same size, same mtime: only the content tells.
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

var uploadsRoot = os.Geteuid() == 0

// ---- tests ----

func TestUploadsIntoMissingTarget(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")

	var progressFiles, progressBytes int64
	res, err := Uploads(t.Context(), UploadsOptions{
		Backup: b, Target: target, PreserveOwner: uploadsRoot,
		OnFile: func(n int64) { progressFiles++; progressBytes += n },
	})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "restored tree vs source", uploadsTree(t, target, false), uploadsTree(t, src, false))

	files, dirs, links, bytes := uploadsCount(t, src)
	if res.Files != files || res.Dirs != dirs || res.Symlinks != links || res.Bytes != bytes {
		t.Errorf("result counts files=%d dirs=%d symlinks=%d bytes=%d, want %d %d %d %d",
			res.Files, res.Dirs, res.Symlinks, res.Bytes, files, dirs, links, bytes)
	}
	if !res.Verified || res.Kept != 0 || res.Removed != 0 || res.Duration <= 0 {
		t.Errorf("result %+v: want Verified, nothing kept or removed, a duration", res)
	}
	if progressFiles != files || progressBytes != bytes {
		t.Errorf("OnFile saw %d files, %d bytes; want %d, %d", progressFiles, progressBytes, files, bytes)
	}

	// Spelled out, so a tree comparison that ignores them cannot hide it.
	if fi, err := os.Lstat(filepath.Join(target, "shared")); err != nil || fi.Mode()&fs.ModeSetgid == 0 {
		t.Errorf("shared/ lost its setgid bit: %v %v", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(target, "dangling")); err != nil || l != "does/not/exist" {
		t.Errorf("dangling symlink: %q %v", l, err)
	}
	if ents, err := os.ReadDir(filepath.Join(target, "empty")); err != nil || len(ents) != 0 {
		t.Errorf("empty folder: %v %v", ents, err)
	}

	// Independent copies: the live folder must not share inodes with the
	// backup, or writing to it would change the backup.
	bu := filepath.Join(b.Path, repo.BackupUploadsName)
	n := 0
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		a, err := os.Lstat(p)
		if err != nil {
			return err
		}
		c, err := os.Lstat(filepath.Join(bu, rel))
		if err != nil {
			return err
		}
		if os.SameFile(a, c) {
			t.Errorf("%s is a hard link into the backup", rel)
		}
		n++
		return nil
	})
	if err != nil || int64(n) != files {
		t.Fatalf("checked %d files (err %v), want %d", n, err, files)
	}
	uploadsOnlyEntries(t, parent, "uploads")
}

func TestUploadsOverExistingTarget(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)

	// The live folder drifted from the backup: changed, deleted, retyped
	// and extra items.
	uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("CHANGED inside\n"), 0o666, uploadsMTime(50))
	if err := os.Remove(filepath.Join(target, "old.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "empty")); err != nil {
		t.Fatal(err)
	}
	// A file where the backup has a folder.
	uploadsWriteFile(t, filepath.Join(target, "empty"), []byte("not kept either\n"), 0o644, uploadsMTime(49))
	if err := syscall.Chmod(filepath.Join(target, "bin/run.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "link")); err != nil {
		t.Fatal(err)
	}
	uploadsSymlink(t, "elsewhere", filepath.Join(target, "link"), uploadsMTime(51))
	if err := os.Remove(filepath.Join(target, "a/top.txt")); err != nil { // a folder where the backup has a file
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(target, "a/top.txt/inner.txt"), []byte("cannot be kept\n"), 0o644, uploadsMTime(52))
	uploadsWriteFile(t, filepath.Join(target, "extra.txt"), []byte("uploaded after the backup\n"), 0o640, uploadsMTime(53))
	uploadsWriteFile(t, filepath.Join(target, "with space/extra note.txt"), []byte("another\n"), 0o600, uploadsMTime(54))
	uploadsWriteFile(t, filepath.Join(target, "extra/nested/x.txt"), []byte("deeper\n"), 0o644, uploadsMTime(55))
	if err := os.Mkdir(filepath.Join(target, "extra/emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	uploadsSymlink(t, "extra.txt", filepath.Join(target, "extra-link"), uploadsMTime(56))
	uploadsSetDirs(t, filepath.Join(target, "extra"), map[string]uint32{".": 0o2750, "emptydir": 0o711})
	extras := []string{"extra", "extra-link", "extra.txt", "extra/emptydir", "extra/nested", "extra/nested/x.txt", "with space/extra note.txt"}

	before := uploadsTree(t, target, false)
	want := uploadsTree(t, src, false)
	for _, e := range extras {
		want[e] = before[e]
	}
	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "merged tree", uploadsTree(t, target, false), want)
	if res.Kept != int64(len(extras)) || res.Removed != 2 || !res.Verified {
		t.Errorf("merge: Kept %d Removed %d Verified %v, want %d, 2 (a/top.txt/inner.txt, the file empty), true",
			res.Kept, res.Removed, res.Verified, len(extras))
	}
	if !w.has("not a folder in the backup") || !w.has("is a folder in the backup") {
		t.Errorf("no warning about the items that could not be kept: %q", w.msgs)
	}
	uploadsOnlyEntries(t, parent, "uploads")

	// With Force the extras go and the result is the backup exactly.
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "forced tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
	if res.Kept != 0 || res.Removed != int64(len(extras)) {
		t.Errorf("force: Kept %d Removed %d, want 0, %d", res.Kept, res.Removed, len(extras))
	}
	uploadsOnlyEntries(t, parent, "uploads")
}

// Tampering with the backup is found before anything is changed.
func TestUploadsTamperedBackup(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, bdir string) // bdir: the backup folder
		wantPath string                          // named in the error
	}{
		{"flipped byte", func(t *testing.T, bdir string) {
			uploadsFlipByte(t, filepath.Join(bdir, "uploads/big.bin"), 2<<20+5)
		}, "big.bin"},
		{"planted file", func(t *testing.T, bdir string) {
			uploadsKeepDirTime(t, filepath.Join(bdir, "uploads/a/b"), func() {
				uploadsWriteFile(t, filepath.Join(bdir, "uploads/a/b/planted.php"), []byte("<?php"), 0o644, uploadsMTime(60))
			})
		}, "a/b/planted.php"},
		{"deleted file", func(t *testing.T, bdir string) {
			uploadsKeepDirTime(t, filepath.Join(bdir, "uploads/with space"), func() {
				if err := os.Remove(filepath.Join(bdir, "uploads/with space/ü ñ 文件.txt")); err != nil {
					t.Fatal(err)
				}
			})
		}, "with space/ü ñ 文件.txt"},
		{"chmod", func(t *testing.T, bdir string) {
			if err := syscall.Chmod(filepath.Join(bdir, "uploads/shared/secret.txt"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "shared/secret.txt"},
		{"touched", func(t *testing.T, bdir string) {
			mt := uploadsMTime(61)
			if err := os.Chtimes(filepath.Join(bdir, "uploads/old.txt"), mt, mt); err != nil {
				t.Fatal(err)
			}
		}, "old.txt"},
		{"retargeted symlink", func(t *testing.T, bdir string) {
			uploadsKeepDirTime(t, filepath.Join(bdir, "uploads"), func() {
				p := filepath.Join(bdir, "uploads/link")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				uploadsSymlink(t, "/etc/passwd", p, uploadsMTime(8))
			})
		}, "link"},
		{"file and entry list changed together", func(t *testing.T, bdir string) {
			// Only the list's own SHA-256 in manifest.json can tell.
			p := filepath.Join(bdir, "uploads/a/top.txt")
			uploadsFlipByte(t, p, 0)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			lp := filepath.Join(bdir, manifest.FilesListName)
			lf, err := os.Open(lp)
			if err != nil {
				t.Fatal(err)
			}
			var ents []manifest.Entry
			r := manifest.NewReader(lf)
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Path == "a/top.txt" {
					e.SHA256 = hex.EncodeToString(sum[:])
				}
				ents = append(ents, e)
			}
			lf.Close()
			out, err := os.Create(lp)
			if err != nil {
				t.Fatal(err)
			}
			lw := manifest.NewListWriter(out)
			for _, e := range ents {
				if err := lw.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}, manifest.FilesListName},
	}
	for _, tc := range cases {
		for _, existing := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/existing=%v", tc.name, existing), func(t *testing.T) {
				src := uploadsMakeSource(t)
				b := uploadsMakeBackup(t, src, uploadsRoot, false)
				tc.tamper(t, b.Path)
				parent := t.TempDir()
				target := filepath.Join(parent, "uploads")
				var before map[string]string
				if existing {
					uploadsCopyTree(t, src, target)
					// Something extra, so that a merge would show.
					uploadsWriteFile(t, filepath.Join(target, "a/mine.txt"), []byte("mine"), 0o644, uploadsMTime(70))
					// A live file equal to the backup's is linked, not
					// read from the backup: make the live big.bin differ,
					// so that the damaged copy is what gets restored.
					mt := uploadsMTime(71)
					if err := os.Chtimes(filepath.Join(target, "big.bin"), mt, mt); err != nil {
						t.Fatal(err)
					}
					before = uploadsTree(t, target, true)
				}

				_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
				if !errors.Is(err, ErrChecksum) {
					t.Fatalf("err = %v, want ErrChecksum", err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tc.wantPath)) {
					t.Errorf("error does not name %q: %v", tc.wantPath, err)
				}
				if existing {
					uploadsSameTree(t, "target after a failed restore", uploadsTree(t, target, true), before)
					uploadsOnlyEntries(t, parent, "uploads")
				} else {
					uploadsOnlyEntries(t, parent)
				}
			})
		}
	}
}

func TestUploadsLegacyBackup(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, true)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified {
		t.Error("legacy restore reported Verified")
	}
	if len(w.msgs) != 1 || !w.has("cannot be verified") {
		t.Errorf("warnings %q, want one saying the restore is not verified", w.msgs)
	}
	uploadsSameTree(t, "restored legacy tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
	uploadsOnlyEntries(t, parent, "uploads")
}

func TestUploadsCancelled(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	for _, when := range []string{"before", "during copy"} {
		t.Run(when, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "uploads")
			uploadsCopyTree(t, src, target)
			uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("changed"), 0o644, uploadsMTime(80))
			before := uploadsTree(t, target, true)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			files := 0
			opts := UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot}
			if when == "before" {
				cancel()
			} else {
				opts.OnFile = func(int64) {
					if files++; files == 2 {
						cancel()
					}
				}
			}
			_, err := Uploads(ctx, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if when != "before" && files != 2 {
				t.Errorf("copy went on for %d files after the cancel", files-2)
			}
			uploadsSameTree(t, "target after a cancelled restore", uploadsTree(t, target, true), before)
			uploadsOnlyEntries(t, parent, "uploads")
		})
	}
}

func TestUploadsOwnersAsRoot(t *testing.T) {
	if !uploadsRoot {
		t.Skip("needs root to chown")
	}
	src := uploadsMakeSource(t)
	for _, p := range []string{"a/top.txt", "shared", "link"} {
		if err := os.Lchown(filepath.Join(src, p), 1234, 1234); err != nil {
			t.Fatal(err)
		}
	}
	// chown clears setgid: put it back.
	if err := syscall.Chmod(filepath.Join(src, "shared"), 0o2775); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) string {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}

	t.Run("preserved", func(t *testing.T) {
		b := uploadsMakeBackup(t, src, true, false)
		target := filepath.Join(t.TempDir(), "uploads")
		if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"a/top.txt", "shared", "link"} {
			if got := owner(filepath.Join(target, p)); got != "1234:1234" {
				t.Errorf("%s owned by %s, want 1234:1234", p, got)
			}
		}
		uploadsSameTree(t, "restored tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
	})

	t.Run("not preserved", func(t *testing.T) {
		b := uploadsMakeBackup(t, src, true, false)
		target := filepath.Join(t.TempDir(), "uploads")
		if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target}); err != nil {
			t.Fatal(err)
		}
		if got := owner(filepath.Join(target, "a/top.txt")); got != "0:0" {
			t.Errorf("a/top.txt owned by %s, want 0:0", got)
		}
	})

	t.Run("owner changed in the backup", func(t *testing.T) {
		b := uploadsMakeBackup(t, src, true, false)
		if err := os.Lchown(filepath.Join(b.Path, "uploads/a/top.txt"), 4321, 1234); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "uploads")
		_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), `"a/top.txt" uid 4321, recorded 1234`) {
			t.Fatalf("err = %v, want ErrChecksum naming a/top.txt's uid", err)
		}
	})

	// A backup made without root records the source owners, but its copies
	// belong to whoever made it: that is accepted (with a warning), any
	// other owner is not.
	t.Run("backup made without owners", func(t *testing.T) {
		b := uploadsMakeBackup(t, src, false, false)
		target := filepath.Join(t.TempDir(), "uploads")
		w := &uploadsWarnings{}
		res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true, Warn: w.warn})
		if err != nil || !res.Verified {
			t.Fatalf("err = %v, verified %v", err, res.Verified)
		}
		if !w.has("owners were not checked") {
			t.Errorf("warnings %q, want one about unchecked owners", w.msgs)
		}
		if err := os.Lchown(filepath.Join(b.Path, "uploads/bin/run.sh"), 4321, 4321); err != nil {
			t.Fatal(err)
		}
		target2 := filepath.Join(t.TempDir(), "uploads")
		_, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target2, PreserveOwner: true})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), `"bin/run.sh"`) {
			t.Fatalf("err = %v, want ErrChecksum naming bin/run.sh", err)
		}
	})
}

func TestUploadsRefused(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	backups := filepath.Dir(b.Path)
	incomplete := b
	incomplete.State, incomplete.Manifest = repo.Incomplete, nil
	cases := []struct {
		name   string
		backup repo.Backup
		target string
		want   string
	}{
		{"target inside the backup", b, filepath.Join(b.Path, "restored"), "inside the backup"},
		{"target is the backup's uploads", b, filepath.Join(b.Path, repo.BackupUploadsName), "inside the backup"},
		{"backup inside the target", b, backups, "inside the uploads target"},
		{"backup inside the target via a symlink", b, "", "inside the uploads target"},
		{"relative target", b, "uploads", "not an absolute path"},
		{"incomplete backup", incomplete, filepath.Join(t.TempDir(), "uploads"), "only complete or legacy"},
	}
	// A symlink to the folder holding the backups: the real paths overlap.
	linkDir := t.TempDir()
	if err := os.Symlink(filepath.Dir(backups), filepath.Join(linkDir, "up")); err != nil {
		t.Fatal(err)
	}
	cases[3].target = filepath.Join(linkDir, "up", filepath.Base(backups))

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := uploadsTree(t, filepath.Dir(backups), true)
			_, err := Uploads(t.Context(), UploadsOptions{Backup: tc.backup, Target: tc.target})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrChecksum) {
				t.Errorf("refusal wraps ErrChecksum: %v", err)
			}
			uploadsSameTree(t, "backups after a refusal", uploadsTree(t, filepath.Dir(backups), true), before)
		})
	}
}

// A target that is a mount point (or has one inside) cannot be swapped by a
// rename; the restore refuses instead of copying in place.
func TestUploadsMountPoint(t *testing.T) {
	if !uploadsRoot {
		t.Skip("needs root to mount")
	}
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, true, false)
	// mount mounts a tmpfs on dir. Cleanup unmounts every mount under
	// parent, not just dir: a broken restore could have moved it.
	mount := func(t *testing.T, dir, parent string) {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
			t.Skipf("cannot mount a tmpfs here: %v", err)
		}
		t.Cleanup(func() {
			data, err := os.ReadFile("/proc/self/mounts")
			if err != nil {
				t.Errorf("read mounts: %v", err)
				return
			}
			lines := strings.Split(string(data), "\n")
			slices.Reverse(lines) // nested mounts first
			for _, l := range lines {
				if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], parent+"/") {
					if err := unix.Unmount(f[1], unix.MNT_DETACH); err != nil {
						t.Errorf("unmount %s: %v", f[1], err)
					}
				}
			}
		})
	}

	t.Run("target", func(t *testing.T) {
		parent := t.TempDir()
		target := filepath.Join(parent, "uploads")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		mount(t, target, parent)
		uploadsWriteFile(t, filepath.Join(target, "live.txt"), []byte("live"), 0o644, uploadsMTime(90))
		before := uploadsTree(t, target, true)
		copied := 0
		_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true,
			OnFile: func(int64) { copied++ }})
		if err == nil || !strings.Contains(err.Error(), "mount point") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("err = %v, want a mount point refusal", err)
		}
		if copied != 0 {
			t.Errorf("refused only after copying %d files", copied)
		}
		uploadsSameTree(t, "mounted target", uploadsTree(t, target, true), before)
		uploadsOnlyEntries(t, parent, "uploads")
	})

	t.Run("inside the target", func(t *testing.T) {
		parent := t.TempDir()
		target := filepath.Join(parent, "uploads")
		uploadsCopyTree(t, src, target)
		sub := filepath.Join(target, "extra")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		mount(t, sub, parent)
		uploadsWriteFile(t, filepath.Join(sub, "mounted.txt"), []byte("must survive"), 0o644, uploadsMTime(91))
		before := uploadsTree(t, target, true)
		for _, force := range []bool{false, true} {
			_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true, Force: force})
			if err == nil || !strings.Contains(err.Error(), "mount point") {
				t.Fatalf("force=%v: err = %v, want a mount point refusal", force, err)
			}
			uploadsSameTree(t, "target with a mount inside", uploadsTree(t, target, true), before)
			uploadsOnlyEntries(t, parent, "uploads")
		}
	})
}

// The swap, with and without RENAME_EXCHANGE (the fallback used where the
// filesystem does not support it).
func TestUploadsSwap(t *testing.T) {
	setup := func(t *testing.T, withTarget bool) (parent string, pfd int, stage, target string) {
		parent = t.TempDir()
		stage, target = ".uploads.restore-test", "uploads"
		uploadsWriteFile(t, filepath.Join(parent, stage, "new.txt"), []byte("new"), 0o644, uploadsMTime(1))
		if withTarget {
			uploadsWriteFile(t, filepath.Join(parent, target, "old.txt"), []byte("old"), 0o644, uploadsMTime(2))
		}
		pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(pfd) })
		return parent, pfd, stage, target
	}
	has := func(t *testing.T, dir, name string) {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) != 1 || ents[0].Name() != name {
			t.Errorf("%s holds %v (err %v), want just %s", dir, ents, err, name)
		}
	}

	for _, exchange := range []bool{true, false} {
		t.Run(fmt.Sprintf("exchange=%v", exchange), func(t *testing.T) {
			parent, pfd, stage, target := setup(t, true)
			old, err := uploadsSwap(pfd, stage, target, true, exchange)
			if err != nil {
				t.Fatal(err)
			}
			has(t, filepath.Join(parent, target), "new.txt")
			has(t, filepath.Join(parent, old), "old.txt")
			if exchange {
				if old != stage {
					t.Errorf("old tree at %s, want the stage name %s", old, stage)
				}
				uploadsOnlyEntries(t, parent, ".uploads.restore-test", "uploads")
			} else {
				if LeftoverKind("uploads", old) != LeftoverOld {
					t.Errorf("old tree at %s, want .uploads.old-*", old)
				}
				uploadsOnlyEntries(t, parent, old, "uploads")
			}
		})

		t.Run(fmt.Sprintf("exchange=%v/no target", exchange), func(t *testing.T) {
			parent, pfd, stage, target := setup(t, false)
			old, err := uploadsSwap(pfd, stage, target, false, exchange)
			if err != nil || old != "" {
				t.Fatalf("old %q, err %v", old, err)
			}
			has(t, filepath.Join(parent, target), "new.txt")
			uploadsOnlyEntries(t, parent, "uploads")
		})

		// The stage cannot be moved in: the target must end up where it was.
		t.Run(fmt.Sprintf("exchange=%v/failure", exchange), func(t *testing.T) {
			parent, pfd, stage, target := setup(t, true)
			if err := os.RemoveAll(filepath.Join(parent, stage)); err != nil {
				t.Fatal(err)
			}
			old, err := uploadsSwap(pfd, stage, target, true, exchange)
			if err == nil || old != "" || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("old %q, err %v; want an error saying nothing was changed", old, err)
			}
			has(t, filepath.Join(parent, target), "old.txt")
			uploadsOnlyEntries(t, parent, "uploads")
		})
	}
}

// Read-only folders (0555) in the backup and the target: a non-root restore
// must still add kept items to them, remove the old tree and the stage, and
// give them back their mode and mtime.
func TestUploadsReadOnlyFolder(t *testing.T) {
	// Registered after the TempDirs, so it runs before their removal, which
	// needs writable folders when not root.
	writable := func(dir string) {
		t.Cleanup(func() {
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o755)
				}
				return nil
			})
		})
	}
	base := t.TempDir()
	writable(base)
	src := filepath.Join(base, "live")
	uploadsWriteFile(t, filepath.Join(src, "ro/inside.txt"), []byte("inside"), 0o444, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(src, "top.txt"), []byte("top"), 0o644, uploadsMTime(2))
	uploadsSetDirs(t, src, map[string]uint32{"ro": 0o555})
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	writable(b.Path)

	parent := filepath.Join(base, "app")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)
	ro := filepath.Join(target, "ro")
	if err := os.Chmod(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(ro, "kept.txt"), []byte("kept"), 0o644, uploadsMTime(3))
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	before := uploadsTree(t, target, false)
	want := uploadsTree(t, src, false)
	want["ro/kept.txt"] = before["ro/kept.txt"]

	// A failed restore must be able to remove its read-only stage.
	if err := os.Chtimes(filepath.Join(b.Path, "uploads/top.txt"), uploadsMTime(9), uploadsMTime(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	uploadsOnlyEntries(t, parent, "uploads")
	if err := os.Chtimes(filepath.Join(b.Path, "uploads/top.txt"), uploadsMTime(2), uploadsMTime(2)); err != nil {
		t.Fatal(err)
	}

	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 1 {
		t.Errorf("Kept %d, want 1", res.Kept)
	}
	uploadsSameTree(t, "merged tree", uploadsTree(t, target, false), want)
	uploadsOnlyEntries(t, parent, "uploads")
}
