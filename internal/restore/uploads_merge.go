package restore

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
)

// merge carries over into the stage folder sfd what the target folder lfd
// holds that the backup does not (or counts it as removed with Force).
// Both are open folders at the same path rel.
func (w *uploadsWalk) merge(rel string, lfd, sfd int) error {
	u := w.u
	it, err := uploadsNames(lfd, u.parent)
	if err != nil {
		return fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
	}
	defer it.Close()
	for {
		batch := it.Batch(uploadsBatch)
		if len(batch) == 0 {
			break
		}
		for _, name := range batch {
			crel := path.Join(rel, name)
			if err := u.checkCtx(crel); err != nil {
				return err
			}
			var s, l unix.Stat_t
			err := unix.Fstatat(sfd, name, &s, unix.AT_SYMLINK_NOFOLLOW)
			if err == nil { // in the backup: the backup's version wins
				if err := unix.Fstatat(lfd, name, &l, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					if fsmeta.Gone(err) {
						continue
					}
					return fmt.Errorf("stat %q in %s: %w", crel, u.target, err)
				}
				ldir, sdir := l.Mode&unix.S_IFMT == unix.S_IFDIR, s.Mode&unix.S_IFMT == unix.S_IFDIR
				if ldir == sdir {
					continue // a folder in both was merged by the walk; a file is replaced by the backup's
				}
				if sdir {
					// A file or symlink where the backup has a folder: it
					// cannot be kept either.
					u.res.Removed++
					if !u.opts.Force {
						u.warn("a file or symlink in the target is a folder in the backup; it is not kept", "path", crel)
					}
					continue
				}
				// A folder where the backup has a file: what it holds
				// cannot be kept.
				k, err := w.countTree(crel, lfd, name, false)
				if err != nil {
					return err
				}
				u.res.Removed += k
				if k > 0 && !u.opts.Force {
					u.warn("a folder in the target is not a folder in the backup; what it holds is not kept", "path", crel, "items", k)
				}
				continue
			}
			if !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("stat %q in the stage: %w", crel, err)
			}
			if u.opts.Force {
				k, err := w.countTree(crel, lfd, name, true)
				if err != nil {
					return err
				}
				u.res.Removed += k
				continue
			}
			if err := w.keep(crel, lfd, name, sfd); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
	}
	return nil
}

// keep recreates the target's item name (not in the backup) of folder lfd
// in the stage folder sfd: files are hard-linked (cheap, and the old target
// stays intact until the swap), symlinks and folders recreated with their
// attributes.
func (w *uploadsWalk) keep(rel string, lfd int, name string, sfd int) error {
	u := w.u
	if err := u.checkCtx(rel); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(lfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if fsmeta.Gone(err) {
			return nil // deleted since the folder was read: nothing to keep
		}
		return fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		cl, err := uploadsOpenDir(lfd, name)
		if fsmeta.Gone(err) {
			return nil // swapped for something else: not followed
		}
		if err != nil {
			return fmt.Errorf("open folder %q in %s: %w", rel, u.target, err)
		}
		defer unix.Close(cl)
		if err := u.sameMount(rel, cl); err != nil {
			return err
		}
		if err := unix.Fstat(cl, &st); err != nil { // the folder actually opened
			return fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
		}
		cs, err := stageMkdir(sfd, name, rel)
		if err != nil {
			return err
		}
		defer unix.Close(cs)
		u.res.Kept++
		names, err := uploadsReadNames(cl)
		if err != nil {
			return fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
		}
		for _, n := range names {
			if err := w.keep(path.Join(rel, n), cl, n, cs); err != nil {
				return err
			}
		}
		if err := w.setFdAttrs(rel, cs, sfd, name, &st); err != nil {
			return err
		}
		if err := w.sync.fd(cs); err != nil {
			return fmt.Errorf("sync folder %q in the stage: %w", rel, err)
		}
		return nil
	case unix.S_IFREG:
		err := unix.Linkat(lfd, name, sfd, name, 0)
		if fsmeta.Gone(err) {
			return nil
		}
		if err != nil {
			if !fsmeta.NotLinkable(err) {
				return fmt.Errorf("link %q from %s: %w", rel, u.target, err)
			}
			if _, _, _, err := w.copyFile(rel, lfd, name, sfd, u.target, &st); err != nil {
				return err
			}
		} else if uploadsAfter(st.Ctim, w.recent) {
			if err := w.syncItem(sfd, name); err != nil {
				return fmt.Errorf("sync %q: %w", rel, err)
			}
		}
		u.res.Kept++
		return nil
	case unix.S_IFLNK:
		if _, err := w.copySymlink(rel, fdDir{fd: lfd}, name, sfd, &st); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
				return nil // gone, or no longer a symlink
			}
			return err
		}
		u.res.Kept++
		return nil
	default:
		// Sockets, FIFOs, devices: a hard link keeps them as they are.
		if err := unix.Linkat(lfd, name, sfd, name, 0); err != nil {
			u.warn("special file in the target could not be kept", "path", rel, "err", err)
			u.res.Removed++
			return nil
		}
		u.res.Kept++
		return nil
	}
}

// countTree counts the items of the target's tree name in folder lfd (name
// itself when self) that will not be carried over, checking that no folder
// in it is a mount point: removing the old tree would delete what is
// mounted there.
func (w *uploadsWalk) countTree(rel string, lfd int, name string, self bool) (int64, error) {
	u := w.u
	if err := u.checkCtx(rel); err != nil {
		return 0, err
	}
	var n int64
	if self {
		n++
	}
	var st unix.Stat_t
	if err := unix.Fstatat(lfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if fsmeta.Gone(err) {
			return 0, nil // vanished meanwhile
		}
		return 0, fmt.Errorf("stat %q in %s: %w", rel, u.target, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return n, nil
	}
	fd, err := uploadsOpenDir(lfd, name)
	if fsmeta.Gone(err) {
		return n, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open folder %q in %s: %w", rel, u.target, err)
	}
	defer unix.Close(fd)
	if err := u.sameMount(rel, fd); err != nil {
		return 0, err
	}
	names, err := uploadsReadNames(fd)
	if err != nil {
		return 0, fmt.Errorf("read folder %q of %s: %w", rel, u.target, err)
	}
	for _, c := range names {
		k, err := w.countTree(path.Join(rel, c), fd, c, true)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}
