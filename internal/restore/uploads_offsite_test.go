package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// uploadsContentStore is a backup's files by SHA-256, read from its own
// uploads folder: the content side of an offsite copy, on local disk.
type uploadsContentStore struct {
	byHash map[string]string // SHA-256 -> path
	opens  atomic.Int64
}

// uploadsOffsiteOf presents a local backup as an offsite copy: its entry
// list, and its files fetched by SHA-256 (the backup itself then only
// names the backup and carries its manifest).
func uploadsOffsiteOf(t *testing.T, b repo.Backup) (repo.Backup, *UploadsOffsite, *uploadsContentStore) {
	t.Helper()
	p, _, err := b.ListPath()
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cs := &uploadsContentStore{byHash: map[string]string{}}
	r := manifest.NewReader(strings.NewReader(string(list)))
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == manifest.TypeFile {
			cs.byHash[e.SHA256] = filepath.Join(b.UploadsPath(), filepath.FromSlash(e.Path))
		}
	}
	o := &UploadsOffsite{List: list, Where: "the test store", Open: func(ctx context.Context, sum string) (io.ReadCloser, error) {
		cs.opens.Add(1)
		p, ok := cs.byHash[sum]
		if !ok {
			return nil, fmt.Errorf("no object for %s", sum)
		}
		return os.Open(p)
	}}
	// No folder of the backup: a restore that reads one fails.
	nb := repo.Backup{Name: b.Name, Time: b.Time, State: repo.Complete, Manifest: b.Manifest, Path: filepath.Join(t.TempDir(), "no-such-backup")}
	return nb, o, cs
}

// TestUploadsOffsite restores from an entry list and a content store
// instead of a backup folder: into a missing target, over an unchanged
// one (nothing fetched), and over a drifted one with Force (only the
// changed files fetched; the extra items removed).
func TestUploadsOffsite(t *testing.T) {
	src := uploadsMakeSource(t)
	b, o, cs := uploadsOffsiteOf(t, uploadsMakeBackup(t, src, uploadsRoot, false))
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	want := uploadsTree(t, src, false)
	files, dirs, links, bytes := uploadsCount(t, src)

	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: o})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "restored from the list", uploadsTree(t, target, false), want)
	if res.Files != files || res.Dirs != dirs || res.Symlinks != links || res.Bytes != bytes || res.Copied != files || !res.Verified {
		t.Errorf("result %+v; want %d files, %d dirs, %d symlinks, %d bytes, all copied and verified", res, files, dirs, links, bytes)
	}
	if got := cs.opens.Load(); got != files {
		t.Errorf("%d files fetched, want %d", got, files)
	}
	uploadsOnlyEntries(t, parent, "uploads")

	cs.opens.Store(0)
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: o})
	if err != nil || !res.Unchanged || cs.opens.Load() != 0 {
		t.Fatalf("second restore: %+v, %v, %d fetched; want unchanged, nothing fetched", res, err, cs.opens.Load())
	}
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: o, Checksum: true})
	if err != nil || res.Linked != files || res.Hashed != files || cs.opens.Load() != 0 {
		t.Fatalf("restore with Checksum over the same: %+v, %v, %d fetched; want all linked after hashing, nothing fetched", res, err, cs.opens.Load())
	}

	// Drift: one file changed, one removed, one added.
	uploadsWriteFile(t, filepath.Join(target, "a/top.txt"), []byte("changed\n"), 0o644, uploadsMTime(50))
	if err := os.Remove(filepath.Join(target, "old.txt")); err != nil {
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(target, "extra.txt"), []byte("not in the backup\n"), 0o644, uploadsMTime(51))
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: o, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "restored over a drifted folder", uploadsTree(t, target, false), want)
	if res.Copied != 2 || res.Linked != files-2 || res.Removed != 1 || cs.opens.Load() != 2 {
		t.Errorf("result %+v, %d fetched; want 2 copied (fetched), the rest linked, 1 removed", res, cs.opens.Load())
	}
	uploadsOnlyEntries(t, parent, "uploads")
}

