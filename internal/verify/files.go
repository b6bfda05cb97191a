package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// errListBroken stops the walk when the list can no longer be trusted to
// be in order: everything after would be reported as missing or extra.
var errListBroken = errors.New("file list unreadable")

// checkAllFiles checks every files folder of the backup against its entry
// list: uploads/, the other storage locations and the extensions.
func checkAllFiles(ctx context.Context, b repo.Backup, res *Result, c *counter) error {
	m := b.Manifest
	if m.Files == manifest.FilesOff {
		res.skip("files: a database-only backup (BACKUP_FILES=off) holds no files")
		return nil
	}
	if m.HasUploads() {
		if err := checkFiles(ctx, b, res, c); err != nil {
			return err
		}
	}
	for _, l := range m.Storage {
		a, err := b.Area(l.Name, false)
		if err != nil {
			res.add(KindManifest, manifest.FileName, err.Error())
			continue
		}
		if err := checkFiles(ctx, a, res, c); err != nil {
			return err
		}
	}
	if m.Extensions != nil {
		a, err := b.Area(repo.ExtensionsName, true)
		if err == nil {
			err = checkFiles(ctx, a, res, c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkFiles compares uploads/ (or the area b stands for) with its entry
// list. It returns an error only when ctx was cancelled.
func checkFiles(ctx context.Context, b repo.Backup, res *Result, c *counter) error {
	m := b.Manifest
	what := b.FilesFolder()
	// A list named outside the backup: the default one is checked.
	listPath, listName, _ := b.ListPath()
	lf, err := regfile.Open(listPath)
	if errors.Is(err, fs.ErrNotExist) {
		res.add(KindMissing, listName, "the "+what+" file list is missing")
		res.skip("file checksums: %s is missing", listName)
		return nil
	}
	if err != nil {
		res.add(KindListUnreadable, listName, err.Error())
		res.skip("file checksums: %s cannot be read", listName)
		return nil
	}
	defer lf.Close()
	listHash := sha256.New()
	tee := io.TeeReader(lf, listHash)

	w := &walk{
		ctx:  ctx,
		res:  res,
		c:    c,
		list: &cursor{r: manifest.NewReader(tee)},
		buf:  make([]byte, chunk),
		area: b,
	}
	if fi, err := os.Stat(b.Path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			w.backupUID, w.backupGID = st.Uid, st.Gid
		}
	}
	root := b.UploadsPath()
	err = w.root(root)
	if errors.Is(err, errListBroken) {
		res.add(KindListUnreadable, listName, w.list.err.Error())
		res.skip("file checksums: %s items after %s were not checked, the list is unreadable from there on", what, w.last)
		err = nil
	}
	if err != nil {
		return err
	}
	c.flush()

	// The checksum covers the whole list, also what was not parsed.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		res.add(KindListUnreadable, listName, err.Error())
		return nil
	}
	if want := m.Uploads.ListSHA256; want == "" {
		res.skip("file list checksum: manifest.json records none")
	} else if got := hex.EncodeToString(listHash.Sum(nil)); got != want {
		res.add(KindListChecksum, listName, fmt.Sprintf("SHA-256 %s, manifest.json says %s: the list was changed or damaged", got, want))
	}
	return nil
}

// cursor reads the list one entry ahead and checks that it is in walk
// order, which the merge depends on.
type cursor struct {
	r    *manifest.Reader
	cur  manifest.Entry
	have bool
	done bool
	err  error
	line int
}

// peek returns the next entry without taking it; false at the end of the
// list or when it is unreadable (then err is set).
func (l *cursor) peek() (manifest.Entry, bool) {
	if l.have {
		return l.cur, true
	}
	if l.done {
		return manifest.Entry{}, false
	}
	e, err := l.r.Next()
	if err == io.EOF {
		l.done = true
		return manifest.Entry{}, false
	}
	l.line++
	if err == nil && l.line > 1 && manifest.ComparePaths(l.cur.Path, e.Path) >= 0 {
		err = fmt.Errorf("line %d: %q is out of order after %q", l.line, e.Path, l.cur.Path)
	}
	if err != nil {
		l.done, l.err = true, err
		return manifest.Entry{}, false
	}
	l.cur, l.have = e, true
	return e, true
}

// take consumes the entry peek returned.
func (l *cursor) take() { l.have = false }

// walk merges a sorted walk of uploads/ with the list.
type walk struct {
	ctx  context.Context
	res  *Result
	c    *counter
	list *cursor
	buf  []byte
	last string // the last walked path, for messages
	// Owner of the backup folder: a backup made without root owns its
	// copies, while the list records the source's owner.
	backupUID, backupGID uint32
	area                 repo.Backup // names the folder walked (repo.Backup.Area)
}

// relPath is the path of an item relative to the backup folder.
func (w *walk) relPath(rel string) string { return w.area.FilesRel(rel) }

// under reports whether p is inside the folder dir (both list paths).
func under(p, dir string) bool {
	return dir == "." || strings.HasPrefix(p, dir+"/")
}

// root checks the uploads folder itself, then everything in it, then
// reports the entries no walked item matched.
func (w *walk) root(abs string) error {
	fi, err := os.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Every entry will come out as missing, the root first.
	case err != nil:
		w.res.add(KindUnreadable, w.area.FilesFolder(), err.Error())
		return w.skipUnder(".", true)
	default:
		if err := w.item(".", abs, fi); err != nil {
			return err
		}
	}
	return w.missingBefore("")
}

// missingBefore reports the list entries that sort before rel ("" for all
// that are left): items the walk did not find.
func (w *walk) missingBefore(rel string) error {
	for {
		e, ok := w.list.peek()
		if !ok {
			if w.list.err != nil {
				return errListBroken
			}
			return nil
		}
		if rel != "" && manifest.ComparePaths(e.Path, rel) >= 0 {
			return nil
		}
		w.list.take()
		detail := "listed in the manifest but not in the backup"
		if e.Type == manifest.TypeDir {
			// One problem for a missing folder, not one per item in it.
			n, err := w.countUnder(e.Path)
			if err != nil {
				return err
			}
			if n > 0 {
				detail = fmt.Sprintf("folder listed in the manifest (with %d items in it) but not in the backup", n)
			}
		}
		w.res.add(KindMissing, w.relPath(e.Path), detail)
	}
}

// countUnder consumes the entries inside the folder dir and counts them.
func (w *walk) countUnder(dir string) (int, error) {
	n := 0
	for {
		e, ok := w.list.peek()
		if !ok {
			if w.list.err != nil {
				return n, errListBroken
			}
			return n, nil
		}
		if !under(e.Path, dir) {
			return n, nil
		}
		w.list.take()
		n++
	}
}

// skipUnder consumes, without reporting them, the entries for rel (when
// self) and inside it: an item that could not be read is reported once.
func (w *walk) skipUnder(rel string, self bool) error {
	if self {
		if e, ok := w.list.peek(); ok && e.Path == rel {
			w.list.take()
		}
	}
	_, err := w.countUnder(rel)
	return err
}

// item checks one walked item (fi from Lstat) against the list, and the
// contents of a folder that the list also has as a folder.
func (w *walk) item(rel, abs string, fi fs.FileInfo) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("uploads stopped at %s: %w", rel, err)
	}
	w.last = w.relPath(rel)
	if err := w.missingBefore(rel); err != nil {
		return err
	}
	e, ok := w.list.peek()
	if !ok || e.Path != rel {
		if w.list.err != nil {
			return errListBroken
		}
		// Not descended into: everything inside is extra too.
		w.res.add(KindExtra, w.relPath(rel), fmt.Sprintf("%s not listed in the manifest", typeName(fi.Mode())))
		return nil
	}
	w.list.take()

	got := entryType(fi.Mode())
	if got != e.Type {
		detail := fmt.Sprintf("is a %s, manifest says %s", typeName(fi.Mode()), e.Type)
		if e.Type == manifest.TypeDir {
			n, err := w.countUnder(rel)
			if err != nil {
				return err
			}
			if n > 0 {
				detail += fmt.Sprintf(" (with %d items in it)", n)
			}
		}
		w.res.add(KindType, w.relPath(rel), detail)
		return nil
	}
	before := len(w.res.Problems)
	switch got {
	case manifest.TypeDir:
		// A folder's mtime changes with any change inside it, which is
		// reported itself: compare only its mode and owner.
		w.attrs(rel, fi, e, false)
		return w.dir(rel, abs)
	case manifest.TypeFile:
		if err := w.file(rel, abs, fi, e); err != nil {
			return err
		}
	case manifest.TypeSymlink:
		target, err := os.Readlink(abs)
		switch {
		case err != nil:
			w.res.add(KindUnreadable, w.relPath(rel), err.Error())
		case target != e.Target:
			w.res.add(KindSymlink, w.relPath(rel), fmt.Sprintf("points at %q, manifest says %q", target, e.Target))
		}
	}
	if len(w.res.Problems) == before { // a changed item has changed times too: say it once
		w.attrs(rel, fi, e, true)
	}
	return nil
}

