package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/parallel"
)

// walker holds the state of one Take.
type walker struct {
	ctx      context.Context
	opts     Options
	list     *manifest.ListWriter
	warn     func(msg string, args ...any) // safe for concurrent use
	prevList *prevList                     // nil when there is no vouched previous list
	copier   *fsmeta.Copier                // copy buffers, one per worker at a time
	attrs    fsmeta.Attrs                  // what a copy is given of its source's attributes
	workers  int
	spillDir string // where huge folders' name lists are sorted
	res      Result

	// The new snapshot folder, so a Dest inside Source is refused instead of
	// copied into itself forever.
	destDev, destIno uint64
}

// fds are the open folders of one level of the walk: the source, its copy,
// and the previous backup's folder (-1 when there is none). Three
// descriptors per depth level; no file stays open.
type fds struct{ src, dst, prev int }

// checkCtx returns the context's error, naming where the walk stopped.
func (w *walker) checkCtx(rel string) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("snapshot stopped at %s: %w", rel, err)
	}
	return nil
}

// Kinds of children, as phase 1 of dir finds them.
const (
	kindGone = iota // vanished since the folder was read: left out
	kindDir
	kindFile
	kindSymlink
	kindSkip // socket, FIFO, device
)

// childResult is what phase 1 of dir learned and did for one child.
type childResult struct {
	kind      int
	st        *unix.Stat_t
	linked    bool   // a file hard-linked to the previous backup
	refreshed bool   // copied because the previous copy is known damaged
	size      int64  // bytes copied
	sum       string // SHA-256 of a copied file
	target    string // of a symlink
	err       error

	// Hashes of a linked file and of its source, taken on the worker when
	// phase 2 will need them (a recheck is due, or no list vouches), so
	// the reading overlaps like copying does.
	linkedSum, srcSum hashed
}

// hashed is a SHA-256 taken in phase 1, or not (ok false).
type hashed struct {
	sum string
	err error
	ok  bool
}

// parallelMin is the number of children from which a folder's files are
// handled by several workers: below it, starting them costs more than it
// saves.
const parallelMin = 8

// written notes a path this run created, for the caller's fsync.
func (w *walker) written(rel string) {
	if w.opts.OnWritten != nil {
		w.opts.OnWritten(rel)
	}
}

// dir copies the folder src (st is its fstat) to the already created and
// opened dst, then its children in name order, then sets dst's mode and
// owner (its times are set by the caller, through the parent). prev is the
// matching folder of the previous backup, or -1. dir closes src, dst and
// prev.
//
// Children are handled in two phases. Phase 1 does the file system work of
// every non-folder child (stat, link or copy, symlink) on several workers:
// it is almost all system calls and disk, which two cores overlap well.
// Phase 2 then goes through the children in name order, on this goroutine:
// it descends into subfolders and writes the list, and only it touches the
// previous list, the counters and the list, so their order is kept. The
// phases run on batches of children, and the names come sorted from
// dirnames, so memory stays flat however many files a folder holds.
func (w *walker) dir(rel string, src *os.File, dst, prev int, st *unix.Stat_t) error {
	defer src.Close()
	defer unix.Close(dst)
	if prev >= 0 {
		defer unix.Close(prev)
	}
	fd := fds{src: int(src.Fd()), dst: dst, prev: prev}

	if err := w.add(fsmeta.Entry(rel, manifest.TypeDir, st)); err != nil {
		return err
	}
	w.res.Dirs++
	w.written(rel)

	// Byte order of names is the order of filepath.WalkDir and of
	// manifest.ComparePaths. A huge flat folder (Directus keeps all
	// uploads in one) is sorted without holding all its names.
	names, err := dirnames.Open(src, w.spillDir, dirnames.DefaultMax)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", rel, err)
	}
	defer names.Close()

	// A batch at a time, so that the results held do not grow with the
	// folder either.
	for {
		batch := names.Batch(batchSize)
		if len(batch) == 0 {
			break
		}
		if err := w.batch(rel, fd, batch); err != nil {
			return err
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("read folder %s: %w", rel, err)
	}
	if err := w.attrs.Fd(dst, st); err != nil {
		return fsmeta.Name(err, rel)
	}
	return nil
}

// batchSize is how many children of a folder are handled per round of the
// two phases.
const batchSize = 1024

