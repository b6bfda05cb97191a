package restore

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// Restores over a live uploads folder: the usual rollback, where most
// files are unchanged.

// uploadsCtimes records the ctime of every item under root (and root's
// own entries' names), so a test can tell that nothing was written at all:
// a chmod, chown, utimes, link or rename changes the ctime.
func uploadsCtimes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("ino=%d nlink=%d ctime=%d", st.Ino, st.Nlink, st.Ctim.Nano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUploadsUnchangedTarget(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	files, dirs, links, bytes := uploadsCount(t, src)

	for _, tc := range []struct {
		name  string
		force bool
		extra bool // the target also holds an item the backup does not
	}{
		{"equal", false, false},
		{"equal/force", true, false},
		{"extra item kept", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "uploads")
			uploadsCopyTree(t, src, target)
			if tc.extra {
				uploadsKeepDirTime(t, filepath.Join(target, "a"), func() {
					uploadsWriteFile(t, filepath.Join(target, "a/mine.txt"), []byte("mine"), 0o644, uploadsMTime(70))
				})
			}
			before, ctimes := uploadsTree(t, target, true), uploadsCtimes(t, target)
			time.Sleep(10 * time.Millisecond) // a write now would show in the ctimes

			res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Force: tc.force})
			if err != nil {
				t.Fatal(err)
			}
			uploadsSameTree(t, "target restored over itself", uploadsTree(t, target, true), before)
			uploadsSameTree(t, "ctimes of the target", uploadsCtimes(t, target), ctimes)
			if !res.Unchanged || res.Copied != 0 || res.Linked != 0 || res.Verified {
				t.Errorf("result %+v: want Unchanged, nothing copied, linked or verified", res)
			}
			if res.Files != files || res.Dirs != dirs || res.Symlinks != links || res.Bytes != bytes {
				t.Errorf("result counts files=%d dirs=%d symlinks=%d bytes=%d, want %d %d %d %d",
					res.Files, res.Dirs, res.Symlinks, res.Bytes, files, dirs, links, bytes)
			}
			uploadsOnlyEntries(t, parent, "uploads")
		})
	}

	// With Force, an extra item makes the target differ: it is removed,
	// and every other file is linked from the live folder.
	t.Run("extra item/force", func(t *testing.T) {
		parent := t.TempDir()
		target := filepath.Join(parent, "uploads")
		uploadsCopyTree(t, src, target)
		uploadsKeepDirTime(t, filepath.Join(target, "a"), func() {
			uploadsWriteFile(t, filepath.Join(target, "a/mine.txt"), []byte("mine"), 0o644, uploadsMTime(70))
		})
		res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		uploadsSameTree(t, "forced tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
		if res.Unchanged || res.Removed != 1 || res.Copied != 0 || res.Linked != files {
			t.Errorf("result %+v: want 1 removed, %d linked, none copied", res, files)
		}
	})
}

func TestUploadsPartlyChangedTarget(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	files, _, _, _ := uploadsCount(t, src)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)

	// A day's changes: one file edited (same size, new mtime), one chmod,
	// one deleted, one added, a symlink retargeted, a folder's mode.
	uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("DEEP INSIDE\n"), 0o644, uploadsMTime(50))
	if err := syscall.Chmod(filepath.Join(target, "bin/run.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "old.txt")); err != nil {
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(target, "new upload.jpg"), []byte("new"), 0o644, uploadsMTime(51))
	if err := os.Remove(filepath.Join(target, "link")); err != nil {
		t.Fatal(err)
	}
	uploadsSymlink(t, "big.bin", filepath.Join(target, "link"), uploadsMTime(52))
	if err := syscall.Chmod(filepath.Join(target, "with space"), 0o700); err != nil {
		t.Fatal(err)
	}
	changed := map[string]bool{"a/b/c/deep.txt": true, "bin/run.sh": true, "old.txt": true}
	live := uploadsTree(t, target, true)
	// Rot in the backup's copy of a file the live folder holds intact: the
	// live file is linked and the backup's copy not read.
	uploadsFlipByte(t, filepath.Join(b.Path, repo.BackupUploadsName, "big.bin"), 1<<20)

	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "restored tree vs source", uploadsTree(t, target, false), uploadsTree(t, src, false))
	if res.Unchanged || res.Copied != int64(len(changed)) || res.Linked != files-int64(len(changed)) ||
		res.Removed != 1 || !res.Verified || res.Files != files {
		t.Errorf("result %+v: want %d copied, %d linked, 1 removed, verified", res, len(changed), files-int64(len(changed)))
	}
	// The unchanged files are the live inodes, linked; the changed ones new
	// copies (not links into the backup).
	after := uploadsTree(t, target, true)
	for p, s := range after {
		if !strings.HasPrefix(s, "-") { // regular files only ("-" is their fs.FileMode type string)
			continue
		}
		ino := s[strings.LastIndex(s, " ino="):]
		switch {
		case changed[p] && strings.HasSuffix(live[p], ino):
			t.Errorf("%s: changed in the live folder but kept its live inode", p)
		case !changed[p] && !strings.HasSuffix(live[p], ino):
			t.Errorf("%s: unchanged but not linked from the live folder (%s, live %s)", p, s, live[p])
		}
		bfi, err := os.Lstat(filepath.Join(b.Path, repo.BackupUploadsName, p))
		if err != nil {
			t.Fatal(err)
		}
		tfi, err := os.Lstat(filepath.Join(target, p))
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(bfi, tfi) {
			t.Errorf("%s is a hard link into the backup", p)
		}
	}
	uploadsOnlyEntries(t, parent, "uploads")
}

