package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// Options for Take.
type Options struct {
	Source   string // the live uploads folder; if it is a symlink to a folder, it is followed (like rsync "src/")
	Dest     string // folder to create (must not exist yet; its parent exists); gets the copy
	Previous string // previous complete backup's uploads folder, or "" for a full copy; a missing or broken one means full copy (with a Warn)
	// PreviousList is the previous backup's manifest.files.jsonl, or nil.
	// Pass it only when it is vouched for (its SHA-256 matches the one its
	// manifest.json records): its hashes are trusted for linked files. With
	// nil (a backup of the old backup.sh, or a list that fails its
	// checksum), every linked file is compared with the source instead.
	PreviousList  io.Reader
	PreviousName  string                        // the previous backup's name, for warnings
	PreserveOwner bool                          // chown/lchown to the source uid/gid (true when running as root, like rsync -a)
	Warn          func(msg string, args ...any) // slog-style; may be nil
	OnFile        func(bytes int64)             // called after each regular file is done (for a progress display); may be nil

	// RecheckPercent (0 to 100) is the share of linked files re-read and
	// compared with their listed hash in this run; Run picks which: a file's
	// slot (a hash of its path) is due when it falls in the window
	// [Run*p, Run*p+p) mod 100, so consecutive runs cover every slot within
	// ceil(100/p) runs.
	RecheckPercent int
	Run            int64

	// Damaged lists, by path, files that verify found damaged in some
	// backup, with their inode: a previous file that is one of those inodes
	// is copied afresh instead of linked.
	Damaged map[string][]Damaged

	// OnWritten, when set, is called with each copied file and created
	// folder (relative to Dest, slash-separated, "." for Dest itself), so
	// the caller can fsync just those. Called from one goroutine, in walk
	// order.
	OnWritten func(rel string)
}

// Damaged is one inode known to hold damaged bytes. It is matched by inode
// number, size and mtime, not st_dev: that can change across reboots, and
// the previous backup and the new links are on one filesystem anyway.
type Damaged struct {
	Ino  uint64
	Size int64
	// MTime of the damaged inode; with HasAttrs false (a list written
	// before these were recorded) the inode number alone matches, at worst
	// copying a good file afresh.
	MTime    unix.Timespec
	HasAttrs bool
	Backup   string // where verify found it
}

// Result counts what Take did.
type Result struct {
	Files, Dirs, Symlinks, Skipped int64 // Dirs includes the root
	Bytes                          int64 // total size of regular files
	Linked                         int64 // files hard-linked to Previous
	Copied                         int64 // files copied (Refreshed included)
	CopiedBytes                    int64
	Rechecked                      int64 // linked files re-read and compared with their listed hash
	Compared                       int64 // linked files compared with the source, as no list vouched for them
	Refreshed                      int64 // files the previous backup held damaged, copied afresh instead of linked
}

// copyBufSize is the read size of the copy loop; the context is checked once
// per read, so a cancel is noticed within this many bytes.
const copyBufSize = 1 << 20

// Every item below the root is opened relative to its already open parent
// folder and never through a symlink (fsmeta.DirFlags, fsmeta.ReadFlags),
// so a folder swapped for a symlink while the walk runs cannot lead it out
// of the tree.

// Take copies Source into Dest and writes one manifest.Entry per item to
// list, in manifest.ComparePaths order (root first, Path "."). It does not
// close list.
func Take(ctx context.Context, opts Options, list *manifest.ListWriter) (Result, error) {
	w := &walker{
		ctx:      ctx,
		opts:     opts,
		list:     list,
		workers:  runtime.GOMAXPROCS(0),
		spillDir: filepath.Dir(opts.Dest),
	}
	w.copier = fsmeta.NewCopier(copyBufSize)
	w.attrs = fsmeta.Attrs{Owner: opts.PreserveOwner}
	// Workers warn concurrently; the caller's function need not be safe
	// for that.
	var warnMu sync.Mutex
	w.warn = func(msg string, args ...any) {
		if opts.Warn != nil {
			warnMu.Lock()
			defer warnMu.Unlock()
			opts.Warn(msg, args...)
		}
	}
	if list == nil {
		return w.res, errors.New("snapshot: no list writer")
	}
	if err := ctx.Err(); err != nil {
		return w.res, fmt.Errorf("snapshot %s: %w", opts.Source, err)
	}

	// A symlinked root is followed, like rsync "src/"; below it nothing
	// is followed. O_DIRECTORY|O_NONBLOCK: a FIFO put in its place is
	// refused at once instead of waited on.
	sfd, err := unix.Open(opts.Source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) {
		return w.res, fmt.Errorf("uploads source %s is not a folder", opts.Source)
	}
	if err != nil {
		return w.res, fmt.Errorf("uploads source %s: %w", opts.Source, &os.PathError{Op: "open", Path: opts.Source, Err: err})
	}
	if err := unix.SetNonblock(sfd, false); err != nil {
		unix.Close(sfd)
		return w.res, fmt.Errorf("uploads source %s: %w", opts.Source, err)
	}
	src := os.NewFile(uintptr(sfd), opts.Source)
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		src.Close()
		return w.res, fmt.Errorf("uploads source %s: %w", opts.Source, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		src.Close()
		return w.res, fmt.Errorf("uploads source %s is not a folder", opts.Source)
	}

	// Dest is made and reached relative to its open parent, never by
	// resolving its path again (its parent may be reached through
	// /proc/self/fd, see job).
	parent, err := unix.Open(filepath.Dir(opts.Dest), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		src.Close()
		return w.res, fmt.Errorf("create snapshot folder %s: %w", opts.Dest, err)
	}
	defer unix.Close(parent)
	destName := filepath.Base(opts.Dest)
	if err := unix.Mkdirat(parent, destName, 0o700); err != nil {
		src.Close()
		return w.res, fmt.Errorf("create snapshot folder %s: %w", opts.Dest, err)
	}
	dst, err := unix.Openat(parent, destName, fsmeta.DirFlags, 0)
	if err != nil {
		src.Close()
		return w.res, fmt.Errorf("open snapshot folder %s: %w", opts.Dest, err)
	}
	var dst0 unix.Stat_t
	if err := unix.Fstat(dst, &dst0); err != nil {
		src.Close()
		unix.Close(dst)
		return w.res, fmt.Errorf("create snapshot folder %s: %w", opts.Dest, err)
	}
	w.destDev, w.destIno = dst0.Dev, dst0.Ino

	prev := -1
	if opts.Previous != "" {
		// The previous backup's own path may be a symlink; inside it
		// nothing is followed.
		pfd, err := unix.Open(opts.Previous, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		switch {
		case errors.Is(err, unix.ENOTDIR):
			w.warn("previous backup's uploads is not a folder, copying everything", "previous", opts.Previous)
		case err != nil:
			w.warn("previous backup's uploads unusable, copying everything", "previous", opts.Previous, "err", err)
		default:
			prev = pfd
			if opts.PreviousList != nil {
				w.prevList = &prevList{r: manifest.NewReader(opts.PreviousList), warn: w.warn}
			}
		}
	}

	if err := w.dir(".", src, dst, prev, &st); err != nil {
		return w.res, err
	}
	if err := w.attrs.Times(parent, destName, &st); err != nil {
		return w.res, fsmeta.Name(err, opts.Dest)
	}
	return w.res, nil
}