// attrs compares mode, mtime and owner with the entry. The backup's files
// are written once and never changed (hard links share them between
// backups), so any difference means someone changed the backup, and
// restore would refuse the item.
func (w *walk) attrs(rel string, fi fs.FileInfo, e manifest.Entry, mtime bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	var d []string
	if mode := fmt.Sprintf("%04o", st.Mode&fsmeta.ModeBits); fi.Mode()&fs.ModeSymlink == 0 && mode != e.Mode {
		d = append(d, fmt.Sprintf("mode %s, manifest says %s", mode, e.Mode))
	}
	if mt := manifest.TimeOf(st.Mtim); mtime && mt != e.MTime {
		d = append(d, fmt.Sprintf("modified %s, manifest says %s", mt, e.MTime))
	}
	if int(st.Uid) != e.UID && st.Uid != w.backupUID || int(st.Gid) != e.GID && st.Gid != w.backupGID {
		d = append(d, fmt.Sprintf("owner %d:%d, manifest says %d:%d", st.Uid, st.Gid, e.UID, e.GID))
	}
	if len(d) > 0 {
		w.res.add(KindAttributes, w.relPath(rel), strings.Join(d, "; "))
	}
}

// dir walks a folder's items in name order, the order of the list.
func (w *walk) dir(rel, abs string) error {
	// NOFOLLOW: a folder swapped for a symlink is not followed out of the
	// backup.
	d, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		w.res.add(KindUnreadable, w.relPath(rel), err.Error())
		return w.skipUnder(rel, false)
	}
	// Sorted without holding a huge flat folder's names; spilled runs go
	// to the system's temporary folder, never into the backup.
	names, err := dirnames.Open(d, os.TempDir(), dirnames.DefaultMax)
	d.Close()
	if err != nil {
		w.res.add(KindUnreadable, w.relPath(rel), err.Error())
		return w.skipUnder(rel, false)
	}
	defer names.Close()
	for name, ok := names.Next(); ok; name, ok = names.Next() {
		crel := path.Join(rel, name)
		cabs := filepath.Join(abs, name)
		fi, err := os.Lstat(cabs)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone since the listing: the merge reports it missing
		}
		if err != nil {
			if err := w.missingBefore(crel); err != nil {
				return err
			}
			w.res.add(KindUnreadable, w.relPath(crel), err.Error())
			if err := w.skipUnder(crel, true); err != nil {
				return err
			}
			continue
		}
		if err := w.item(crel, cabs, fi); err != nil {
			return err
		}
	}
	if err := names.Err(); err != nil {
		w.res.add(KindUnreadable, w.relPath(rel), err.Error())
	}
	return nil
}
