package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/dirnames"
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

// modeBits keeps the permission, setuid, setgid and sticky bits of a unix
// st_mode (unix numbering, not fs.FileMode's).
const modeBits = 0o7777

// Open flags. Every item below the root is opened relative to its already
// open parent folder and never through a symlink, so a folder swapped for a
// symlink while the walk runs cannot lead it out of the tree.
const (
	dirFlags  = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	readFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC // NONBLOCK: a FIFO swapped in does not hang the open
)

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
	w.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
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
	dst, err := unix.Openat(parent, destName, dirFlags, 0)
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
	if err := setTimes(parent, destName, st.Mtim); err != nil {
		return w.res, fmt.Errorf("set times of %s: %w", opts.Dest, err)
	}
	return w.res, nil
}

// walker holds the state of one Take.
type walker struct {
	ctx      context.Context
	opts     Options
	list     *manifest.ListWriter
	warn     func(msg string, args ...any) // safe for concurrent use
	prevList *prevList                     // nil when there is no vouched previous list
	bufs     sync.Pool                     // copy buffers, one per worker at a time
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

	if err := w.add(entryFor(rel, manifest.TypeDir, st)); err != nil {
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
	// Owner first: chown clears setuid/setgid.
	if w.opts.PreserveOwner {
		if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
	}
	if err := unix.Fchmod(dst, st.Mode&modeBits); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
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
	if w.workers > 1 && len(names) >= parallelMin {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range w.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
					do(i)
				}
			}()
		}
		wg.Wait()
	} else {
		for i := range names {
			do(i)
		}
	}

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
		e := entryFor(rel, manifest.TypeSymlink, r.st)
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
	sfd, err := unix.Openat(parent.src, name, dirFlags, 0)
	if (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && again {
		w.warn("uploads folder was replaced while copying; recording what is there now", "path", rel)
		return w.record(rel, name, parent, w.child(rel, name, parent), false)
	}
	if vanished(err) {
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
	dfd, err := unix.Openat(parent.dst, name, dirFlags, 0)
	if err != nil {
		src.Close()
		return fmt.Errorf("open folder %s: %w", rel, err)
	}
	pfd := -1
	if parent.prev >= 0 {
		if p, err := unix.Openat(parent.prev, name, dirFlags, 0); err == nil {
			pfd = p
		}
	}
	if err := w.dir(rel, src, dfd, pfd, &st); err != nil {
		return err
	}
	if err := setTimes(parent.dst, name, st.Mtim); err != nil {
		return fmt.Errorf("set times of %s: %w", rel, err)
	}
	return nil
}

// child is phase 1 for one item of a folder: everything but subfolders,
// which phase 2 enters. It may run on any worker: it touches only its own
// names.
func (w *walker) child(rel, name string, fd fds) childResult {
	var st unix.Stat_t
	err := unix.Fstatat(fd.src, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if vanished(err) {
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

// file links or copies one regular file (phase 1).
func (w *walker) file(rel, name string, fd fds, st *unix.Stat_t) childResult {
	if fd.prev >= 0 {
		var ps unix.Stat_t
		if unix.Fstatat(fd.prev, name, &ps, unix.AT_SYMLINK_NOFOLLOW) == nil && w.linkable(&ps, st) {
			if d, bad := w.knownDamaged(rel, &ps); bad {
				w.warn("previous copy was found damaged by verify; copying it afresh from the uploads folder",
					"path", rel, "damaged_in", d.Backup)
				r := w.copyFile(rel, name, fd)
				r.refreshed = r.kind == kindFile
				return r
			}
			err := unix.Linkat(fd.prev, name, fd.dst, name, 0)
			if err == nil {
				r := childResult{kind: kindFile, st: st, linked: true, size: st.Size}
				if w.prevList == nil || w.recheckDue(rel) {
					sum, err := w.hashLinked(rel, fd.dst, name)
					r.linkedSum = hashed{sum: sum, err: err, ok: true}
				}
				if w.prevList == nil {
					r.srcSum = w.hashNow(rel, fd.src, name)
				}
				return r
			}
			// Too many links, another filesystem, or not allowed: copy instead.
			if !errors.Is(err, unix.EMLINK) && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EPERM) {
				return childResult{err: fmt.Errorf("link %s: %w", rel, err)}
			}
		}
	}
	return w.copyFile(rel, name, fd)
}

// knownDamaged reports whether the previous backup's file ps is an inode
// verify recorded as damaged at this path.
func (w *walker) knownDamaged(rel string, ps *unix.Stat_t) (Damaged, bool) {
	for _, d := range w.opts.Damaged[rel] {
		if d.Ino == ps.Ino && (!d.HasAttrs || d.Size == ps.Size && d.MTime == ps.Mtim) {
			return d, true
		}
	}
	return Damaged{}, false
}

// linkable reports whether the previous backup's file (ps) can stand for
// the source file: the rsync --link-dest comparison (-a: size, mtime,
// perms, and owner when owners are preserved).
func (w *walker) linkable(ps, st *unix.Stat_t) bool {
	if ps.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	if ps.Size != st.Size || ps.Mtim != st.Mtim || ps.Mode&modeBits != st.Mode&modeBits {
		return false
	}
	if w.opts.PreserveOwner && (ps.Uid != st.Uid || ps.Gid != st.Gid) {
		return false
	}
	return true
}

// recordFile is phase 2 for a regular file: for a linked file its hash
// (vouched for by the previous list, re-read when due, or compared with the
// source), then its entry.
func (w *walker) recordFile(rel, name string, fd fds, r childResult) error {
	if r.linked {
		sum, ok, err := w.linkedSum(rel, name, fd, r)
		if err != nil {
			return err
		}
		if ok {
			w.res.Linked++
			return w.addFile(rel, r.st, r.size, sum)
		}
		// The linked bytes are not what the uploads folder holds: replace
		// the link by a fresh copy.
		if err := unix.Unlinkat(fd.dst, name, 0); err != nil {
			return fmt.Errorf("remove damaged link %s: %w", rel, err)
		}
		r = w.copyFile(rel, name, fd)
		if r.err != nil {
			return r.err
		}
		if r.kind != kindFile {
			return nil // vanished meanwhile; copyFile warned
		}
		r.refreshed = true
	}
	if r.refreshed {
		w.res.Refreshed++
	}
	w.res.Copied++
	w.res.CopiedBytes += r.size
	w.written(rel)
	return w.addFile(rel, r.st, r.size, r.sum)
}

// linkedSum returns the SHA-256 to record for a linked file, and false when
// the linked bytes must not be kept. Phase 2 only: the previous list is
// read in walk order.
//
// With a matching entry in the (vouched) previous list, its hash is used;
// when the file's recheck is due, the linked bytes are read and must match
// it. Without one, nothing vouches for the linked bytes, so they are
// compared with the source file.
func (w *walker) linkedSum(rel, name string, fd fds, r childResult) (string, bool, error) {
	st := r.st
	linked := func() (string, error) {
		if r.linkedSum.ok {
			return r.linkedSum.sum, r.linkedSum.err
		}
		return w.hashLinked(rel, fd.dst, name)
	}
	// A linked copy that cannot be read is damage in the previous backup,
	// not a reason to fail: failing would write no manifest, so every
	// later run would link the same copy and fail again.
	unreadable := func(err error) bool {
		if err == nil || w.ctx.Err() != nil {
			return false
		}
		w.warn("linked copy cannot be read (damaged in the previous backup?); copying it afresh from the uploads folder",
			"path", rel, "damaged_in", w.opts.PreviousName, "err", err)
		return true
	}
	if w.prevList != nil {
		e, ok := w.prevList.find(rel)
		if ok && e.Type == manifest.TypeFile && e.Size == st.Size && e.MTime == manifest.TimeOf(syscall.Timespec(st.Mtim)) && isSHA256(e.SHA256) {
			if !w.recheckDue(rel) {
				return e.SHA256, true, nil
			}
			w.res.Rechecked++
			sum, err := linked()
			if unreadable(err) {
				return "", false, nil
			}
			if err != nil {
				return "", false, err
			}
			if sum != e.SHA256 {
				w.warn("linked copy is damaged (its bytes no longer match the manifest); copying it afresh from the uploads folder",
					"path", rel, "damaged_in", w.opts.PreviousName, "sha256", sum, "manifest_sha256", e.SHA256)
				return "", false, nil
			}
			return sum, true, nil
		}
	}
	w.res.Compared++
	sum, err := linked()
	if unreadable(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	srcSum, err := r.srcSum.sum, r.srcSum.err
	if !r.srcSum.ok {
		srcSum, err = w.hashAt(rel, fd.src, name)
	}
	if vanished(err) {
		return "", false, nil // the copy attempt will say it vanished
	}
	if err != nil {
		return "", false, err
	}
	if srcSum != sum {
		w.warn("linked copy differs from the uploads file and no entry list vouches for it; copying it afresh",
			"path", rel, "previous", w.opts.PreviousName)
		return "", false, nil
	}
	return sum, true, nil
}

// hashAt returns the SHA-256 of the regular file name in folder dirfd.
func (w *walker) hashAt(rel string, dirfd int, name string) (string, error) {
	fd, err := unix.Openat(dirfd, name, readFlags, 0)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("hash %s: %w", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("hash %s: %w", rel, unix.ENOENT) // replaced: treated as vanished
	}
	h := sha256.New()
	if _, err := w.stream(rel, f, nil, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// linkedReadHook, when set (by tests), is called before a linked copy is
// read; an error it returns is taken as the read's error. It stands for a
// disk that returns EIO, which a test cannot make on demand.
var linkedReadHook func(rel string) error

// hashLinked is hashAt for the linked copy of a file in the new snapshot.
func (w *walker) hashLinked(rel string, dirfd int, name string) (string, error) {
	if linkedReadHook != nil {
		if err := linkedReadHook(rel); err != nil {
			return "", fmt.Errorf("hash %s: %w", rel, err)
		}
	}
	return w.hashAt(rel, dirfd, name)
}

// hashNow is hashAt for phase 1: the result is kept for phase 2.
func (w *walker) hashNow(rel string, dirfd int, name string) hashed {
	sum, err := w.hashAt(rel, dirfd, name)
	return hashed{sum: sum, err: err, ok: true}
}

// recheckDue reports whether this run re-reads the linked file rel.
func (w *walker) recheckDue(rel string) bool {
	p := int64(w.opts.RecheckPercent)
	switch {
	case p <= 0:
		return false
	case p >= 100:
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(rel))
	slot := int64(h.Sum32() % 100)
	run := w.opts.Run % 100
	if run < 0 {
		run += 100
	}
	start := run * p % 100
	return (slot-start+100)%100 < p
}

// copyFile copies the source file name to a new file in the copy, hashing
// it on the way, then sets the copy's mode, owner and times (phase 1, or
// phase 2 when a link is replaced).
func (w *walker) copyFile(rel, name string, fd fds) childResult {
	ifd, err := unix.Openat(fd.src, name, readFlags, 0)
	if vanished(err) {
		w.warn("uploads file vanished or was replaced while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("open %s: %w", rel, err)}
	}
	in := os.NewFile(uintptr(ifd), rel)
	defer in.Close()
	var st unix.Stat_t
	if err := unix.Fstat(ifd, &st); err != nil {
		return childResult{err: fmt.Errorf("stat %s: %w", rel, err)}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		w.warn("uploads file was replaced while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	// The attributes of the inode actually read, not of the earlier stat.

	ofd, err := unix.Openat(fd.dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return childResult{err: fmt.Errorf("create %s: %w", rel, err)}
	}
	out := os.NewFile(uintptr(ofd), rel)
	h := sha256.New()
	n, err := w.stream(rel, in, out, h)
	if err == nil {
		err = w.fileAttrs(rel, ofd, fd.dst, name, &st)
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", rel, cerr)
	}
	if err != nil {
		return childResult{err: err}
	}

	// The list records what was copied; the mtime set is the one from
	// before the copy, so a file that changed will differ next time and be
	// copied again.
	changed := n != st.Size
	var as unix.Stat_t
	if unix.Fstat(ifd, &as) == nil {
		changed = changed || as.Size != st.Size || as.Mtim != st.Mtim
	}
	if changed {
		w.warn("uploads file changed while being copied; recorded what was copied",
			"path", rel, "size_before", st.Size, "copied", n)
	}
	return childResult{kind: kindFile, st: &st, size: n, sum: hex.EncodeToString(h.Sum(nil))}
}

// fileAttrs gives a new copy (open as ofd, named name in dirfd) the
// source's owner, mode and mtime. The owner goes first because chown clears
// setuid/setgid.
func (w *walker) fileAttrs(rel string, ofd, dirfd int, name string, st *unix.Stat_t) error {
	if w.opts.PreserveOwner {
		if err := unix.Fchown(ofd, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
	}
	// Raw unix bits: no fs.FileMode conversion of setuid/setgid/sticky.
	if err := unix.Fchmod(ofd, st.Mode&modeBits); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	if err := setTimes(dirfd, name, st.Mtim); err != nil {
		return fmt.Errorf("set times of %s: %w", rel, err)
	}
	return nil
}

// symlink recreates a symlink with the same target (phase 1).
func (w *walker) symlink(rel, name string, fd fds, st *unix.Stat_t) childResult {
	target, err := readlinkat(fd.src, name)
	if vanished(err) || errors.Is(err, unix.EINVAL) { // EINVAL: no longer a symlink
		w.warn("uploads symlink vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("read symlink %s: %w", rel, err)}
	}
	if err := unix.Symlinkat(target, fd.dst, name); err != nil {
		return childResult{err: fmt.Errorf("create symlink %s: %w", rel, err)}
	}
	if w.opts.PreserveOwner {
		if err := unix.Fchownat(fd.dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return childResult{err: fmt.Errorf("chown %s: %w", rel, err)}
		}
	}
	// Symlinks have no mode of their own on Linux.
	if err := setTimes(fd.dst, name, st.Mtim); err != nil {
		return childResult{err: fmt.Errorf("set times of %s: %w", rel, err)}
	}
	return childResult{kind: kindSymlink, st: st, target: target}
}

// stream reads r to the end into h and, when out is not nil, into out,
// checking the context before every read. It returns the bytes read.
func (w *walker) stream(rel string, r io.Reader, out io.Writer, h hash.Hash) (int64, error) {
	bp := w.bufs.Get().(*[]byte)
	defer w.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := w.checkCtx(rel); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k]) // never fails
			if out != nil {
				if _, err := out.Write(buf[:k]); err != nil {
					return n, fmt.Errorf("write %s: %w", rel, err)
				}
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("read %s: %w", rel, rerr)
		}
	}
}

// addFile records one regular file.
func (w *walker) addFile(rel string, st *unix.Stat_t, size int64, sum string) error {
	e := entryFor(rel, manifest.TypeFile, st)
	e.Size = size
	e.SHA256 = sum
	if err := w.add(e); err != nil {
		return err
	}
	w.res.Files++
	w.res.Bytes += size
	if w.opts.OnFile != nil {
		w.opts.OnFile(size)
	}
	return nil
}

func (w *walker) add(e manifest.Entry) error {
	if err := w.list.Add(e); err != nil {
		return fmt.Errorf("write file list entry %s: %w", e.Path, err)
	}
	return nil
}

// entryFor fills the fields every entry type has.
func entryFor(rel, typ string, st *unix.Stat_t) manifest.Entry {
	return manifest.Entry{
		Path: rel,
		Type: typ,
		// st_mode already uses unix bit numbering (04000 setuid, 02000
		// setgid, 01000 sticky), which is what the list stores.
		Mode:  fmt.Sprintf("%04o", uint32(st.Mode)&modeBits),
		MTime: manifest.TimeOf(syscall.Timespec(st.Mtim)),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
	}
}

// vanished reports whether err means the item is no longer there (or no
// longer the kind of item it was listed as) rather than unreadable.
func vanished(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// isSHA256 reports whether s looks like a hex SHA-256, so a damaged
// previous list cannot put garbage into the new one.
func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// prevList walks the previous backup's list in step with the new walk. Both
// are in manifest.ComparePaths order, so one pass suffices and only one
// entry is held at a time.
type prevList struct {
	r    *manifest.Reader
	warn func(msg string, args ...any)
	cur  manifest.Entry
	have bool // cur is read and not yet passed
	done bool // end of list, or unreadable
}

// find returns the previous entry for path, if any. Calls must come in
// ComparePaths order.
func (p *prevList) find(rel string) (manifest.Entry, bool) {
	for !p.done {
		if !p.have {
			e, err := p.r.Next()
			if err == io.EOF {
				p.done = true
				break
			}
			if err != nil {
				p.warn("previous file list unreadable, hashing unchanged files instead", "err", err)
				p.done = true
				break
			}
			p.cur, p.have = e, true
		}
		switch c := manifest.ComparePaths(p.cur.Path, rel); {
		case c < 0:
			p.have = false
		case c == 0:
			return p.cur, true
		default:
			return manifest.Entry{}, false
		}
	}
	return manifest.Entry{}, false
}
