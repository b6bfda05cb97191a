package fsmeta

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// Open flags, for use relative to open folders.
const (
	// DirFlags open a folder to walk: never through a symlink.
	DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	// ReadFlags open the item to copy: never through a symlink, and a FIFO
	// swapped in meanwhile does not hang the open.
	ReadFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	// CreateFlags create the copy: never over or through anything there.
	CreateFlags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
)

// Copier copies and hashes files with buffers from a pool: one buffer per
// copy running at a time, however many files are copied.
type Copier struct {
	bufs sync.Pool
}

// NewCopier returns a Copier reading size bytes at a time. The context is
// checked once per read, so a cancel is noticed within size bytes.
func NewCopier(size int) *Copier {
	c := &Copier{}
	c.bufs.New = func() any { b := make([]byte, size); return &b }
	return c
}

// Copy reads r to its end into a SHA-256 and, when w is not nil, into w,
// checking ctx before every read. It returns the bytes read and their
// SHA-256 in hex. A cancelled ctx returns ctx.Err() as it is; a read or
// write error is an *Error (Op "read" or "write").
func (c *Copier) Copy(ctx context.Context, r io.Reader, w io.Writer) (int64, string, error) {
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	buf := *bp
	h := sha256.New()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, "", err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k]) // never fails
			if w != nil {
				if _, err := w.Write(buf[:k]); err != nil {
					return n, "", &Error{Op: "write", Err: err}
				}
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, hex.EncodeToString(h.Sum(nil)), nil
		}
		if rerr != nil {
			return n, "", &Error{Op: "read", Err: rerr}
		}
	}
}

// ErrNotRegular is returned by OpenRegular for an item that is not (or no
// longer) a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens the regular file name in the folder dirfd to read it
// (ReadFlags) and fills st with the stat of the inode opened, which is the
// one to record: the item may have changed since an earlier stat. An item
// that is not a regular file is closed again (ErrNotRegular); other errors
// are the system call's, so a caller can tell one that vanished.
func OpenRegular(dirfd int, name string, st *unix.Stat_t) (int, error) {
	fd, err := unix.Openat(dirfd, name, ReadFlags, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, ErrNotRegular
	}
	return fd, nil
}