// A subfolder of the target swapped for a symlink to an outside folder
// while restores run: the restore must never link, copy or change anything
// outside the target (issue 7: it put a hard link to a root-only file into
// the uploads, 3 of 3 tries).
func TestUploadsSymlinkRace(t *testing.T) {
	if testing.Short() {
		t.Skip("races for a few seconds")
	}
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	uploadsWriteFile(t, filepath.Join(outside, "secret.txt"), []byte("root only\n"), 0o600, uploadsMTime(30))
	uploadsWriteFile(t, filepath.Join(outside, "deep.txt"), []byte("deep inside\n"), 0o644, uploadsMTime(1))
	if err := os.Mkdir(filepath.Join(outside, "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(outside, "b/c/deep.txt"), []byte("deep inside\n"), 0o644, uploadsMTime(1))
	outsideBefore, outsideCtimes := uploadsTree(t, outside, true), uploadsCtimes(t, outside)
	var secret unix.Stat_t
	if err := unix.Stat(filepath.Join(outside, "secret.txt"), &secret); err != nil {
		t.Fatal(err)
	}

	parent := filepath.Join(base, "app")
	target := filepath.Join(parent, "uploads")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	uploadsCopyTree(t, src, target)
	// Extras in the swapped folder, so that the merge walks it.
	uploadsWriteFile(t, filepath.Join(target, "a/b/mine.txt"), []byte("mine"), 0o644, uploadsMTime(31))

	// The attacker: swap target/a/b for a symlink to outside, and back,
	// as fast as it can.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		sub, aside := filepath.Join(target, "a/b"), filepath.Join(target, "a/.b-aside")
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A restore may have kept the aside folder as an extra item.
			os.RemoveAll(aside)
			if os.Rename(sub, aside) == nil {
				if os.Symlink(outside, sub) == nil {
					swaps.Add(1)
					runtimeYield()
					os.Remove(sub)
				}
				os.Rename(aside, sub)
			}
			runtimeYield()
		}
	}()

	var ok, failed int
	deadline := time.Now().Add(4 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		// Make the target differ, so that the stage path runs too.
		os.Chmod(filepath.Join(target, "bin/run.sh"), 0o700)
		_, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
		if err != nil {
			failed++ // the tree changing under the restore may fail it; it must not escape
		} else {
			ok++
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(outside, "secret.txt"), &st); err != nil || st.Nlink != 1 {
			t.Errorf("after restore %d: the outside file has %d links (err %v): one was made into the target", i, st.Nlink, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d restores succeeded, %d failed, %d swaps", ok, failed, swaps.Load())
	if ok == 0 || swaps.Load() == 0 {
		t.Fatalf("no race happened: %d restores succeeded, %d swaps", ok, swaps.Load())
	}

	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Dev == secret.Dev && st.Ino == secret.Ino {
			t.Errorf("%s is a hard link to the outside file %s", p, filepath.Join(outside, "secret.txt"))
		}
		if d.Type().IsRegular() {
			if data, err := os.ReadFile(p); err == nil && string(data) == "root only\n" {
				t.Errorf("%s holds a copy of the outside file", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "outside folder", uploadsTree(t, outside, true), outsideBefore)
	uploadsSameTree(t, "ctimes of the outside folder", uploadsCtimes(t, outside), outsideCtimes)
}

func runtimeYield() { time.Sleep(20 * time.Microsecond) }

// The helper process of TestUploadsLeftovers: a restore that stops in the
// middle of staging and waits to be killed.
func TestUploadsHelperProcess(t *testing.T) {
	backups, target := os.Getenv("UPLOADS_HELPER_BACKUPS"), os.Getenv("UPLOADS_HELPER_TARGET")
	if backups == "" {
		t.Skip("helper process only")
	}
	list, err := repo.List(backups)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %s: %v %v", backups, list, err)
	}
	var once sync.Once
	_, err = Uploads(t.Context(), UploadsOptions{Backup: list[0], Target: target, PreserveOwner: uploadsRoot,
		OnFile: func(int64) {
			once.Do(func() {
				fmt.Println("staging")
				time.Sleep(time.Hour) // until killed (a select{} would be reported as a deadlock)
			})
		}})
	t.Fatalf("restore finished: %v", err)
}

// A restore killed mid-stage (SIGKILL) leaves its stage; the next restore
// removes it and says so. A concurrent restore into the same target is
// refused, and a stage whose lock is held is left alone.
func TestUploadsLeftovers(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)
	uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("changed"), 0o644, uploadsMTime(80))

	cmd := exec.Command(os.Args[0], "-test.run=^TestUploadsHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UPLOADS_HELPER_BACKUPS="+filepath.Dir(b.Path), "UPLOADS_HELPER_TARGET="+target)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			killed = true
		}
	}
	defer kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "staging") {
		t.Fatalf("helper said %q, %v", line, err)
	}
	stages := func() []string {
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, e := range ents {
			if LeftoverKind("uploads", e.Name()) == LeftoverStage {
				s = append(s, e.Name())
			}
		}
		return s
	}
	helperStage := stages()
	if len(helperStage) != 1 {
		t.Fatalf("stages while the helper runs: %q, want 1", helperStage)
	}

	// While it runs: refused, and its stage stays.
	before := uploadsTree(t, target, true)
	_, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "another run") {
		t.Fatalf("concurrent restore: err = %v, want ErrBusy", err)
	}
	uploadsSameTree(t, "target after a refused restore", uploadsTree(t, target, true), before)
	if s := stages(); len(s) != 1 || s[0] != helperStage[0] {
		t.Fatalf("stages after the refused restore: %q, want %q", s, helperStage)
	}

	kill()
	// Others, made by hand: a live stage (its lock held), what the
	// fallback swap moves aside (kept: it may be the only copy of earlier
	// uploads), a previous target on its way out, an earlier version's
	// entry list, and names this tool does not make.
	live := filepath.Join(parent, ".uploads.restore-00112233445566aa")
	if err := os.Mkdir(live, 0o700); err != nil {
		t.Fatal(err)
	}
	lf, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	uploadsWriteFile(t, filepath.Join(parent, ".uploads.old-00112233445566bb", "x"), []byte("x"), 0o644, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(parent, ".uploads.trash-00112233445566ff", "x"), []byte("x"), 0o644, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(parent, ".uploads.restore-00112233445566cc.list"), []byte("{}"), 0o600, uploadsMTime(1))
	for _, n := range []string{".uploads.restore-mine", ".uploads.restore-00112233445566dd.bak", ".other.restore-00112233445566ee"} {
		uploadsWriteFile(t, filepath.Join(parent, n, "x"), []byte("x"), 0o644, uploadsMTime(1))
	}

	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(parent, helperStage[0]), filepath.Join(parent, ".uploads.trash-00112233445566ff"),
		filepath.Join(parent, ".uploads.restore-00112233445566cc.list")}
	if aside := filepath.Join(parent, ".uploads.old-00112233445566bb"); len(res.Aside) != 1 || res.Aside[0] != aside || !w.has(aside) {
		t.Errorf("Aside %q, want %s reported", res.Aside, aside)
	}
	if len(res.Leftovers) != len(want) {
		t.Errorf("Leftovers %q, want %q", res.Leftovers, want)
	}
	for _, p := range want {
		if !strings.Contains(strings.Join(res.Leftovers, "\n"), p) || !w.has(p) {
			t.Errorf("%s not reported removed: %q, warnings %q", p, res.Leftovers, w.msgs)
		}
	}
	uploadsOnlyEntries(t, parent, "uploads", filepath.Base(live), ".uploads.old-00112233445566bb",
		".uploads.restore-mine", ".uploads.restore-00112233445566dd.bak", ".other.restore-00112233445566ee")
	uploadsSameTree(t, "restored tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
}

