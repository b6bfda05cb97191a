package restore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// uploadsFakeRename replaces uploadsRenameat2 for one test with f, which
// gets the call's number (from 1) and decides; nil passes the call on.
func uploadsFakeRename(t *testing.T, f func(n int, from, to string, flags uint) error) *int {
	t.Helper()
	real := uploadsRenameat2
	n := 0
	uploadsRenameat2 = func(ofd int, from string, nfd int, to string, flags uint) error {
		n++
		if err := f(n, from, to, flags); err != nil {
			return err
		}
		return real(ofd, from, nfd, to, flags)
	}
	t.Cleanup(func() { uploadsRenameat2 = real })
	return &n
}

// Finding: a fallback swap killed between its two renames leaves the target
// missing and the previous uploads in .uploads.old-X. Directus then makes a
// new, nearly empty uploads folder. The next restore must not delete the
// .old- folder, the only copy of the previous uploads: it keeps it, warns
// and reports it, and says what to do.
func TestUploadsOldKeptWhenTargetRecreated(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	old := filepath.Join(parent, ".uploads.old-0123456789abcdef")
	uploadsWriteFile(t, filepath.Join(old, "only-copy.jpg"), []byte("previous"), 0o644, uploadsMTime(1))
	uploadsWriteFile(t, filepath.Join(target, "new-upload.jpg"), []byte("made by directus"), 0o644, uploadsMTime(2))
	oldTree := uploadsTree(t, old, true)

	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "the folder moved aside", uploadsTree(t, old, true), oldTree)
	if len(res.Leftovers) != 0 || len(res.Aside) != 1 || res.Aside[0] != old {
		t.Errorf("Leftovers %q, Aside %q; want no leftovers and %s aside", res.Leftovers, res.Aside, old)
	}
	if !w.has(old) || !w.has("never removed automatically") {
		t.Errorf("no warning about %s: %q", old, w.msgs)
	}
	// A second restore, the target unchanged now: still kept, still reported.
	res, err = Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Aside) != 1 {
		t.Errorf("second restore: Aside %q", res.Aside)
	}
	uploadsSameTree(t, "the folder moved aside, after a second restore", uploadsTree(t, old, true), oldTree)
}

// Finding: a filesystem that rejects every rename flag (an NFS client, old
// FUSE: EINVAL, even for RENAME_NOREPLACE) must still get a restore over an
// existing folder and into a missing one, by plain renames.
func TestUploadsRenameFlagsRejected(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	flagged := uploadsFakeRename(t, func(_ int, _, _ string, flags uint) error {
		if flags != 0 {
			return unix.EINVAL
		}
		return nil
	})
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	for _, what := range []string{"missing target", "existing target"} {
		if what == "existing target" {
			uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("changed"), 0o644, uploadsMTime(70))
		}
		w := &uploadsWarnings{}
		if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		uploadsSameTree(t, what, uploadsTree(t, target, false), uploadsTree(t, src, false))
		uploadsOnlyEntries(t, parent, "uploads")
		if len(w.msgs) != 0 {
			t.Errorf("%s: warnings %q", what, w.msgs)
		}
	}
	if *flagged == 0 {
		t.Error("the fake rename was not called")
	}
}

// Finding: when the fallback swap fails half-way (the stage cannot be moved
// in, nor the previous folder back) the error is ErrHalfSwapped, names both
// folders and the mv that puts the previous uploads back, both survive,
// and Run does not claim the folder was left as it was.
func TestUploadsHalfSwapped(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	live := runLiveFolder(t, src)
	before := uploadsTree(t, live, true)
	uploadsFakeRename(t, func(_ int, from, to string, flags uint) error {
		switch {
		case flags&unix.RENAME_EXCHANGE != 0:
			return unix.EINVAL // no exchange here: the fallback runs
		case to == "live": // the stage moved in, or the previous folder back
			return unix.EIO
		}
		return nil
	})
	_, err := Run(t.Context(), Request{BackupsDir: filepath.Dir(b.Path), Uploads: true, UploadsDir: live})
	if !errors.Is(err, ErrHalfSwapped) || exitcode.Of(err) != exitcode.Restore {
		t.Fatalf("err = %v (exit %d), want ErrHalfSwapped, exit %d", err, exitcode.Of(err), exitcode.Restore)
	}
	msg := err.Error()
	if strings.Contains(msg, "left as it was") || strings.Contains(msg, "nothing was changed") {
		t.Errorf("error claims nothing changed: %v", err)
	}
	ents, rerr := os.ReadDir(filepath.Dir(live))
	if rerr != nil {
		t.Fatal(rerr)
	}
	var old, stage string
	for _, e := range ents {
		switch LeftoverKind("live", e.Name()) {
		case LeftoverOld:
			old = filepath.Join(filepath.Dir(live), e.Name())
		case LeftoverStage:
			stage = filepath.Join(filepath.Dir(live), e.Name())
		}
	}
	if old == "" || stage == "" || len(ents) != 2 {
		t.Fatalf("beside the target: %v; want the stage and the previous folder only", ents)
	}
	if !strings.Contains(msg, "mv "+old+" "+live) || !strings.Contains(msg, stage) {
		t.Errorf("error does not give the paths and the mv: %v", err)
	}
	uploadsSameTree(t, "the previous uploads, moved aside", uploadsTree(t, old, true), before)
	uploadsSameTree(t, "the stage", uploadsTree(t, stage, false), func() map[string]string {
		want := uploadsTree(t, src, false)
		want["extra.txt"] = uploadsTree(t, old, false)["extra.txt"]
		return want
	}())

	// What the error says to do works.
	if err := os.Rename(old, live); err != nil {
		t.Fatal(err)
	}
	uploadsSameTree(t, "after the mv", uploadsTree(t, live, true), before)
}

