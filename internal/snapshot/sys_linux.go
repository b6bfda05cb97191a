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
	ts := []unix.Timespec{unix.Timespec(mt), unix.Timespec(mt)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: p, Err: err}
	}
	return nil
}
