package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// check validates the options and records what Target and the backup are,
// before anything is written.
func (u *uploadsRun) check() error {
	o := u.opts
	if o.Target == "" || !filepath.IsAbs(o.Target) {
		return fmt.Errorf("uploads target %q is not an absolute path", o.Target)
	}
	u.target = filepath.Clean(o.Target)
	u.parent, u.base = filepath.Dir(u.target), filepath.Base(u.target)
	if u.target == u.parent {
		return fmt.Errorf("cannot restore uploads into %s: it has no parent folder to stage in", u.target)
	}

	b := o.Backup
	switch {
	case b.State == repo.Complete && b.Manifest == nil:
		return fmt.Errorf("backup %s: complete but its manifest is not loaded", b.Name)
	case b.State != repo.Complete && b.State != repo.Legacy:
		return fmt.Errorf("backup %s is %s; only complete or legacy backups can be restored", b.Name, b.State)
	}
	if o.Offsite != nil {
		if b.State != repo.Complete {
			return fmt.Errorf("backup %s: an offsite copy is restored only with its manifest", b.Name)
		}
		// No folder of the backup on this machine: nothing to overlap, and
		// no backup owner to accept in place of the recorded one.
		u.backupUID, u.backupGID = -1, -1
		return u.checkTarget()
	}
	bfi, err := os.Stat(b.Path)
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	bst := bfi.Sys().(*syscall.Stat_t)
	u.backupUID, u.backupGID = int(bst.Uid), int(bst.Gid)
	u.src = b.UploadsPath()
	sfi, err := os.Lstat(u.src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup %s has no %s folder", b.Name, repo.BackupUploadsName)
	}
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	if !sfi.IsDir() { // a symlink could lead anywhere
		return fmt.Errorf("backup %s: %s is not a folder", b.Name, u.src)
	}
	if err := u.checkTarget(); err != nil {
		return err
	}

	// Compare real paths, so that symlinked parents cannot hide an overlap.
	backupReal, err := filepath.EvalSymlinks(b.Path)
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.Name, err)
	}
	parentReal, err := filepath.EvalSymlinks(u.parent)
	if err != nil {
		return fmt.Errorf("parent folder of the uploads target: %w", err)
	}
	targetReal := filepath.Join(parentReal, u.base)
	if fsmeta.Within(targetReal, backupReal) {
		return fmt.Errorf("uploads target %s is inside the backup %s; refusing to restore", u.target, b.Path)
	}
	if fsmeta.Within(repo.UploadsIn(backupReal), targetReal) {
		return fmt.Errorf("the backup's uploads %s are inside the uploads target %s; refusing to restore", u.src, u.target)
	}
	return nil
}

// checkTarget checks Target's parent and records whether Target exists.
func (u *uploadsRun) checkTarget() error {
	pfi, err := os.Stat(u.parent)
	if err != nil {
		return fmt.Errorf("parent folder of the uploads target: %w", err)
	}
	if !pfi.IsDir() {
		return fmt.Errorf("parent of the uploads target, %s, is not a folder", u.parent)
	}
	tfi, err := os.Lstat(u.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("uploads target: %w", err)
	case tfi.Mode().Type() == fs.ModeSymlink:
		// The swap would replace the link itself with a folder.
		return fmt.Errorf("uploads target %s is a symlink; restore into the folder it points to", u.target)
	case !tfi.IsDir():
		return fmt.Errorf("uploads target %s exists and is not a folder", u.target)
	default:
		u.exists = true
	}
	return nil
}

