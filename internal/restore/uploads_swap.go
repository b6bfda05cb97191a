package restore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// ErrHalfSwapped is wrapped by the error Uploads returns when the fallback
// swap failed half-way and could not be undone: the target is missing, the
// previous uploads are in a folder beside it and the restored ones in the
// stage. The message gives both paths and the mv that puts the previous
// uploads back. It is the one error after which the target was not left as
// it was.
var ErrHalfSwapped = errors.New("the uploads folder was moved aside and could not be put back")

// uploadsRenameat2 is unix.Renameat2; tests replace it to make a rename
// fail or a filesystem reject the flags.
var uploadsRenameat2 = unix.Renameat2

// uploadsRenameNoReplace renames from to to in the folder pfd, failing if
// to exists. Where the filesystem rejects every rename flag (an NFS client,
// older FUSE: EINVAL) it falls back to a plain rename, which still refuses
// to replace a non-empty folder; the names this tool renames to are random
// or were just freed, so an empty folder there is the worst case.
func uploadsRenameNoReplace(pfd int, from, to string) error {
	err := uploadsRenameat2(pfd, from, pfd, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		err = unix.Renameat(pfd, from, pfd, to)
	}
	return err
}

// uploadsSwap puts the folder stage in target's place, both names in the
// open folder pfd. When target does not exist this is a rename that fails
// if something took the name meanwhile. Otherwise, with exchange, the two
// are swapped in one renameat2(RENAME_EXCHANGE), so there is no moment
// without a target; where the filesystem or kernel cannot do that (or
// without exchange), the target is renamed aside and the stage renamed into
// its place (and the target moved back if that fails).
//
// It returns the name the previous target now has ("" when there was
// none), for the caller to remove. On error nothing was changed, except
// when old is not "": then target is missing, the stage is still at stage
// and the previous target at old, and the error wraps ErrHalfSwapped.
func uploadsSwap(pfd int, stage, target string, exists, exchange bool) (old string, err error) {
	if !exists {
		if err := uploadsRenameNoReplace(pfd, stage, target); err != nil {
			return "", uploadsSwapErr(target, err)
		}
		return "", nil
	}
	if exchange {
		err := uploadsRenameat2(pfd, stage, pfd, target, unix.RENAME_EXCHANGE)
		if err == nil {
			return stage, nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
			return "", uploadsSwapErr(target, err)
		}
	}
	old = uploadsNamePrefix(target) + "old-" + uploadsRandom()
	if err := uploadsRenameNoReplace(pfd, target, old); err != nil {
		return "", uploadsSwapErr(target, err)
	}
	if err := uploadsRenameNoReplace(pfd, stage, target); err != nil {
		if berr := uploadsRenameNoReplace(pfd, old, target); berr != nil {
			return old, fmt.Errorf("%w: moving the restored uploads %s into place failed (%v), and moving the previous uploads back from %s failed too (%v)",
				ErrHalfSwapped, stage, err, old, berr)
		}
		return "", uploadsSwapErr(target, err)
	}
	return old, nil
}

// uploadsSwapErr explains a failed rename of the target; nothing was changed.
func uploadsSwapErr(target string, err error) error {
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		return uploadsMountErr(target, err)
	}
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		return fmt.Errorf("%w: the uploads target appeared while this restore ran; nothing was changed: %v", ErrBusy, err)
	}
	return fmt.Errorf("move the restored uploads into place (nothing was changed): %w", err)
}

// uploadsRandomLen is the length of the random part of the names a restore
// makes.
const uploadsRandomLen = 16

