package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// Options for Take.
type Options struct {
	Source        string                        // the live uploads folder; if it is a symlink to a folder, it is followed (like rsync "src/")
	Dest          string                        // folder to create (must not exist yet; its parent exists); gets the copy
	Previous      string                        // previous complete backup's uploads folder, or "" for a full copy; a missing or broken one means full copy (with a Warn)
	PreviousList  io.Reader                     // previous backup's manifest.files.jsonl, or nil (old-script backups have none)
	PreserveOwner bool                          // chown/lchown to the source uid/gid (true when running as root, like rsync -a)
	Warn          func(msg string, args ...any) // slog-style; may be nil
	OnFile        func(bytes int64)             // called after each regular file is done (for a progress display); may be nil
}

// Result counts what Take did.
type Result struct {
	Files, Dirs, Symlinks, Skipped int64 // Dirs includes the root
	Bytes                          int64 // total size of regular files
	Linked                         int64 // files hard-linked to Previous
	Copied                         int64 // files copied
	CopiedBytes                    int64
}

// copyBufSize is the read size of the copy loop; the context is checked once
// per read, so a cancel is noticed within this many bytes.
const copyBufSize = 1 << 20

// modeBits keeps the permission, setuid, setgid and sticky bits of a unix
// st_mode (unix numbering, not fs.FileMode's).
const modeBits = 0o7777

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

	// os.Stat and os.Open follow a symlinked root, like rsync "src/".
	fi, err := os.Stat(opts.Source)
	if err != nil {
		return w.res, fmt.Errorf("uploads source %s: %w", opts.Source, err)
	}
	if !fi.IsDir() {
		return w.res, fmt.Errorf("uploads source %s is not a folder", opts.Source)
	}

	if err := os.Mkdir(opts.Dest, 0o700); err != nil {
		return w.res, fmt.Errorf("create snapshot folder %s: %w", opts.Dest, err)
	}
	dfi, err := os.Lstat(opts.Dest)
	if err != nil {
		return w.res, fmt.Errorf("create snapshot folder %s: %w", opts.Dest, err)
	}
	dst := dfi.Sys().(*syscall.Stat_t)
	w.destDev, w.destIno = uint64(dst.Dev), uint64(dst.Ino)

	prev := ""
	if opts.Previous != "" {
		pfi, err := os.Stat(opts.Previous)
		switch {
		case err != nil:
			w.warn("previous backup's uploads unusable, copying everything", "previous", opts.Previous, "err", err)
		case !pfi.IsDir():
			w.warn("previous backup's uploads is not a folder, copying everything", "previous", opts.Previous)
		default:
			prev = opts.Previous
			if opts.PreviousList != nil {
				w.prevList = &prevList{r: manifest.NewReader(opts.PreviousList), warn: w.warn}
			}
		}
	}

	d, err := os.Open(opts.Source)
	if err != nil {
		return w.res, fmt.Errorf("open uploads source %s: %w", opts.Source, err)
	}
	err = w.dir(".", opts.Source, opts.Dest, prev, d)
	return w.res, err
}

// walker holds the state of one Take.
type walker struct {
	ctx      context.Context
	opts     Options
	list     *manifest.ListWriter
	warn     func(msg string, args ...any) // safe for concurrent use
	prevList *prevList                     // nil when there is no usable previous list
	bufs     sync.Pool                     // copy buffers, one per worker at a time
	workers  int
	spillDir string // where huge folders' name lists are sorted
	res      Result

	// The new snapshot folder, so a Dest inside Source is refused instead of
	// copied into itself forever.
	destDev, destIno uint64
}

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
	kind   int
	st     *syscall.Stat_t
	linked bool   // a file hard-linked to the previous backup
	size   int64  // bytes copied
	sum    string // SHA-256 of a copied file
	target string // of a symlink
	err    error
}

// parallelMin is the number of children from which a folder's files are
// handled by several workers: below it, starting them costs more than it
// saves.
const parallelMin = 8

