package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

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
			if !fsmeta.NotLinkable(err) { // else copy instead
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
	if ps.Size != st.Size || ps.Mtim != st.Mtim || fsmeta.Mode(ps) != fsmeta.Mode(st) {
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

// copyFile copies the source file name to a new file in the copy, hashing
// it on the way, then sets the copy's mode, owner and times (phase 1, or
// phase 2 when a link is replaced).
func (w *walker) copyFile(rel, name string, fd fds) childResult {
	// st: the attributes of the inode actually read, not of the earlier stat.
	var st unix.Stat_t
	ifd, err := fsmeta.OpenRegular(fd.src, name, &st)
	if fsmeta.Gone(err) || errors.Is(err, fsmeta.ErrNotRegular) {
		w.warn("uploads file vanished or was replaced while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("open %s: %w", rel, err)}
	}
	in := os.NewFile(uintptr(ifd), rel)
	defer in.Close()

	ofd, err := unix.Openat(fd.dst, name, fsmeta.CreateFlags, 0o600)
	if err != nil {
		return childResult{err: fmt.Errorf("create %s: %w", rel, err)}
	}
	out := os.NewFile(uintptr(ofd), rel)
	n, sum, err := w.stream(rel, in, out)
	if err == nil {
		if err = w.attrs.File(ofd, fd.dst, name, &st); err != nil {
			err = fsmeta.Name(err, rel)
		}
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
	return childResult{kind: kindFile, st: &st, size: n, sum: sum}
}

// symlink recreates a symlink with the same target (phase 1).
func (w *walker) symlink(rel, name string, fd fds, st *unix.Stat_t) childResult {
	target, err := fsmeta.Readlinkat(fd.src, name)
	if fsmeta.Gone(err) || errors.Is(err, unix.EINVAL) { // EINVAL: no longer a symlink
		w.warn("uploads symlink vanished while copying, left out", "path", rel)
		return childResult{kind: kindGone}
	}
	if err != nil {
		return childResult{err: fmt.Errorf("read symlink %s: %w", rel, err)}
	}
	if err := unix.Symlinkat(target, fd.dst, name); err != nil {
		return childResult{err: fmt.Errorf("create symlink %s: %w", rel, err)}
	}
	if err := w.attrs.Symlink(fd.dst, name, st); err != nil {
		return childResult{err: fsmeta.Name(err, rel)}
	}
	return childResult{kind: kindSymlink, st: st, target: target}
}

// stream reads r to the end and, when out is not nil, into out, checking
// the context before every read. It returns the bytes read and their
// SHA-256.
func (w *walker) stream(rel string, r io.Reader, out io.Writer) (int64, string, error) {
	n, sum, err := w.copier.Copy(w.ctx, r, out)
	if err != nil {
		if cerr := w.checkCtx(rel); cerr != nil {
			return n, "", cerr
		}
		return n, "", fsmeta.Name(err, rel)
	}
	return n, sum, nil
}

// addFile records one regular file.
func (w *walker) addFile(rel string, st *unix.Stat_t, size int64, sum string) error {
	e := fsmeta.Entry(rel, manifest.TypeFile, st)
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
