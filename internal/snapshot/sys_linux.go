package snapshot

import (
	"os"
	"syscall"
	"unsafe"
)

// lutimesNano sets the access and modification times of p to ns (Unix
// nanoseconds) without following a symlink: utimensat(AT_FDCWD, p, ts,
// AT_SYMLINK_NOFOLLOW). The syscall package only has the following variant
// (UtimesNano), and golang.org/x/sys/unix, which has UtimesNanoAt, cannot be
// built until go.mod says "go 1.26.0" (x/sys v0.50.0 requires it).
func lutimesNano(p string, ns int64) error {
	const (
		atFDCWD           = -100  // AT_FDCWD; syscall does not export it on Linux
		atSymlinkNoFollow = 0x100 // AT_SYMLINK_NOFOLLOW; likewise
	)
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(ns), syscall.NsecToTimespec(ns)}
	name, err := syscall.BytePtrFromString(p)
	if err != nil {
		return &os.PathError{Op: "utimensat", Path: p, Err: err}
	}
	dirfd := atFDCWD // a variable: uintptr of a negative constant does not compile
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&ts[0])),
		atSymlinkNoFollow, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "utimensat", Path: p, Err: errno}
	}
	return nil
}
