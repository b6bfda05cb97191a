// Package fsmeta holds what snapshot, restore and config share about files:
// the mode bits a backup keeps, giving a copy the owner, mode and times of
// the item it copies (on open descriptors or relative to open folders, never
// through a symlink), the copy loop that hashes what it reads, the entry a
// file list records for an item, which errors mean an item vanished or a
// hard link must be a copy, and whether one path lies within another.
package fsmeta

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// ModeBits keeps the permission, setuid, setgid and sticky bits of a unix
// st_mode. st_mode uses unix bit numbering (04000 setuid, 02000 setgid,
// 01000 sticky), which is what the file list stores; fs.FileMode does not.
const ModeBits = 0o7777

// Mode returns the bits of st's mode that a backup keeps.
func Mode(st *unix.Stat_t) uint32 { return st.Mode & ModeBits }

// Entry fills the fields every entry type of a file list has, from the
// item's stat.
func Entry(rel, typ string, st *unix.Stat_t) manifest.Entry {
	return manifest.Entry{
		Path:  rel,
		Type:  typ,
		Mode:  fmt.Sprintf("%04o", Mode(st)),
		MTime: manifest.TimeOf(syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
	}
}

// Gone reports whether err means the item is no longer there (or no longer
// the kind of item it was, e.g. a folder swapped for a file or a symlink)
// rather than unreadable.
func Gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// NotLinkable reports whether a hard link failed for a reason a copy gets
// around: too many links, another filesystem, or not allowed
// (protected_hardlinks).
func NotLinkable(err error) bool {
	return errors.Is(err, unix.EMLINK) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EPERM)
}

// Readlinkat returns the target of the symlink name in the folder dirfd,
// however long it is.
func Readlinkat(dirfd int, name string) (string, error) {
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

// Error is a failed step on an item whose name the caller knows: Op is
// "chown", "chmod", "set times of", "read" or "write".
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Name puts what (the item, as the caller names it) into err: an *Error
// becomes "op what: cause", anything else "what: err".
func Name(err error, what string) error {
	if e, ok := err.(*Error); ok {
		return fmt.Errorf("%s %s: %w", e.Op, what, e.Err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
