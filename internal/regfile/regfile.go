package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is wrapped by the error of Open and ReadFile for anything
// that is not a regular file: a symlink, FIFO, socket, device or folder.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading. A final symlink is not followed and a FIFO
// is not waited on (O_NOFOLLOW|O_NONBLOCK); what was opened is checked with
// fstat, so a swap between a check and the open cannot get through. The
// error of a missing file still matches fs.ErrNotExist.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EISDIR) {
			if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
				return nil, notRegular(path, fi.Mode())
			}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi.Mode())
	}
	// O_NONBLOCK stays set: reads of a regular file ignore it on Linux, and
	// clearing it cost two more system calls per file (verify opens every
	// uploads file through here).
	return f, nil
}

// ReadFile is os.ReadFile through Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Kind names what a file mode is, for messages: "a symlink", "a FIFO
// (named pipe)", ...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a folder"
	}
	return "not a regular file"
}

func notRegular(path string, m fs.FileMode) error {
	return fmt.Errorf("%s is %s: %w", path, Kind(m), ErrNotRegular)
}
