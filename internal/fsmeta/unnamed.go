package fsmeta

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// UnnamedFile opens a new file in dir that has no name: O_TMPFILE where the
// filesystem has it (no name ever appears), else a file made under a random
// name and unlinked at once relative to the open folder, so that a folder
// swapped in under dir's path meanwhile cannot have something else removed.
//
// prefix starts the fallback's name; tmpfile false skips O_TMPFILE (for
// tests of the fallback). Used for spill files and for write probes.
func UnnamedFile(dir, prefix string, tmpfile bool) (*os.File, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	if tmpfile {
		fd, err := unix.Openat(dfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
		}
		// Not supported by the kernel or the filesystem: a named file.
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
			return nil, &os.PathError{Op: "create a file in", Path: dir, Err: err}
		}
	}
	for range 100 {
		var b [8]byte
		rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		fd, err := unix.Openat(dfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "create", Path: filepath.Join(dir, name), Err: err}
		}
		if err := unix.Unlinkat(dfd, name, 0); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "remove", Path: filepath.Join(dir, name), Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(dir, name)), nil
	}
	return nil, fmt.Errorf("create a file in %s: no free name", dir)
}
