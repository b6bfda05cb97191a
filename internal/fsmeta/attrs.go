package fsmeta

import "golang.org/x/sys/unix"

// Attrs gives a copy the attributes of the item it copies. Everything is
// set on an open descriptor or relative to an open folder without
// following a symlink, so an item swapped for a symlink meanwhile cannot
// lead the change elsewhere.
type Attrs struct {
	Owner bool // set uid and gid too (needs root; rsync -a does it as root)
	Atime bool // set the access time from the item too; without, it is set to the mtime
}

// Fd sets the owner (when a.Owner) and the mode of the open item fd to st's.
// The owner goes first because chown clears the setuid and setgid bits.
func (a Attrs) Fd(fd int, st *unix.Stat_t) error {
	if a.Owner {
		if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
			return &Error{Op: "chown", Err: err}
		}
	}
	// Raw unix bits: no fs.FileMode conversion of setuid/setgid/sticky.
	if err := unix.Fchmod(fd, Mode(st)); err != nil {
		return &Error{Op: "chmod", Err: err}
	}
	return nil
}

// Times sets the times of the item name in the folder dirfd to st's.
func (a Attrs) Times(dirfd int, name string, st *unix.Stat_t) error {
	at := st.Mtim
	if a.Atime {
		at = st.Atim
	}
	return SetTimes(dirfd, name, at, st.Mtim)
}

// File sets the owner, mode and times of a new copy, open as fd and named
// name in the folder dirfd. Times come last: nothing after them changes the
// mtime.
func (a Attrs) File(fd, dirfd int, name string, st *unix.Stat_t) error {
	if err := a.Fd(fd, st); err != nil {
		return err
	}
	return a.Times(dirfd, name, st)
}

// Symlink sets the owner (when a.Owner) and times of the symlink name in
// the folder dirfd. Symlinks have no mode of their own on Linux.
func (a Attrs) Symlink(dirfd int, name string, st *unix.Stat_t) error {
	if a.Owner {
		if err := unix.Fchownat(dirfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &Error{Op: "chown", Err: err}
		}
	}
	return a.Times(dirfd, name, st)
}

// SetTimes sets the access and modification times of name in the folder
// dirfd (unix.AT_FDCWD: a path), without following a symlink. The
// timespecs are passed as they are: int64 nanoseconds end in 2262.
func SetTimes(dirfd int, name string, atime, mtime unix.Timespec) error {
	if err := unix.UtimesNanoAt(dirfd, name, []unix.Timespec{atime, mtime}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &Error{Op: "set times of", Err: err}
	}
	return nil
}
