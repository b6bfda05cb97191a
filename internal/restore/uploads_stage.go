package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// The stage is built, and Target read, only through open folders (the
// *at system calls with AT_SYMLINK_NOFOLLOW / O_NOFOLLOW): whoever can
// write Target may swap a subfolder for a symlink at any moment, and a path
// resolved again would follow it out of Target.

// uploadsBatch is how many children of a folder are handled per round of
// the two phases (parallel work, then in-order recording).
const uploadsBatch = 1024

// uploadsParallelMin is the number of children from which a folder's
// files are linked or copied on several workers.
const uploadsParallelMin = 8

// uploadsRecent is how long after a change a live file's data may still be
// only in memory (the kernel writes dirty pages back after 30 s by
// default): a linked file changed more recently is fsynced.
const uploadsRecent = 2 * time.Minute

const (
	uploadsKindGone = iota // not there (any more)
	uploadsKindDir
	uploadsKindFile
	uploadsKindSymlink
	uploadsKindSkip // socket, FIFO, device: backups hold none
)

// uploadsChild is phase 1's result for one item of a backup folder.
type uploadsChild struct {
	kind   int
	st     unix.Stat_t // the backup's item
	linked bool        // hard-linked from Target, not copied
	size   int64
	sum    string // SHA-256 of a copied file
	target string // of a symlink
	err    error
}

// uploadsWalk walks the backup's uploads beside Target (and the stage).
type uploadsWalk struct {
	u       *uploadsRun
	ver     *uploadsVerifier // nil for a legacy backup
	sync    uploadsSync
	recent  unix.Timespec // ctimes from here on are recent
	workers int
	bufs    sync.Pool
	counts  UploadsResult // compare: what the backup holds
}

// errUploadsDiffers stops the compare pass at the first difference.
var errUploadsDiffers = errors.New("differs")