// Finding: restores into a missing target have no target lock to keep them
// apart, so one's leftover sweep could lock and remove the other's stage
// between its mkdir and its flock. The stage is made under a name the sweep
// does not match and renamed once locked: a sweep running all the time
// never removes a stage being made.
func TestUploadsStageNotSweptWhileMade(t *testing.T) {
	parent := t.TempDir()
	open := func() *uploadsRun {
		u := &uploadsRun{ctx: t.Context(), base: "uploads", parent: parent, tfd: -1, sfd: -1, warn: func(string, ...any) {}}
		var err error
		if u.pfd, err = unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			t.Fatal(err)
		}
		return u
	}
	sweeper := open()
	defer sweeper.close()
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			sweeper.res.Leftovers = nil
			sweeper.removeLeftovers()
			n += len(sweeper.res.Leftovers)
		}
	}()
	lost := 0
	for i := 0; i < 1000; i++ {
		u := open()
		if err := u.makeStage(); err != nil {
			lost++
		} else if err := unix.Fstatat(u.pfd, u.stageName, new(unix.Stat_t), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			lost++
		}
		if u.stageName != "" {
			unix.Unlinkat(u.pfd, u.stageName, unix.AT_REMOVEDIR)
		}
		u.close()
	}
	close(stop)
	swept := <-done
	if lost > 0 || swept > 0 {
		t.Errorf("%d of 1000 stages lost while being made; the sweep removed %d", lost, swept)
	}
}

// Finding: a leftover is removed by name. A folder with a leftover's name
// that is a mount point (anyone who can write the target's parent can make
// one appear under that name) is left alone: removing it would delete what
// is mounted there.
func TestUploadsLeftoverMountPointKept(t *testing.T) {
	if !uploadsRoot {
		t.Skip("needs root to mount")
	}
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, true, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)
	for _, name := range []string{".uploads.restore-0123456789abcdef", ".uploads.trash-0123456789abcdef"} {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
			t.Skipf("cannot mount a tmpfs here: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		uploadsWriteFile(t, filepath.Join(dir, "mounted.txt"), []byte("must survive"), 0o644, uploadsMTime(3))
	}
	w := &uploadsWarnings{}
	res, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: true, Force: true, Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".uploads.restore-0123456789abcdef", ".uploads.trash-0123456789abcdef"} {
		if _, err := os.Lstat(filepath.Join(parent, name, "mounted.txt")); err != nil {
			t.Errorf("what is mounted on %s was removed: %v", name, err)
		}
	}
	if len(res.Leftovers) != 0 || !w.has("mount point") {
		t.Errorf("Leftovers %q, warnings %q; want none removed and a warning", res.Leftovers, w.msgs)
	}
}

// Finding: after the swap the previous target is removed by name. When
// that name no longer is the folder this restore locked (someone swapped
// in another), nothing is removed.
func TestUploadsOldTreeReplacedAfterSwap(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, uploadsRoot, false)
	parent := t.TempDir()
	target := filepath.Join(parent, "uploads")
	uploadsCopyTree(t, src, target)
	uploadsWriteFile(t, filepath.Join(target, "a/b/c/deep.txt"), []byte("changed"), 0o644, uploadsMTime(70))
	real := uploadsRenameat2
	t.Cleanup(func() { uploadsRenameat2 = real })
	var stage string
	uploadsRenameat2 = func(ofd int, from string, nfd int, to string, flags uint) error {
		if err := real(ofd, from, nfd, to, flags); err != nil || flags&unix.RENAME_EXCHANGE == 0 {
			return err
		}
		// Swapped: put another folder under the name the old tree got.
		stage = from
		if err := os.Rename(filepath.Join(parent, from), filepath.Join(parent, "moved")); err != nil {
			t.Error(err)
		}
		uploadsWriteFile(t, filepath.Join(parent, from, "victim.txt"), []byte("not the old tree"), 0o644, uploadsMTime(4))
		return nil
	}
	w := &uploadsWarnings{}
	if _, err := Uploads(t.Context(), UploadsOptions{Backup: b, Target: target, PreserveOwner: uploadsRoot, Warn: w.warn}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(parent, stage, "victim.txt")); err != nil {
		t.Errorf("the folder put in the old tree's place was removed: %v", err)
	}
	if !w.has("was not removed") {
		t.Errorf("warnings %q", w.msgs)
	}
	uploadsSameTree(t, "restored tree", uploadsTree(t, target, false), uploadsTree(t, src, false))
}