// TestUploadsOffsiteBad: an entry list that names a path outside the
// uploads, or is otherwise malformed, and content that is not what the
// list records, are refused with ErrChecksum; the target and its parent
// are left as they were.
func TestUploadsOffsiteBad(t *testing.T) {
	src := uploadsMakeSource(t)
	b, o, _ := uploadsOffsiteOf(t, uploadsMakeBackup(t, src, uploadsRoot, false))
	root := `{"path":".","type":"dir","mode":"0755","mtime_ns":1,"uid":0,"gid":0}` + "\n"
	file := func(p string) string {
		return fmt.Sprintf(`{"path":%q,"type":"file","size":3,"mode":"0644","mtime_ns":1,"uid":0,"gid":0,"sha256":"%s"}`+"\n",
			p, strings.Repeat("0", 64))
	}
	dir := func(p string) string {
		return fmt.Sprintf(`{"path":%q,"type":"dir","mode":"0755","mtime_ns":1,"uid":0,"gid":0}`+"\n", p)
	}
	lists := map[string]string{
		"parent folder":       root + file("../escape.txt"),
		"climbs out":          root + dir("a") + file("a/../../escape.txt"),
		"absolute":            root + file("/tmp/escape.txt"),
		"no root first":       file("x.txt"),
		"folder not listed":   root + file("nowhere/x.txt"),
		"under a file":        root + file("f") + file("f/x.txt"),
		"twice":               root + file("x.txt") + file("x.txt"),
		"dot-dot name":        root + dir("a") + file("a/.."),
		"bad mode":            root + strings.Replace(file("x.txt"), `"0644"`, `"1000644"`, 1),
		"not a type restored": root + strings.Replace(file("x.txt"), `"file"`, `"fifo"`, 1),
	}
	for name, list := range lists {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "uploads")
			uploadsCopyTree(t, src, target)
			before := uploadsTree(t, parent, true)
			bad := *o
			bad.List = []byte(list)
			m := *b.Manifest
			sum := sha256.Sum256(bad.List)
			m.Uploads.ListSHA256 = hex.EncodeToString(sum[:])
			bb := b
			bb.Manifest = &m
			_, err := Uploads(t.Context(), UploadsOptions{Backup: bb, Target: target, PreserveOwner: uploadsRoot, Offsite: &bad, Force: true})
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("err %v, want ErrChecksum", err)
			}
			uploadsSameTree(t, "after the refused restore", uploadsTree(t, parent, true), before)
			if _, err := os.Lstat(filepath.Join(filepath.Dir(parent), "escape.txt")); err == nil {
				t.Errorf("the restore wrote outside the stage")
			}
		})
	}

	t.Run("content not as recorded", func(t *testing.T) {
		parent := t.TempDir()
		target := filepath.Join(parent, "uploads")
		uploadsCopyTree(t, src, target)
		uploadsWriteFile(t, filepath.Join(target, "a/top.txt"), []byte("changed\n"), 0o644, uploadsMTime(50))
		before := uploadsTree(t, target, true)
		wrong := *o
		wrong.Open = func(ctx context.Context, sum string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("not the recorded bytes\n")), nil
		}
		_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: &wrong, Force: true})
		if !errors.Is(err, ErrChecksum) {
			t.Fatalf("err %v, want ErrChecksum", err)
		}
		uploadsSameTree(t, "after the failed restore", uploadsTree(t, target, true), before)
		uploadsOnlyEntries(t, parent, "uploads")
	})
}

// TestUploadsOffsiteParallel: files are fetched side by side, up to Jobs
// at once, even in a small folder (downloads wait on the network, not on
// the cores). Each fetch waits, a little, until three are in flight:
// the three files of the backup's root folder.
func TestUploadsOffsiteParallel(t *testing.T) {
	src := uploadsMakeSource(t)
	b, o, _ := uploadsOffsiteOf(t, uploadsMakeBackup(t, src, uploadsRoot, false))
	var inflight, most atomic.Int64
	open := o.Open
	par := *o
	par.Jobs = 3
	par.Open = func(ctx context.Context, sum string) (io.ReadCloser, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for most.Load() < n && !most.CompareAndSwap(most.Load(), n) {
		}
		deadline := time.Now().Add(300 * time.Millisecond)
		for inflight.Load() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return open(ctx, sum)
	}
	target := filepath.Join(t.TempDir(), "uploads")
	if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Offsite: &par}); err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "restored", uploadsTree(t, target, false), uploadsTree(t, src, false))
	if most.Load() != 3 {
		t.Errorf("at most %d files fetched at once, want 3 (Jobs)", most.Load())
	}
}