func (u *uploadsRun) newWalk(verify bool) (*uploadsWalk, error) {
	w := &uploadsWalk{u: u, workers: runtime.GOMAXPROCS(0)}
	w.recent = unix.NsecToTimespec(time.Now().Add(-uploadsRecent).UnixNano())
	w.bufs.New = func() any { b := make([]byte, 1<<20); return &b }
	if verify && u.opts.Backup.State == repo.Complete {
		var err error
		if w.ver, err = u.newVerifier(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *uploadsWalk) close() {
	if w.ver != nil {
		w.ver.close()
	}
}

// openBackup opens the backup's uploads folder.
func (u *uploadsRun) openBackup() (int, *unix.Stat_t, error) {
	fd, err := uploadsOpenDir(unix.AT_FDCWD, u.src)
	if err != nil {
		return -1, nil, fmt.Errorf("open the uploads of backup %s: %w", u.opts.Backup.Name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("stat the uploads of backup %s: %w", u.opts.Backup.Name, err)
	}
	return fd, &st, nil
}

// compare is the read-only first pass: whether Target already is what the
// restore would make of it. It stops at the first difference. The entry
// list is not read: when nothing is taken from the backup there is nothing
// to check, and decoding it would double the cost of this pass.
func (u *uploadsRun) compare() (bool, error) {
	w, err := u.newWalk(false)
	if err != nil {
		return false, err
	}
	defer w.close()
	bfd, bst, err := u.openBackup()
	if err != nil {
		return false, err
	}
	defer unix.Close(bfd)
	var lst unix.Stat_t
	if err := unix.Fstat(u.tfd, &lst); err != nil {
		return false, fmt.Errorf("stat the uploads target %s: %w", u.target, err)
	}
	if !u.sameItem(bst, &lst) {
		return false, nil
	}
	err = w.compareDir(".", bfd, u.tfd, bst)
	if errors.Is(err, errUploadsDiffers) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c := &w.counts
	u.res.Files, u.res.Dirs, u.res.Symlinks, u.res.Bytes = c.Files, c.Dirs, c.Symlinks, c.Bytes
	return true, nil
}

// sameItem is rsync's quick check (-a): type, mode, mtime, size of a file,
// and owner when owners are restored. A link target is compared apart.
func (u *uploadsRun) sameItem(b, l *unix.Stat_t) bool {
	if b.Mode&unix.S_IFMT != l.Mode&unix.S_IFMT || b.Mode&uploadsModeBits != l.Mode&uploadsModeBits || b.Mtim != l.Mtim {
		return false
	}
	if b.Mode&unix.S_IFMT == unix.S_IFREG && b.Size != l.Size {
		return false
	}
	if u.opts.PreserveOwner && (b.Uid != l.Uid || b.Gid != l.Gid) {
		return false
	}
	return true
}

func (w *uploadsWalk) compareDir(rel string, bfd, lfd int, bst *unix.Stat_t) error {
	w.counts.Dirs++
	it, err := uploadsNames(bfd, w.u.parent)
	if err != nil {
		return fmt.Errorf("read folder %q of backup %s: %w", rel, w.u.opts.Backup.Name, err)
	}
	defer it.Close()
	for {
		batch := it.Batch(uploadsBatch)
		if len(batch) == 0 {
			break
		}
		for _, name := range batch {
			crel := path.Join(rel, name)
			if err := w.u.checkCtx(crel); err != nil {
				return err
			}
			var b, l unix.Stat_t
			if err := unix.Fstatat(bfd, name, &b, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("stat %q in backup %s: %w", crel, w.u.opts.Backup.Name, err)
			}
			typ := uploadsType(&b)
			if typ == "" {
				continue // not restored
			}
			if err := unix.Fstatat(lfd, name, &l, unix.AT_SYMLINK_NOFOLLOW); err != nil || !w.u.sameItem(&b, &l) {
				return errUploadsDiffers
			}
			switch typ {
			case manifest.TypeFile:
				w.counts.Files++
				w.counts.Bytes += b.Size
			case manifest.TypeSymlink:
				bt, err := uploadsReadlink(bfd, name)
				if err != nil {
					return fmt.Errorf("read symlink %q in backup %s: %w", crel, w.u.opts.Backup.Name, err)
				}
				if lt, err := uploadsReadlink(lfd, name); err != nil || lt != bt {
					return errUploadsDiffers
				}
				w.counts.Symlinks++
			case manifest.TypeDir:
				cb, err := uploadsOpenDir(bfd, name)
				if err != nil {
					return fmt.Errorf("open folder %q in backup %s: %w", crel, w.u.opts.Backup.Name, err)
				}
				cl, err := uploadsOpenDir(lfd, name)
				if err != nil {
					unix.Close(cb)
					return errUploadsDiffers // swapped for something else meanwhile
				}
				err = w.compareDir(crel, cb, cl, &b)
				unix.Close(cb)
				unix.Close(cl)
				if err != nil {
					return err
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read folder %q of backup %s: %w", rel, w.u.opts.Backup.Name, err)
	}
	if !w.u.opts.Force {
		return nil // what Target has beyond the backup stays
	}
	// With Force, anything beyond the backup would be removed.
	lit, err := uploadsNames(lfd, w.u.parent)
	if err != nil {
		return fmt.Errorf("read folder %q of %s: %w", rel, w.u.target, err)
	}
	defer lit.Close()
	for {
		batch := lit.Batch(uploadsBatch)
		if len(batch) == 0 {
			break
		}
		for _, name := range batch {
			var b unix.Stat_t
			if err := unix.Fstatat(bfd, name, &b, unix.AT_SYMLINK_NOFOLLOW); err != nil || uploadsType(&b) == "" {
				return errUploadsDiffers
			}
		}
	}
	return lit.Err()
}

// build makes the new tree in the stage: linked from Target where the
// quick check passes, copied from the backup where it does not, plus what
// Target holds beyond the backup (unless Force). It returns what is left
// to make it durable.
func (u *uploadsRun) build() (*uploadsSync, error) {
	w, err := u.newWalk(true)
	if err != nil {
		return nil, err
	}
	defer w.close()
	bfd, bst, err := u.openBackup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(bfd)
	if err := w.dir(".", bfd, u.tfd, u.sfd, u.pfd, u.stageName, bst); err != nil {
		return nil, err
	}
	if w.ver != nil {
		if err := w.ver.finish(); err != nil {
			return nil, err
		}
		u.res.Verified = true
	}
	return &w.sync, nil
}

// add passes an entry to the verifier; hashed says whether a file's SHA-256
// is of what was copied (false: linked, content not read).
func (w *uploadsWalk) add(e manifest.Entry, hashed bool) error {
	if w.ver == nil {
		return nil
	}
	return w.ver.add(e, hashed)
}

// dir fills the stage folder sfd (named sname in sparent) from the backup
// folder bfd and the target folder lfd (-1 when Target has none there).
func (w *uploadsWalk) dir(rel string, bfd, lfd, sfd, sparent int, sname string, bst *unix.Stat_t) error {
	u := w.u
	if lfd >= 0 {
		if err := u.sameMount(rel, lfd); err != nil {
			return err
		}
	}
	if err := w.add(uploadsEntry(rel, manifest.TypeDir, bst), true); err != nil {
		return err
	}
	u.res.Dirs++

	it, err := uploadsNames(bfd, u.parent)
	if err != nil {
		return fmt.Errorf("read folder %q of backup %s: %w", rel, u.opts.Backup.Name, err)
	}
	defer it.Close()
	for {
		batch := it.Batch(uploadsBatch)
		if len(batch) == 0 {
			break
		}
		if err := w.batch(rel, bfd, lfd, sfd, batch); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read folder %q of backup %s: %w", rel, u.opts.Backup.Name, err)
	}
	if lfd >= 0 {
		if err := w.merge(rel, lfd, sfd); err != nil {
			return err
		}
	}
	// Attributes last: adding children changed the mtime, and a read-only
	// mode would have stopped them.
	if err := w.setFdAttrs(rel, sfd, sparent, sname, bst); err != nil {
		return err
	}
	if err := w.sync.fd(sfd); err != nil {
		return fmt.Errorf("sync folder %q in the stage: %w", rel, err)
	}
	return nil
}

// batch handles some children of a backup folder, in name order: phase 1
// links or copies files and makes symlinks (on several workers for a big
// batch), phase 2 records them in order and enters subfolders.
func (w *uploadsWalk) batch(rel string, bfd, lfd, sfd int, names []string) error {
	u := w.u
	results := make([]uploadsChild, len(names))
	do := func(i int) {
		crel := path.Join(rel, names[i])
		if err := u.checkCtx(crel); err != nil {
			results[i].err = err
			return
		}
		results[i] = w.child(crel, names[i], bfd, lfd, sfd)
	}
	if w.workers > 1 && len(names) >= uploadsParallelMin {
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

	for i, name := range names {
		r := &results[i]
		crel := path.Join(rel, name)
		if r.err != nil {
			return r.err
		}
		if err := u.checkCtx(crel); err != nil {
			return err
		}
		switch r.kind {
		case uploadsKindDir:
			if err := w.subdir(crel, name, bfd, lfd, sfd, &r.st); err != nil {
				return err
			}
		case uploadsKindFile:
			e := uploadsEntry(crel, manifest.TypeFile, &r.st)
			e.Size, e.SHA256 = r.size, r.sum
			if err := w.add(e, !r.linked); err != nil {
				return err
			}
			u.res.Files++
			u.res.Bytes += r.size
			if r.linked {
				u.res.Linked++
			} else {
				u.res.Copied++
			}
			if u.opts.OnFile != nil {
				u.opts.OnFile(r.size)
			}
		case uploadsKindSymlink:
			e := uploadsEntry(crel, manifest.TypeSymlink, &r.st)
			e.Target = r.target
			if err := w.add(e, true); err != nil {
				return err
			}
			u.res.Symlinks++
		case uploadsKindSkip:
			u.warn("skipping special file in the backup (socket, FIFO or device)", "path", crel)
		}
	}
	return nil
}

// subdir creates a folder in the stage and fills it.
func (w *uploadsWalk) subdir(rel, name string, bfd, lfd, sfd int, bst *unix.Stat_t) error {
	u := w.u
	cb, err := uploadsOpenDir(bfd, name)
	if err != nil {
		return fmt.Errorf("open folder %q in backup %s: %w", rel, u.opts.Backup.Name, err)
	}
	defer unix.Close(cb)
	cl := -1
	if lfd >= 0 {
		// A symlink (or file) in Target's place is not followed: the
		// backup's folder is restored there without merging.
		cl, err = uploadsOpenDir(lfd, name)
		if err != nil && !uploadsGone(err) {
			return fmt.Errorf("open folder %q in %s: %w", rel, u.target, err)
		}
		if err == nil {
			defer unix.Close(cl)
		} else {
			cl = -1
		}
	}
	// 0700 while children are added; the real mode comes last.
	if err := unix.Mkdirat(sfd, name, 0o700); err != nil {
		return fmt.Errorf("create folder %q in the stage: %w", rel, err)
	}
	cs, err := uploadsOpenDir(sfd, name)
	if err != nil {
		return fmt.Errorf("open folder %q in the stage: %w", rel, err)
	}
	defer unix.Close(cs)
	return w.dir(rel, cb, cl, cs, sfd, name, bst)
}

// child is phase 1 for one item of a backup folder.
func (w *uploadsWalk) child(rel, name string, bfd, lfd, sfd int) uploadsChild {
	u := w.u
	var r uploadsChild
	if err := unix.Fstatat(bfd, name, &r.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		r.err = fmt.Errorf("stat %q in backup %s: %w", rel, u.opts.Backup.Name, err)
		return r
	}
	switch uploadsType(&r.st) {
	case manifest.TypeDir:
		r.kind = uploadsKindDir
	case manifest.TypeFile:
		r.kind = uploadsKindFile
		if lfd >= 0 {
			ok, err := w.linkLive(rel, name, lfd, sfd, &r.st)
			if err != nil {
				r.err = err
				return r
			}
			if ok {
				r.linked, r.size = true, r.st.Size
				return r
			}
		}
		st, n, sum, err := w.copyFile(rel, bfd, name, sfd, "backup "+u.opts.Backup.Name, &r.st)
		if err != nil {
			r.err = err
			return r
		}
		r.st, r.size, r.sum = *st, n, sum
	case manifest.TypeSymlink:
		r.kind = uploadsKindSymlink
		r.target, r.err = w.copySymlink(rel, bfd, name, sfd, &r.st)
	default:
		r.kind = uploadsKindSkip
	}
	return r
}

// linkLive hard-links Target's file name into the stage when it passes the
// quick check against the backup's file b, and reports whether it did.
func (w *uploadsWalk) linkLive(rel, name string, lfd, sfd int, b *unix.Stat_t) (bool, error) {
	u := w.u
	var l unix.Stat_t
	if err := unix.Fstatat(lfd, name, &l, unix.AT_SYMLINK_NOFOLLOW); err != nil || !u.sameItem(b, &l) {
		return false, nil
	}
	// Flags 0: a symlink put there meanwhile is linked as a symlink, and
	// then fails the check below.
	if err := unix.Linkat(lfd, name, sfd, name, 0); err != nil {
		if uploadsGone(err) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EXDEV) {
			return false, nil // copy instead
		}
		return false, fmt.Errorf("link %q from %s into the stage: %w", rel, u.target, err)
	}
	// What was linked is what was checked, not a file swapped in meanwhile.
	var s unix.Stat_t
	if err := unix.Fstatat(sfd, name, &s, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, fmt.Errorf("stat %q in the stage: %w", rel, err)
	}
	if s.Ino != l.Ino || s.Dev != l.Dev || !u.sameItem(b, &s) {
		if err := unix.Unlinkat(sfd, name, 0); err != nil {
			return false, fmt.Errorf("remove %q from the stage: %w", rel, err)
		}
		return false, nil
	}
	// The ctime from before the link (which sets it): a recent change may
	// still be in memory only.
	if uploadsAfter(l.Ctim, w.recent) {
		if err := w.syncItem(sfd, name); err != nil {
			return false, fmt.Errorf("sync %q: %w", rel, err)
		}
	}
	return true, nil
}

// uploadsAfter reports whether a is after b.
func uploadsAfter(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

// syncItem fsyncs the file name in the stage folder sfd, if fsyncs are
// still being done one by one.
func (w *uploadsWalk) syncItem(sfd int, name string) error {
	w.sync.mu.Lock()
	all := w.sync.all
	w.sync.mu.Unlock()
	if all {
		return nil
	}
	fd, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return w.sync.fd(fd)
}

// copyFile copies the regular file name of folder ffd (from, for messages)
// into the new file name of the stage folder sfd, hashing it on the way,
// and gives it the attributes of the file read. st is what a stat of the
// item said; the file opened must still be that inode. It returns the
// attributes of the file read, the bytes copied and their SHA-256.
func (w *uploadsWalk) copyFile(rel string, ffd int, name string, sfd int, from string, st *unix.Stat_t) (*unix.Stat_t, int64, string, error) {
	// NOFOLLOW: a file swapped for a symlink is not followed. NONBLOCK: one
	// swapped for a FIFO does not hang the open.
	ifd, err := unix.Openat(ffd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open %q in %s: %w", rel, from, err)
	}
	in := os.NewFile(uintptr(ifd), name)
	defer in.Close()
	var ist unix.Stat_t
	if err := unix.Fstat(ifd, &ist); err != nil {
		return nil, 0, "", fmt.Errorf("stat %q in %s: %w", rel, from, err)
	}
	if ist.Mode&unix.S_IFMT != unix.S_IFREG || ist.Ino != st.Ino || ist.Dev != st.Dev {
		return nil, 0, "", fmt.Errorf("%q in %s was replaced while restoring", rel, from)
	}
	ofd, err := unix.Openat(sfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, 0, "", fmt.Errorf("create %q in the stage: %w", rel, err)
	}
	out := os.NewFile(uintptr(ofd), name)
	defer out.Close()

	bp := w.bufs.Get().(*[]byte)
	defer w.bufs.Put(bp)
	h := sha256.New()
	var n int64
	for {
		if err := w.u.checkCtx(rel); err != nil {
			return nil, 0, "", err
		}
		k, rerr := in.Read(*bp)
		if k > 0 {
			h.Write((*bp)[:k])
			if _, err := out.Write((*bp)[:k]); err != nil {
				return nil, 0, "", fmt.Errorf("write %q in the stage: %w", rel, err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, 0, "", fmt.Errorf("read %q in %s: %w", rel, from, rerr)
		}
	}
	if err := w.setFdAttrs(rel, ofd, sfd, name, &ist); err != nil {
		return nil, 0, "", err
	}
	if err := w.sync.fd(ofd); err != nil {
		return nil, 0, "", fmt.Errorf("sync %q in the stage: %w", rel, err)
	}
	if err := out.Close(); err != nil {
		return nil, 0, "", fmt.Errorf("write %q in the stage: %w", rel, err)
	}
	return &ist, n, hex.EncodeToString(h.Sum(nil)), nil
}

// copySymlink recreates the symlink name of folder ffd in the stage.
func (w *uploadsWalk) copySymlink(rel string, ffd int, name string, sfd int, st *unix.Stat_t) (string, error) {
	t, err := uploadsReadlink(ffd, name)
	if err != nil {
		return "", fmt.Errorf("read symlink %q: %w", rel, err)
	}
	if err := unix.Symlinkat(t, sfd, name); err != nil {
		return "", fmt.Errorf("create symlink %q in the stage: %w", rel, err)
	}
	if w.u.opts.PreserveOwner {
		if err := unix.Fchownat(sfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return "", fmt.Errorf("chown %q in the stage: %w", rel, err)
		}
	}
	if err := uploadsSetTimes(sfd, name, st); err != nil {
		return "", fmt.Errorf("set times of %q in the stage: %w", rel, err)
	}
	return t, nil
}

// setFdAttrs sets the owner (when preserved), mode and times of the open
// item fd, named name in the folder parent. The owner goes first because
// chown clears the setuid and setgid bits.
func (w *uploadsWalk) setFdAttrs(rel string, fd, parent int, name string, st *unix.Stat_t) error {
	if w.u.opts.PreserveOwner {
		if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %q in the stage: %w", rel, err)
		}
	}
	if err := unix.Fchmod(fd, st.Mode&uploadsModeBits); err != nil {
		return fmt.Errorf("chmod %q in the stage: %w", rel, err)
	}
	if err := uploadsSetTimes(parent, name, st); err != nil {
		return fmt.Errorf("set times of %q in the stage: %w", rel, err)
	}
	return nil
}

// uploadsSetTimes sets the access and modification times of name in the
// folder dirfd to those of st, without following a symlink.
func uploadsSetTimes(dirfd int, name string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim} // not via int64 ns: they end in 2262
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// uploadsType is the entry list's type of an item, or "" for the kinds a
// backup does not hold.
func uploadsType(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return manifest.TypeDir
	case unix.S_IFREG:
		return manifest.TypeFile
	case unix.S_IFLNK:
		return manifest.TypeSymlink
	}
	return ""
}

// uploadsEntry fills the fields every entry type has.
func uploadsEntry(rel, typ string, st *unix.Stat_t) manifest.Entry {
	return manifest.Entry{
		Path:  rel,
		Type:  typ,
		Mode:  fmt.Sprintf("%04o", st.Mode&uploadsModeBits),
		MTime: manifest.TimeOf(syscallTimespec(st.Mtim)),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
	}
}

// uploadsReadlink reads the symlink name in the folder dirfd.
func uploadsReadlink(dirfd int, name string) (string, error) {
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

// uploadsNames lists the names of the open folder fd in byte order (the
// order of the entry list), spilling to spill for huge folders.
func uploadsNames(fd int, spill string) (*dirnames.Iter, error) {
	nfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), ".")
	defer f.Close()
	return dirnames.Open(f, spill, dirnames.DefaultMax)
}

// uploadsReadNames lists the names of the open folder fd, in no order.
func uploadsReadNames(fd int) ([]string, error) {
	nfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// uploadsGone reports whether err means the item is not there, or is no
// longer the kind of item it was.
func uploadsGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}
