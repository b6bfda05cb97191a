package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// lutimesNano sets the access and modification times of p to ns (Unix
// nanoseconds) without following a symlink; the syscall package only has
// the following variant.
func lutimesNano(p string, ns int64) error {
	ts := []unix.Timespec{unix.NsecToTimespec(ns), unix.NsecToTimespec(ns)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: p, Err: err}
	}
	return nil
}
