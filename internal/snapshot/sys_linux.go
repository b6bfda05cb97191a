package snapshot

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lutimes sets the access and modification times of p to mt without
// following a symlink; the syscall package only has the following variant.
// The timespec is passed as is: int64 nanoseconds end in 2262.
func lutimes(p string, mt syscall.Timespec) error {
	return setTimes(unix.AT_FDCWD, p, unix.Timespec(mt))
}

// setTimes sets the access and modification times of name in folder dirfd
// to mt, without following a symlink.
func setTimes(dirfd int, name string, mt unix.Timespec) error {
	ts := []unix.Timespec{mt, mt}
	if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: name, Err: err}
	}
	return nil
}

// readlinkat returns the target of the symlink name in folder dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
