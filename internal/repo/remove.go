package repo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
)

// PurgeLockName is the lock held while deleting_ folders are deleted, so
// that two processes do not delete the same tree.
const PurgeLockName = ".directus-backup-purge.lock"

// Purge deletes every deleting_ folder in dir. It needs no run lock: it
// takes its own, without waiting; when another process is already purging,
// it returns at once and leaves the work to it. Each folder is deleted only
// while the readers lock can be held exclusively and no reader waits for
// it (ReadersWaitingName): when a reader holds it or waits, Purge stops and
// returns an error wrapping ErrReaders (the folders wait for the next run).
// So a reader waits for the removal of one folder at most.
func Purge(dir string) ([]string, error) {
	f, err := openLockFile(filepath.Join(dir, PurgeLockName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, nil // someone else is purging
	}
	wf, err := openLockFile(filepath.Join(dir, ReadersWaitingName))
	if err != nil {
		return nil, err
	}
	defer wf.Close()
	var removed []string
	var errs []error
	for pass := 0; pass < 3; pass++ { // pick up what retires meanwhile
		ents, err := os.ReadDir(dir)
		if err != nil {
			return removed, err
		}
		var names []string
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), DeletingPrefix) {
				names = append(names, e.Name())
			}
		}
		for i, name := range names {
			rf, ok, err := exclusiveReaders(dir)
			if err != nil {
				return removed, errors.Join(append(errs, err)...)
			}
			if ok {
				var waiting bool
				if waiting, err = readersWaiting(wf); err != nil || waiting {
					rf.Close()
					ok = false
				}
				if err != nil {
					return removed, errors.Join(append(errs, err)...)
				}
			}
			if !ok {
				left := fmt.Errorf("%d retired folder(s) left: %w", len(names)-i, ErrReaders)
				if len(errs) > 0 {
					return removed, errors.Join(append(errs, left)...)
				}
				return removed, left
			}
			err = RemoveTree(filepath.Join(dir, name))
			rf.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
				continue
			}
			removed = append(removed, name)
		}
		if len(names) == 0 || len(errs) > 0 {
			break
		}
	}
	return removed, errors.Join(errs...)
}

// RemoveTree removes path and everything below it. Backups keep the modes
// of the uploads folders, so a read-only folder (0555) would stop a
// non-root os.RemoveAll; then the tree is removed again folder by folder,
// each opened without following symlinks relative to its open parent and
// made writable for the owner through that descriptor (fchmod), never by
// path: a folder swapped for a symlink meanwhile (the owner of the tree
// may do that) must not make a root run chmod what the link points at.
// Only folders are ever chmod-ed: files may be hard links shared with
// other backups.
func RemoveTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	return removeTreeByFd(path)
}

// removeTreeByFd is RemoveTree's folder-by-folder removal.
func removeTreeByFd(path string) error {
	path = filepath.Clean(path)
	parent, name := filepath.Dir(path), filepath.Base(path)
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: parent, Err: err}
	}
	defer unix.Close(pfd)
	return removeAt(pfd, name, path)
}

// removeTreeHook, when set (by tests), runs before removeAt opens a folder.
var removeTreeHook func(path string)

// removeAt removes name, in the open folder dirfd, and whatever is below
// it; path names it in errors.
func removeAt(dirfd int, name, path string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	if removeTreeHook != nil {
		removeTreeHook(path)
	}
	uerr := err
	fd, err := openTreeDir(dirfd, name)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return &os.PathError{Op: "remove", Path: path, Err: uerr} // not a folder after all
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	// Names are read in batches and removed as they come, so memory does
	// not grow with a flat uploads folder; a pass that removed anything
	// is followed by another from the start, since removing entries while
	// reading may make the reader miss some.
	var errs []error
	for {
		removed := false
		for {
			names, rerr := f.Readdirnames(1024)
			for _, n := range names {
				if err := removeAt(fd, n, filepath.Join(path, n)); err != nil {
					errs = append(errs, err)
				} else {
					removed = true
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return errors.Join(append(errs, rerr)...)
			}
		}
		if !removed || len(errs) > 0 {
			break
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return &os.PathError{Op: "seek", Path: path, Err: err}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// openTreeDir opens the folder name in dirfd for reading, never through a
// symlink, and makes it readable, writable and searchable for its owner
// (through the descriptor) if it is not. A folder the caller cannot even
// read is opened O_PATH first, chmod-ed through that, and opened again.
func openTreeDir(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if errors.Is(err, unix.EACCES) {
		var pfd int
		pfd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err = unix.Fstat(pfd, &st); err == nil {
			err = chmodPathFd(pfd, st.Mode&fsmeta.ModeBits|0o700)
		}
		if err != nil {
			unix.Close(pfd)
			return -1, err
		}
		fd, err = unix.Openat(dirfd, name, flags, 0)
		if err == nil {
			// The same folder as the one chmod-ed, or nothing.
			var st2 unix.Stat_t
			if err = unix.Fstat(fd, &st2); err == nil && (st2.Dev != st.Dev || st2.Ino != st.Ino) {
				err = unix.ENOENT
			}
			if err != nil {
				unix.Close(fd)
			}
		}
		unix.Close(pfd)
		if err != nil {
			return -1, err
		}
		return fd, nil
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err == nil && st.Mode&0o700 != 0o700 {
		err = unix.Fchmod(fd, st.Mode&fsmeta.ModeBits|0o700)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// chmodPathFd changes the mode of what the O_PATH descriptor fd refers to:
// fchmod refuses such descriptors, so fchmodat2(AT_EMPTY_PATH) (Linux 6.6)
// is used, or else the descriptor's /proc/self/fd link, which resolves to
// that very inode.
func chmodPathFd(fd int, mode uint32) error {
	err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		err = unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), mode)
	}
	return err
}
