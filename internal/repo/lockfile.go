package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/regfile"
)

// ErrBadLockFile means a lock file in BACKUPS_DIR is not a plain file of
// its own: a symlink (which would make a root run write wherever it
// points), a FIFO, a folder, or a file with other hard links. The tool
// refuses it rather than use it; the user removes it.
var ErrBadLockFile = errors.New("lock file is not a regular file")

// openLockFile opens (creating it when missing) a lock file in BACKUPS_DIR
// without ever following a symlink or opening anything else than a
// regular file with a single link. A new file is made with O_EXCL, which
// fails on any existing name, a dangling symlink included, so nothing is
// ever created at a symlink's target.
func openLockFile(path string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, os.ErrExist) {
			// NONBLOCK: a FIFO is opened without waiting, then refused.
			f, err = os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if errors.Is(err, os.ErrNotExist) && try < 3 {
				continue // removed between the two opens
			}
		}
		return checkLockFile(path, f, err)
	}
}

// checkLockFile vets what opening path gave: f (or the open's error) is
// refused unless it is a regular file with one link.
func checkLockFile(path string, f *os.File, err error) (*os.File, error) {
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, badLockFile(path, regfile.Kind(fi.Mode()))
		}
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = lockFileProblem(path, fi)
	} else {
		err = fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockFileProblem says why fi (of path) is no lock file of ours, or nil.
func lockFileProblem(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return badLockFile(path, regfile.Kind(fi.Mode()))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		return badLockFile(path, fmt.Sprintf("a file with %d hard links (one may be a file outside BACKUPS_DIR)", st.Nlink))
	}
	return nil
}

func badLockFile(path, what string) error {
	return fmt.Errorf("%w: %s is %s; remove it (the tool creates a new one): rm %q", ErrBadLockFile, path, what, path)
}

// openLockFile for a reader who may not write BACKUPS_DIR: an existing lock
// file opened read-only (flock works on it), with the same checks.
func openLockFileReadOnly(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	return checkLockFile(path, f, err)
}

// CheckLockFiles returns, without opening anything, an error for each lock
// file in dir that the tool would refuse (for doctor).
func CheckLockFiles(dir string) []error {
	var out []error
	for _, n := range []string{LockName, PurgeLockName, ReadersLockName, ReadersWaitingName} {
		p := filepath.Join(dir, n)
		if fi, err := os.Lstat(p); err == nil {
			if err := lockFileProblem(p, fi); err != nil {
				out = append(out, err)
			}
		}
	}
	return out
}
