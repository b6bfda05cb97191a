package restore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/repo"
)

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
// and the previous target at old.
func uploadsSwap(pfd int, stage, target string, exists, exchange bool) (old string, err error) {
	if !exists {
		if err := unix.Renameat2(pfd, stage, pfd, target, unix.RENAME_NOREPLACE); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
				// No RENAME_NOREPLACE here: a plain rename still refuses
				// a non-empty folder in the way.
				err = unix.Renameat(pfd, stage, pfd, target)
			}
			if err != nil {
				return "", uploadsSwapErr(target, err)
			}
		}
		return "", nil
	}
	if exchange {
		err := unix.Renameat2(pfd, stage, pfd, target, unix.RENAME_EXCHANGE)
		if err == nil {
			return stage, nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
			return "", uploadsSwapErr(target, err)
		}
	}
	old = uploadsNamePrefix(target) + "old-" + uploadsRandom()
	if err := unix.Renameat2(pfd, target, pfd, old, unix.RENAME_NOREPLACE); err != nil {
		return "", uploadsSwapErr(target, err)
	}
	if err := unix.Renameat2(pfd, stage, pfd, target, unix.RENAME_NOREPLACE); err != nil {
		if berr := unix.Renameat2(pfd, old, pfd, target, unix.RENAME_NOREPLACE); berr != nil {
			return old, fmt.Errorf("move the restored uploads %s into place: %v; moving the previous uploads back from %s failed too: %w",
				stage, err, old, berr)
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

// uploadsLeftover reports whether name (in Target's parent) is one this
// tool makes beside a target named base: a stage (".base.restore-X"), its
// entry list of earlier versions (".base.restore-X.list") or a tree moved
// aside by the fallback swap (".base.old-X"). kind is "stage", "list" or
// "old".
func uploadsLeftover(base, name string) (kind string, ok bool) {
	rest, ok := strings.CutPrefix(name, uploadsNamePrefix(base))
	if !ok {
		return "", false
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
			return "list", true
		}
		if isRandom(r) {
			return "stage", true
		}
	}
	if r, ok := strings.CutPrefix(rest, "old-"); ok && isRandom(r) {
		return "old", true
	}
	return "", false
}

// removeLeftovers removes what earlier runs of this tool that are no longer
// running (their lock is free) left beside Target: stages and trees moved
// aside. A tree moved aside while Target is missing is kept: after a swap
// that failed half-way it may be all that is left of the old uploads.
// Problems are warnings: they do not stop the restore.
func (u *uploadsRun) removeLeftovers() {
	names, err := uploadsReadNames(u.pfd)
	if err != nil {
		u.warn("cannot look for what earlier restores left behind", "path", u.parent, "err", err)
		return
	}
	var lists []string
	for _, name := range names {
		kind, ok := uploadsLeftover(u.base, name)
		if !ok {
			continue
		}
		p := filepath.Join(u.parent, name)
		if kind == "list" {
			lists = append(lists, name)
			continue
		}
		if kind == "old" && !u.exists {
			u.warn("the uploads target is missing and a previous uploads folder moved aside by an interrupted restore is beside it; "+
				"kept, in case it is all that is left", "path", p)
			continue
		}
		fd, err := uploadsOpenDir(u.pfd, name)
		if err != nil {
			u.warn("cannot check what an earlier restore left behind", "path", p, "err", err)
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
		// Held while removing, so that no restore takes it for its own.
		err = repo.RemoveTree(p)
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