// dir copies the folder src, already opened as d (which dir closes), to dst,
// then its children in name order, then sets dst's mode, owner and times.
// prev is the matching folder of the previous backup, or "".
//
// Children are handled in two phases. Phase 1 does the file system work of
// every non-folder child (stat, link or copy, symlink) on several workers:
// it is almost all system calls and disk, which two cores overlap well.
// Phase 2 then goes through the children in name order, on this goroutine:
// it descends into subfolders and writes the list, and only it touches the
// previous list, the counters and the list, so their order is kept. The
// phases run on batches of children, and the names come sorted from
// dirnames, so memory stays flat however many files a folder holds.
func (w *walker) dir(rel, src, dst, prev string, d *os.File) error {
	fi, err := d.Stat()
	if err != nil {
		d.Close()
		return fmt.Errorf("stat folder %s: %w", rel, err)
	}
	// Byte order of names is the order of filepath.WalkDir and of
	// manifest.ComparePaths. A huge flat folder (Directus keeps all
	// uploads in one) is sorted without holding all its names.
	names, err := dirnames.Open(d, w.spillDir, dirnames.DefaultMax)
	d.Close()
	if err != nil {
		return fmt.Errorf("read folder %s: %w", rel, err)
	}
	defer names.Close()

	st := fi.Sys().(*syscall.Stat_t)
	if uint64(st.Dev) == w.destDev && uint64(st.Ino) == w.destIno {
		return fmt.Errorf("snapshot folder %s is inside the uploads source (at %s)", w.opts.Dest, rel)
	}
	if rel != "." { // the root was created by Take
		// 0700 while children are written; the real mode comes last.
		if err := os.Mkdir(dst, 0o700); err != nil {
			return fmt.Errorf("create folder %s: %w", rel, err)
		}
	}
	if err := w.add(entryFor(rel, manifest.TypeDir, st)); err != nil {
		return err
	}
	w.res.Dirs++

	// A batch at a time, so that the results held do not grow with the
	// folder either.
	for {
		batch := names.Batch(batchSize)
		if len(batch) == 0 {
			break
		}
		if err := w.batch(rel, src, dst, prev, batch); err != nil {
			return err
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("read folder %s: %w", rel, err)
	}
	return w.setAttrs(rel, dst, st, false)
}

// batchSize is how many children of a folder are handled per round of the
// two phases.
const batchSize = 1024

// batch handles some children of a folder, in name order, in two phases.
func (w *walker) batch(rel, src, dst, prev string, names []string) error {
	paths := func(name string) (crel, csrc, cdst, cprev string) {
		crel = path.Join(rel, name) // path.Join("." , x) is x
		if prev != "" {
			cprev = filepath.Join(prev, name)
		}
		return crel, filepath.Join(src, name), filepath.Join(dst, name), cprev
	}

	// Phase 1.
	results := make([]childResult, len(names))
	do := func(i int) {
		crel, csrc, cdst, cprev := paths(names[i])
		if err := w.checkCtx(crel); err != nil {
			results[i].err = err
			return
		}
		results[i] = w.child(crel, csrc, cdst, cprev)
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
		r := results[i]
		crel, csrc, cdst, cprev := paths(name)
		if r.err != nil {
			return r.err
		}
		if err := w.checkCtx(crel); err != nil {
			return err
		}
		var err error
		switch r.kind {
		case kindDir:
			err = w.subdir(crel, csrc, cdst, cprev)
		case kindFile:
			err = w.recordFile(crel, cdst, r)
		case kindSymlink:
			e := entryFor(crel, manifest.TypeSymlink, r.st)
			e.Target = r.target
			err = w.add(e)
			w.res.Symlinks++
		case kindSkip:
			w.res.Skipped++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// subdir opens and copies a child folder.
func (w *walker) subdir(rel, src, dst, prev string) error {
	// NOFOLLOW: if it was swapped for a symlink since the Lstat, do not
	// follow it out of the tree.
	d, err := os.OpenFile(src, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if vanished(err) {
		w.warn("uploads folder vanished while copying, left out", "path", rel)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open folder %s: %w", rel, err)
	}
	return w.dir(rel, src, dst, prevDir(prev), d)
}

// child is phase 1 for one item of a folder: everything but subfolders,
// which phase 2 enters. prev is the same path in the previous backup, or "".
// It may run on any worker: it touches only its own paths.
func (w *walker) child(rel, src, dst, prev string) childResult {
	fi, err := os.Lstat(src)
	if vanished(err) {
		w.warn("uploads item vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("stat %s: %w", rel, err)}
	}
	st := fi.Sys().(*syscall.Stat_t)

	switch fi.Mode().Type() {
	case fs.ModeDir:
		return childResult{kind: kindDir, st: st}
	case 0:
		return w.file(rel, src, dst, prev, st)
	case fs.ModeSymlink:
		return w.symlink(rel, src, dst, st)
	default:
		w.warn("skipping special file (socket, FIFO or device)", "path", rel, "type", fi.Mode().Type().String())
		return childResult{kind: kindSkip}
	}
}

// prevDir returns prev if it is a real folder (not a symlink to one, which
// could lead out of the previous backup), else "".
func prevDir(prev string) string {
	if prev == "" {
		return ""
	}
	fi, err := os.Lstat(prev)
	if err != nil || !fi.IsDir() {
		return ""
	}
	return prev
}

// file links or copies one regular file (phase 1).
func (w *walker) file(rel, src, dst, prev string, st *syscall.Stat_t) childResult {
	if prev != "" && w.linkable(prev, st) {
		err := os.Link(prev, dst)
		if err == nil {
			return childResult{kind: kindFile, st: st, linked: true, size: st.Size}
		}
		// Too many links, another filesystem, or not allowed: copy instead.
		if !errors.Is(err, syscall.EMLINK) && !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
			return childResult{err: fmt.Errorf("link %s: %w", rel, err)}
		}
	}
	return w.copyFile(rel, src, dst)
}

// recordFile is phase 2 for a regular file: its hash (carried forward for
// a linked file) and its entry.
func (w *walker) recordFile(rel, dst string, r childResult) error {
	sum := r.sum
	if r.linked {
		var err error
		if sum, err = w.linkedSum(rel, dst, r.st); err != nil {
			return err
		}
		w.res.Linked++
	} else {
		w.res.Copied++
		w.res.CopiedBytes += r.size
	}
	return w.addFile(rel, r.st, r.size, sum)
}

// linkable reports whether the previous backup's prev can stand for the
// source file: the rsync --link-dest comparison (-a: size, mtime, perms, and
// owner when owners are preserved).
func (w *walker) linkable(prev string, st *syscall.Stat_t) bool {
	fi, err := os.Lstat(prev)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	ps := fi.Sys().(*syscall.Stat_t)
	if ps.Size != st.Size || ps.Mtim != st.Mtim || ps.Mode&modeBits != st.Mode&modeBits {
		return false
	}
	if w.opts.PreserveOwner && (ps.Uid != st.Uid || ps.Gid != st.Gid) {
		return false
	}
	return true
}

// linkedSum returns the SHA-256 of a linked file: from the previous list when
// it has a matching entry, else by reading the file. Phase 2 only: the
// previous list is read in walk order.
func (w *walker) linkedSum(rel, dst string, st *syscall.Stat_t) (string, error) {
	if w.prevList != nil {
		e, ok := w.prevList.find(rel)
		if ok && e.Type == manifest.TypeFile && e.Size == st.Size && e.MTime == manifest.TimeOf(st.Mtim) && isSHA256(e.SHA256) {
			return e.SHA256, nil
		}
	}
	f, err := os.Open(dst)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", rel, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := w.stream(rel, f, nil, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFile copies src to the new file dst, hashing it on the way, then sets
// dst's mode, owner and times (phase 1).
func (w *walker) copyFile(rel, src, dst string) childResult {
	// NOFOLLOW: a file swapped for a symlink is not followed. NONBLOCK: one
	// swapped for a FIFO does not hang the open.
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if vanished(err) {
		w.warn("uploads file vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("open %s: %w", rel, err)}
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return childResult{err: fmt.Errorf("stat %s: %w", rel, err)}
	}
	if !fi.Mode().IsRegular() {
		w.warn("uploads file was replaced while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	// The attributes of the inode actually read, not of the earlier Lstat.
	st := fi.Sys().(*syscall.Stat_t)

	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return childResult{err: fmt.Errorf("create %s: %w", rel, err)}
	}
	h := sha256.New()
	n, err := w.stream(rel, in, out, h)
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
	if after, err := in.Stat(); err == nil {
		as := after.Sys().(*syscall.Stat_t)
		changed = changed || as.Size != st.Size || as.Mtim != st.Mtim
	}
	if changed {
		w.warn("uploads file changed while being copied; recorded what was copied",
			"path", rel, "size_before", st.Size, "copied", n)
	}
	if err := w.setAttrs(rel, dst, st, false); err != nil {
		return childResult{err: err}
	}
	return childResult{kind: kindFile, st: st, size: n, sum: hex.EncodeToString(h.Sum(nil))}
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

// symlink recreates a symlink with the same target (phase 1).
func (w *walker) symlink(rel, src, dst string, st *syscall.Stat_t) childResult {
	target, err := os.Readlink(src)
	if vanished(err) || errors.Is(err, syscall.EINVAL) { // EINVAL: no longer a symlink
		w.warn("uploads symlink vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("read symlink %s: %w", rel, err)}
	}
	if err := os.Symlink(target, dst); err != nil {
		return childResult{err: fmt.Errorf("create symlink %s: %w", rel, err)}
	}
	if err := w.setAttrs(rel, dst, st, true); err != nil {
		return childResult{err: err}
	}
	return childResult{kind: kindSymlink, st: st, target: target}
}

// setAttrs gives a new copy the source's owner, mode and mtime. The owner
// goes first because chown clears setuid/setgid. Symlinks have no mode of
// their own on Linux.
func (w *walker) setAttrs(rel, p string, st *syscall.Stat_t, symlink bool) error {
	if w.opts.PreserveOwner {
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
	}
	if !symlink {
		// Raw unix bits: no fs.FileMode conversion of setuid/setgid/sticky.
		if err := syscall.Chmod(p, uint32(st.Mode)&modeBits); err != nil {
			return fmt.Errorf("chmod %s: %w", rel, err)
		}
	}
	if err := lutimes(p, st.Mtim); err != nil {
		return fmt.Errorf("set times of %s: %w", rel, err)
	}
	return nil
}

// addFile records one regular file.
func (w *walker) addFile(rel string, st *syscall.Stat_t, size int64, sum string) error {
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
func entryFor(rel, typ string, st *syscall.Stat_t) manifest.Entry {
	return manifest.Entry{
		Path: rel,
		Type: typ,
		// st_mode already uses unix bit numbering (04000 setuid, 02000
		// setgid, 01000 sticky), which is what the list stores.
		Mode:  fmt.Sprintf("%04o", uint32(st.Mode)&modeBits),
		MTime: manifest.TimeOf(st.Mtim),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
	}
}

// vanished reports whether err means the item is no longer there (or no
// longer the kind of item it was listed as) rather than unreadable.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
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