// batch handles some children of a folder, in name order, in two phases.
func (w *walker) batch(rel string, fd fds, names []string) error {
	// Phase 1.
	results := make([]childResult, len(names))
	do := func(i int) {
		crel := path.Join(rel, names[i]) // path.Join("." , x) is x
		if err := w.checkCtx(crel); err != nil {
			results[i].err = err
			return
		}
		results[i] = w.child(crel, names[i], fd)
	}
	workers := w.workers
	if len(names) < parallelMin {
		workers = 1
	}
	parallel.For(len(names), workers, do)

	// Phase 2.
	for i, name := range names {
		crel := path.Join(rel, name)
		if err := w.checkCtx(crel); err != nil {
			return err
		}
		if err := w.record(crel, name, fd, results[i], true); err != nil {
			return err
		}
	}
	return nil
}

// record is phase 2 for one child: it descends into a folder, or records
// what phase 1 did. again is false when the child is being looked at a
// second time, after a folder turned into something else.
func (w *walker) record(rel, name string, fd fds, r childResult, again bool) error {
	if r.err != nil {
		return r.err
	}
	switch r.kind {
	case kindDir:
		return w.subdir(rel, name, fd, again)
	case kindFile:
		return w.recordFile(rel, name, fd, r)
	case kindSymlink:
		e := fsmeta.Entry(rel, manifest.TypeSymlink, r.st)
		e.Target = r.target
		w.res.Symlinks++
		return w.add(e)
	case kindSkip:
		w.res.Skipped++
	}
	return nil
}

// subdir opens a child folder relative to its parent, without following a
// symlink, and copies it. A folder swapped for something else since phase 1
// saw it is recorded as what it is now (a symlink is copied as a symlink,
// never followed).
func (w *walker) subdir(rel, name string, parent fds, again bool) error {
	sfd, err := unix.Openat(parent.src, name, fsmeta.DirFlags, 0)
	if (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && again {
		w.warn("uploads folder was replaced while copying; recording what is there now", "path", rel)
		return w.record(rel, name, parent, w.child(rel, name, parent), false)
	}
	if fsmeta.Gone(err) {
		w.warn("uploads folder vanished or changed while copying, left out", "path", rel)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open folder %s: %w", rel, err)
	}
	src := os.NewFile(uintptr(sfd), rel)
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		src.Close()
		return fmt.Errorf("stat folder %s: %w", rel, err)
	}
	if st.Dev == w.destDev && st.Ino == w.destIno {
		src.Close()
		return fmt.Errorf("snapshot folder %s is inside the uploads source (at %s)", w.opts.Dest, rel)
	}
	// 0700 while children are written; the real mode comes last.
	if err := unix.Mkdirat(parent.dst, name, 0o700); err != nil {
		src.Close()
		return fmt.Errorf("create folder %s: %w", rel, err)
	}
	dfd, err := unix.Openat(parent.dst, name, fsmeta.DirFlags, 0)
	if err != nil {
		src.Close()
		return fmt.Errorf("open folder %s: %w", rel, err)
	}
	pfd := -1
	if parent.prev >= 0 {
		if p, err := unix.Openat(parent.prev, name, fsmeta.DirFlags, 0); err == nil {
			pfd = p
		}
	}
	if err := w.dir(rel, src, dfd, pfd, &st); err != nil {
		return err
	}
	if err := w.attrs.Times(parent.dst, name, &st); err != nil {
		return fsmeta.Name(err, rel)
	}
	return nil
}

// child is phase 1 for one item of a folder: everything but subfolders,
// which phase 2 enters. It may run on any worker: it touches only its own
// names.
func (w *walker) child(rel, name string, fd fds) childResult {
	var st unix.Stat_t
	err := unix.Fstatat(fd.src, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if fsmeta.Gone(err) {
		w.warn("uploads item vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("stat %s: %w", rel, err)}
	}

	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return childResult{kind: kindDir, st: &st}
	case unix.S_IFREG:
		return w.file(rel, name, fd, &st)
	case unix.S_IFLNK:
		return w.symlink(rel, name, fd, &st)
	default:
		w.warn("skipping special file (socket, FIFO or device)", "path", rel, "type", typeName(st.Mode))
		return childResult{kind: kindSkip}
	}
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return fmt.Sprintf("type %o", mode&unix.S_IFMT)
}
