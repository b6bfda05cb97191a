package restore

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

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
	defer bfd.close()
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
	if b.Mode&unix.S_IFMT != l.Mode&unix.S_IFMT || fsmeta.Mode(b) != fsmeta.Mode(l) || b.Mtim != l.Mtim {
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

func (w *uploadsWalk) compareDir(rel string, bfd uploadsDir, lfd int, bst *unix.Stat_t) error {
	w.counts.Dirs++
	it, err := bfd.names(w.u.parent)
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
			if err := bfd.stat(name, &b); err != nil {
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
				bt, err := bfd.readlink(name)
				if err != nil {
					return fmt.Errorf("read symlink %q in backup %s: %w", crel, w.u.opts.Backup.Name, err)
				}
				if lt, err := fsmeta.Readlinkat(lfd, name); err != nil || lt != bt {
					return errUploadsDiffers
				}
				w.counts.Symlinks++
			case manifest.TypeDir:
				cb, err := bfd.sub(name)
				if err != nil {
					return fmt.Errorf("open folder %q in backup %s: %w", crel, w.u.opts.Backup.Name, err)
				}
				cl, err := uploadsOpenDir(lfd, name)
				if err != nil {
					cb.close()
					return errUploadsDiffers // swapped for something else meanwhile
				}
				err = w.compareDir(crel, cb, cl, &b)
				cb.close()
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
			if err := bfd.stat(name, &b); err != nil || uploadsType(&b) == "" {
				return errUploadsDiffers
			}
		}
	}
	return lit.Err()
}