// uploadsRandom returns a random name suffix.
func uploadsRandom() string {
	var b [uploadsRandomLen / 2]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// Leftover is the kind of a name a restore makes beside the uploads
// folder (in its parent).
type Leftover string

// The kinds of Leftover. LeftoverNone: a name a restore does not make.
const (
	LeftoverNone  Leftover = ""
	LeftoverStage Leftover = "stage" // ".base.restore-X": a restore's stage
	LeftoverList  Leftover = "list"  // ".base.restore-X.list": its entry list of earlier versions
	LeftoverTrash Leftover = "trash" // ".base.trash-X": the previous uploads of a finished swap, on their way out
	LeftoverOld   Leftover = "old"   // ".base.old-X": the previous uploads moved aside by the fallback swap
	LeftoverNew   Leftover = "new"   // ".base.new-X": a stage being made, not yet locked
)

// LeftoverKind reports what name, beside an uploads folder named base,
// is. It is the one parser of these names, for the restore's clean-up and
// for doctor.
func LeftoverKind(base, name string) Leftover {
	rest, ok := strings.CutPrefix(name, uploadsNamePrefix(base))
	if !ok {
		return LeftoverNone
	}
	isRandom := func(s string) bool {
		if len(s) != uploadsRandomLen {
			return false
		}
		_, err := hex.DecodeString(s)
		return err == nil && strings.ToLower(s) == s
	}
	if r, ok := strings.CutPrefix(rest, "restore-"); ok {
		if r, ok := strings.CutSuffix(r, ".list"); ok && isRandom(r) {
			return LeftoverList
		}
		if isRandom(r) {
			return LeftoverStage
		}
	}
	for _, k := range []Leftover{LeftoverTrash, LeftoverOld, LeftoverNew} {
		if r, ok := strings.CutPrefix(rest, string(k)+"-"); ok && isRandom(r) {
			return k
		}
	}
	return LeftoverNone
}

// removeLeftovers removes what earlier runs of this tool that are no longer
// running (their lock is free) left beside Target: stages, their entry
// lists and previous targets on their way out (trash). A tree the fallback
// swap moved aside (old) is never removed: after a swap that failed
// half-way it may hold the only copy of the previous uploads, even once
// something (Directus) has made a new Target. It is reported instead.
// Problems are warnings: they do not stop the restore.
func (u *uploadsRun) removeLeftovers() {
	names, err := uploadsReadNames(u.pfd)
	if err != nil {
		u.warn("cannot look for what earlier restores left behind", "path", u.parent, "err", err)
		return
	}
	slices.Sort(names)
	var lists []string
	for _, name := range names {
		kind := LeftoverKind(u.base, name)
		if kind == LeftoverNone {
			continue
		}
		p := filepath.Join(u.parent, name)
		switch kind {
		case LeftoverList:
			lists = append(lists, name)
			continue
		case LeftoverOld:
			u.reportAside(p)
			continue
		}
		fd, err := uploadsOpenDir(u.pfd, name)
		if err != nil {
			u.warn("cannot check what an earlier restore left behind", "path", p, "err", err)
			continue
		}
		if kind == LeftoverNew && !uploadsStale(fd) {
			unix.Close(fd) // a stage being made, about to be locked: not even locked here
			continue
		}
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			unix.Close(fd) // a running restore's stage
			continue
		}
		if err != nil {
			unix.Close(fd)
			u.warn("cannot lock what an earlier restore left behind", "path", p, "err", err)
			continue
		}
		// Held while removing, so that no restore takes it for its own;
		// removed only while the name still is the folder locked, on the
		// parent's mount (a mount point there would have what is mounted
		// on it deleted).
		if err = u.isHeld(fd, name); err == nil {
			err = repo.RemoveTree(p)
		}
		unix.Close(fd)
		if err != nil {
			u.warn("cannot remove what an earlier restore left behind", "path", p, "err", err)
			continue
		}
		u.res.Leftovers = append(u.res.Leftovers, p)
		u.warn("removed what an earlier, interrupted restore left behind", "path", p)
	}
	// Entry lists of earlier versions' stages, once their stage is gone.
	for _, name := range lists {
		stage := strings.TrimSuffix(name, ".list")
		var st unix.Stat_t
		if err := unix.Fstatat(u.pfd, stage, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			continue
		}
		p := filepath.Join(u.parent, name)
		if err := unix.Unlinkat(u.pfd, name, 0); err != nil {
			u.warn("cannot remove what an earlier restore left behind", "path", p, "err", err)
			continue
		}
		u.res.Leftovers = append(u.res.Leftovers, p)
		u.warn("removed what an earlier, interrupted restore left behind", "path", p)
	}
}

// uploadsStaleAge is how old a stage made but never locked must be to be
// a leftover: it is locked within moments of its mkdir.
const uploadsStaleAge = time.Minute

// uploadsStale reports whether the folder fd changed last more than
// uploadsStaleAge ago.
func uploadsStale(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	return time.Since(time.Unix(st.Ctim.Unix())) > uploadsStaleAge
}

// isHeld returns nil when name in the parent folder is the folder fd (same
// device and inode) and on the parent's mount.
func (u *uploadsRun) isHeld(fd int, name string) error {
	var now, held unix.Stat_t
	if err := unix.Fstatat(u.pfd, name, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := unix.Fstat(fd, &held); err != nil {
		return err
	}
	if now.Dev != held.Dev || now.Ino != held.Ino {
		return errors.New("replaced by another folder meanwhile; left alone")
	}
	pk, err := uploadsMountOfFd(u.pfd)
	if err != nil {
		return err
	}
	k, err := uploadsMountOfFd(fd)
	if err != nil {
		return err
	}
	if k != pk {
		return errors.New("a mount point or on another filesystem than its parent folder; left alone")
	}
	return nil
}

// reportAside warns about a tree the fallback swap moved aside (path p)
// and records it in the result, with what to do about it.
func (u *uploadsRun) reportAside(p string) {
	u.res.Aside = append(u.res.Aside, p)
	if !u.exists {
		u.warn("the uploads target is missing and a folder an interrupted restore moved aside is beside it: "+
			"it may hold the only copy of the previous uploads and is never removed automatically; "+
			"to put it back, move aside the folder this restore makes, then run the command given",
			"path", p, "command", "mv "+uploadsShellQuote(p)+" "+uploadsShellQuote(u.target))
		return
	}
	u.warn("a folder an interrupted restore moved aside is beside the uploads target: it may hold the only copy "+
		"of earlier uploads and is never removed automatically; compare it with the target, then remove it "+
		"(rm -rf) or move it back (mv) yourself", "path", p, "target", u.target)
}

// uploadsShellQuote quotes s for a POSIX shell, where it needs it.
func uploadsShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