// openTarget opens the parent folder and Target, takes Target's lock (so
// that a second restore into it is refused) and checks that Target can be
// swapped by a rename in the parent.
func (u *uploadsRun) openTarget() error {
	var err error
	if u.pfd, err = unix.Open(u.parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open the parent folder of the uploads target %s: %w", u.parent, err)
	}
	if !u.exists {
		return nil
	}
	if u.tfd, err = uploadsOpenDir(u.pfd, u.base); err != nil {
		return fmt.Errorf("open the uploads target %s: %w", u.target, err)
	}
	if err := unix.Flock(u.tfd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is being restored by another run of directus-backup; nothing was changed", ErrBusy, u.target)
		}
		return fmt.Errorf("lock the uploads target %s: %w", u.target, err)
	}
	// A restore that finished between the open and the lock swapped a new
	// folder in: the one locked is no longer Target.
	var now, locked unix.Stat_t
	if err := unix.Fstatat(u.pfd, u.base, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("uploads target %s: %w", u.target, err)
	}
	if err := unix.Fstat(u.tfd, &locked); err != nil {
		return fmt.Errorf("uploads target %s: %w", u.target, err)
	}
	if now.Dev != locked.Dev || now.Ino != locked.Ino {
		return fmt.Errorf("%w: %s was replaced while this restore started; nothing was changed, try again", ErrBusy, u.target)
	}

	pk, err := uploadsMountOfFd(u.pfd)
	if err != nil {
		return fmt.Errorf("parent folder of the uploads target: %w", err)
	}
	if u.mount, err = uploadsMountOfFd(u.tfd); err != nil {
		return fmt.Errorf("uploads target: %w", err)
	}
	// The swap is a rename in the parent, which cannot move a mount
	// point; find out now rather than after copying everything.
	if pk != u.mount {
		return uploadsMountErr(u.target, errors.New("different mount than its parent folder"))
	}
	return nil
}

// makeStage creates and locks the stage folder beside Target. It is made
// under a name restores remove as a leftover only once it is a minute old
// (".base.new-X"), and renamed to the stage name once locked: a restore
// into the same missing Target (which has no lock to stop it) could
// otherwise take it for a leftover between the mkdir and the lock.
func (u *uploadsRun) makeStage() error {
	u.stageName = uploadsNamePrefix(u.base) + "restore-" + uploadsRandom()
	tmp := uploadsNamePrefix(u.base) + "new-" + uploadsRandom()
	if err := unix.Mkdirat(u.pfd, tmp, 0o700); err != nil {
		return fmt.Errorf("create the stage folder %s: %w", filepath.Join(u.parent, tmp), err)
	}
	var err error
	if u.sfd, err = uploadsOpenDir(u.pfd, tmp); err != nil {
		unix.Unlinkat(u.pfd, tmp, unix.AT_REMOVEDIR)
		return fmt.Errorf("open the stage folder: %w", err)
	}
	// Held until the run ends: a stage whose lock is free is a leftover.
	if err := unix.Flock(u.sfd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Unlinkat(u.pfd, tmp, unix.AT_REMOVEDIR)
		return fmt.Errorf("lock the stage folder: %w", err)
	}
	if err := uploadsRenameNoReplace(u.pfd, tmp, u.stageName); err != nil {
		unix.Unlinkat(u.pfd, tmp, unix.AT_REMOVEDIR)
		return fmt.Errorf("rename the stage folder %s: %w", filepath.Join(u.parent, tmp), err)
	}
	return nil
}

// uploadsOpenDir opens the folder name in the folder dirfd, never following
// a symlink.
func uploadsOpenDir(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, fsmeta.DirFlags, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// sameMount returns an error when the target's open folder fd is on
// another mount than the target itself: removing the old tree would delete
// what is mounted there.
func (u *uploadsRun) sameMount(rel string, fd int) error {
	k, err := uploadsMountOfFd(fd)
	if err != nil {
		return fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
	}
	if k != u.mount {
		return fmt.Errorf("%s is a mount point (or on another filesystem) inside the uploads target %s: "+
			"replacing the target would delete what is mounted there; nothing was changed", filepath.Join(u.target, rel), u.target)
	}
	return nil
}

func uploadsMountErr(target string, err error) error {
	return fmt.Errorf("uploads target %s is a mount point or on another filesystem than its parent folder: "+
		"the restore replaces it by a rename, which cannot be done there, and does not copy in place; "+
		"nothing was changed (restore into a folder on the parent's filesystem and mount that instead): %w", target, err)
}

// uploadsMountKey identifies the filesystem and mount an item is on. The
// mount ID also tells a bind mount of the same filesystem apart.
type uploadsMountKey struct{ dev, mnt uint64 }

func uploadsMountOfFd(fd int) (uploadsMountKey, error) {
	var stx unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx)
	if errors.Is(err, unix.ENOSYS) { // kernels before 4.11
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return uploadsMountKey{}, err
		}
		return uploadsMountKey{dev: st.Dev}, nil
	}
	if err != nil {
		return uploadsMountKey{}, fmt.Errorf("statx: %w", err)
	}
	k := uploadsMountKey{dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor)}
	if stx.Mask&unix.STATX_MNT_ID != 0 { // kernels since 5.8
		k.mnt = stx.Mnt_id
	}
	return k, nil
}