// A folder moved aside by the fallback swap is kept while the target is
// missing: after a swap that failed half-way it may be all that is left of
// the old uploads. A dead stage is removed all the same.
func TestUploadsLeftoverOldKeptWithoutTarget(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	old := ".uploads.old-0123456789abcdef"
	stage := ".uploads.restore-0123456789abcdef"
	uploadsWriteFile(t, filepath.Join(parent, old, "previous.jpg"), []byte("previous"), 0o644, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(parent, stage, "half.jpg"), []byte("half"), 0o644, uploadsMTime(2))

	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Leftovers) != 1 || res.Leftovers[0] != filepath.Join(parent, stage) {
		t.Errorf("Leftovers %q, want just the stage", res.Leftovers)
	}
	if len(res.Aside) != 1 || res.Aside[0] != filepath.Join(parent, old) {
		t.Errorf("Aside %q, want the folder moved aside", res.Aside)
	}
	if !w.has("never removed automatically") || !w.has("mv "+filepath.Join(parent, old)+" "+target) {
		t.Errorf("no warning about the kept folder: %q", w.msgs)
	}
	uploadsOnlyEntries(t, parent, "uploads", old)
	uploadsSameTree(t, "restored tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
}

// A live file whose bytes changed while its size and time did not (bit rot,
// or a write that kept the mtime) passes the quick check and is kept; with
// Checksum it is found and restored from the backup, and the other files
// are still linked.
func TestUploadsChecksumReplacesSilentChange(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	files, _, _, _ := uploadsCount(t, src)
	target := filepath.Join(t.TempDir(), "uploads")
	uploadsCopyTree(t, src, target)
	uploadsFlipByte(t, filepath.Join(target, "big.bin"), 1<<20)
	rotten := uploadsTree(t, target, false)

	// Without Checksum the quick check passes: nothing written.
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unchanged {
		t.Fatalf("quick check: result %+v, want the folder left alone", res)
	}
	uploadsSameTree(t, "quick check keeps the live bytes", uploadsTree(t, target, false), rotten)

	live := uploadsTree(t, target, true)
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "checksum restore vs source", uploadsTree(t, target, false), uploadsTree(t, src, false))
	if res.Unchanged || res.Mismatched != 1 || res.Copied != 1 || res.Linked != files-1 || res.Hashed != files-1 || !res.Verified {
		t.Errorf("result %+v: want 1 mismatched and copied, %d linked, verified", res, files-1)
	}
	after := uploadsTree(t, target, true)
	for p, s := range after {
		if !strings.HasPrefix(s, "-") {
			continue
		}
		ino := s[strings.LastIndex(s, " ino="):]
		if kept := strings.HasSuffix(live[p], ino); kept == (p == "big.bin") {
			t.Errorf("%s: live inode kept = %v (%s, live %s)", p, kept, s, live[p])
		}
	}
}

