package restore

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/parallel"
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
	sum    string // SHA-256 of a copied file, or of a linked one when hashed
	hashed bool   // linked, and its content hashed (Checksum)
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
	copier  *fsmeta.Copier
	attrs   fsmeta.Attrs  // what a stage item is given of the backup's
	counts  UploadsResult // compare: what the backup holds
}

// errUploadsDiffers stops the compare pass at the first difference.
var errUploadsDiffers = errors.New("differs")

func (u *uploadsRun) newWalk(verify bool) (*uploadsWalk, error) {
	w := &uploadsWalk{u: u, workers: runtime.GOMAXPROCS(0)}
	if u.opts.Offsite != nil {
		// Downloads wait on the network, not on these cores.
		w.workers = u.opts.Offsite.jobs()
	}
	w.recent = unix.NsecToTimespec(time.Now().Add(-uploadsRecent).UnixNano())
	w.copier = fsmeta.NewCopier(1 << 20)
	w.attrs = fsmeta.Attrs{Owner: u.opts.PreserveOwner, Atime: true}
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

// openBackup opens the backup's uploads folder (or, offsite, its entry
// list's root).
func (u *uploadsRun) openBackup() (uploadsDir, *unix.Stat_t, error) {
	if o := u.opts.Offsite; o != nil {
		d, st, err := openList(u.ctx, o)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: backup %s: %v", ErrChecksum, u.opts.Backup.Name, err)
		}
		return d, st, nil
	}
	fd, err := uploadsOpenDir(unix.AT_FDCWD, u.src)
	if err != nil {
		return nil, nil, fmt.Errorf("open the uploads of backup %s: %w", u.opts.Backup.Name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("stat the uploads of backup %s: %w", u.opts.Backup.Name, err)
	}
	return fdDir{fd: fd, backup: u.opts.Backup.Name}, &st, nil
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
	defer bfd.close()
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
func (w *uploadsWalk) dir(rel string, bfd uploadsDir, lfd, sfd, sparent int, sname string, bst *unix.Stat_t) error {
	u := w.u
	if lfd >= 0 {
		if err := u.sameMount(rel, lfd); err != nil {
			return err
		}
	}
	if err := w.add(fsmeta.Entry(rel, manifest.TypeDir, bst), true); err != nil {
		return err
	}
	u.res.Dirs++

	it, err := bfd.names(u.parent)
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
func (w *uploadsWalk) batch(rel string, bfd uploadsDir, lfd, sfd int, names []string) error {
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
	workers := w.workers
	if len(names) < uploadsParallelMin && u.opts.Offsite == nil {
		workers = 1 // downloads gain from running side by side however few
	}
	parallel.For(len(names), workers, do)

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
			if r.hashed {
				if err := w.recopyMismatch(crel, name, bfd, sfd, r); err != nil {
					return err
				}
			}
			e := fsmeta.Entry(crel, manifest.TypeFile, &r.st)
			e.Size, e.SHA256 = r.size, r.sum
			if err := w.add(e, !r.linked || r.hashed); err != nil {
				return err
			}
			u.res.Files++
			u.res.Bytes += r.size
			if r.linked {
				u.res.Linked++
				if r.hashed {
					u.res.Hashed++
				}
			} else {
				u.res.Copied++
			}
			if u.opts.OnFile != nil {
				u.opts.OnFile(r.size)
			}
		case uploadsKindSymlink:
			e := fsmeta.Entry(crel, manifest.TypeSymlink, &r.st)
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
func (w *uploadsWalk) subdir(rel, name string, bfd uploadsDir, lfd, sfd int, bst *unix.Stat_t) error {
	u := w.u
	cb, err := bfd.sub(name)
	if err != nil {
		return fmt.Errorf("open folder %q in backup %s: %w", rel, u.opts.Backup.Name, err)
	}
	defer cb.close()
	cl := -1
	if lfd >= 0 {
		// A symlink (or file) in Target's place is not followed: the
		// backup's folder is restored there without merging.
		cl, err = uploadsOpenDir(lfd, name)
		if err != nil && !fsmeta.Gone(err) {
			return fmt.Errorf("open folder %q in %s: %w", rel, u.target, err)
		}
		if err == nil {
			defer unix.Close(cl)
		} else {
			cl = -1
		}
	}
	cs, err := stageMkdir(sfd, name, rel)
	if err != nil {
		return err
	}
	defer unix.Close(cs)
	return w.dir(rel, cb, cl, cs, sfd, name, bst)
}

// child is phase 1 for one item of a backup folder.
func (w *uploadsWalk) child(rel, name string, bfd uploadsDir, lfd, sfd int) uploadsChild {
	u := w.u
	var r uploadsChild
	if err := bfd.stat(name, &r.st); err != nil {
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
				if w.ver != nil && u.checksum() {
					r.sum, r.err = w.hashStaged(rel, sfd, name)
					r.hashed = r.err == nil
				}
				return r
			}
		}
		st, n, sum, err := bfd.copyFile(w, rel, name, sfd, &r.st)
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
		if fsmeta.Gone(err) || fsmeta.NotLinkable(err) {
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

// stageMkdir creates the folder name (rel) in the stage folder sfd and
// opens it. It is 0700 while children are added; the real mode comes last.
func stageMkdir(sfd int, name, rel string) (int, error) {
	if err := unix.Mkdirat(sfd, name, 0o700); err != nil {
		return -1, fmt.Errorf("create folder %q in the stage: %w", rel, err)
	}
	fd, err := uploadsOpenDir(sfd, name)
	if err != nil {
		return -1, fmt.Errorf("open folder %q in the stage: %w", rel, err)
	}
	return fd, nil
}
