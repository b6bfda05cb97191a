package snapshot

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

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
		if ok && e.Type == manifest.TypeFile && e.Size == st.Size && e.MTime == manifest.TimeOf(syscall.Timespec(st.Mtim)) && manifest.IsSHA256(e.SHA256) {
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
	if fsmeta.Gone(err) {
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
	var st unix.Stat_t
	fd, err := fsmeta.OpenRegular(dirfd, name, &st)
	if errors.Is(err, fsmeta.ErrNotRegular) {
		err = unix.ENOENT // replaced: treated as vanished
	}
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	_, sum, err := w.stream(rel, f, nil)
	return sum, err
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