// Finding: with Checksum, a live file is reported as "other content" only
// when the entry list has it and records another SHA-256 (not when the
// list disagrees with the backup), and only once the restore is done: a
// restore that fails on a damaged backup reports no replaced live files.
func TestUploadsChecksumMismatchReportedAfterSwap(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	target := filepath.Join(t.TempDir(), "uploads")
	uploadsCopyTree(t, src, target)
	uploadsFlipByte(t, filepath.Join(target, "big.bin"), 1<<20)
	// The same file planted in the backup (not in its list) and in the
	// live folder: it passes the quick check and is hashed.
	for _, dir := range []string{filepath.Join(b.Path, "uploads"), target} {
		uploadsKeepDirTime(t, filepath.Join(dir, "a/b"), func() {
			uploadsWriteFile(t, filepath.Join(dir, "a/b/planted.php"), []byte("<?php"), 0o644, uploadsMTime(60))
		})
	}
	live := uploadsTree(t, target, true)
	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Checksum: true, Warn: w.warn})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "planted.php") {
		t.Fatalf("err = %v, want ErrChecksum naming planted.php", err)
	}
	if res.Mismatched != 0 || w.has("other content") {
		t.Errorf("failed restore reports replaced live files: Mismatched %d, warnings %q", res.Mismatched, w.msgs)
	}
	uploadsSameTree(t, "target after the refused restore", uploadsTree(t, target, true), live)
}
