package restore

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/dirnames"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// File-level steps of the stage, all relative to open folders.

// copyFile copies the regular file name of folder ffd (from, for messages)
// into the new file name of the stage folder sfd, hashing it on the way,
// and gives it the attributes of the file read. st is what a stat of the
// item said; the file opened must still be that inode. It returns the
// attributes of the file read, the bytes copied and their SHA-256.
func (w *uploadsWalk) copyFile(rel string, ffd int, name string, sfd int, from string, st *unix.Stat_t) (*unix.Stat_t, int64, string, error) {
	// A file swapped for a symlink is not followed, one swapped for a FIFO
	// does not hang the open.
	var ist unix.Stat_t
	ifd, err := fsmeta.OpenRegular(ffd, name, &ist)
	if errors.Is(err, fsmeta.ErrNotRegular) {
		return nil, 0, "", fmt.Errorf("%q in %s was replaced while restoring", rel, from)
	}
	if err != nil {
		return nil, 0, "", fmt.Errorf("open %q in %s: %w", rel, from, err)
	}
	in := os.NewFile(uintptr(ifd), name)
	defer in.Close()
	if ist.Ino != st.Ino || ist.Dev != st.Dev {
		return nil, 0, "", fmt.Errorf("%q in %s was replaced while restoring", rel, from)
	}
	n, sum, err := w.writeStaged(rel, in, sfd, name, from, &ist)
	if err != nil {
		return nil, 0, "", err
	}
	return &ist, n, sum, nil
}

// writeStaged writes what in holds into the new file name of the stage
// folder sfd, hashing it on the way, and gives it st's attributes.
func (w *uploadsWalk) writeStaged(rel string, in io.Reader, sfd int, name, from string, st *unix.Stat_t) (int64, string, error) {
	ofd, err := unix.Openat(sfd, name, fsmeta.CreateFlags, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("create %q in the stage: %w", rel, err)
	}
	out := os.NewFile(uintptr(ofd), name)
	defer out.Close()

	n, sum, err := w.copier.Copy(w.u.ctx, in, out)
	if err != nil {
		return 0, "", w.copyErr(rel, from, err)
	}
	if err := w.setFdAttrs(rel, ofd, sfd, name, st); err != nil {
		return 0, "", err
	}
	if err := w.sync.fd(ofd); err != nil {
		return 0, "", fmt.Errorf("sync %q in the stage: %w", rel, err)
	}
	if err := out.Close(); err != nil {
		return 0, "", fmt.Errorf("write %q in the stage: %w", rel, err)
	}
	return n, sum, nil
}

// copySymlink recreates the symlink name of the backup folder src in the stage.
func (w *uploadsWalk) copySymlink(rel string, src uploadsDir, name string, sfd int, st *unix.Stat_t) (string, error) {
	t, err := src.readlink(name)
	if err != nil {
		return "", fmt.Errorf("read symlink %q: %w", rel, err)
	}
	if err := unix.Symlinkat(t, sfd, name); err != nil {
		return "", fmt.Errorf("create symlink %q in the stage: %w", rel, err)
	}
	if err := w.attrs.Symlink(sfd, name, st); err != nil {
		return "", fsmeta.Name(err, fmt.Sprintf("%q in the stage", rel))
	}
	return t, nil
}

// setFdAttrs sets the owner (when preserved), mode and times of the open
// item fd, named name in the folder parent.
func (w *uploadsWalk) setFdAttrs(rel string, fd, parent int, name string, st *unix.Stat_t) error {
	if err := w.attrs.File(fd, parent, name, st); err != nil {
		return fsmeta.Name(err, fmt.Sprintf("%q in the stage", rel))
	}
	return nil
}

// copyErr names an error of the copy loop: what is read is rel in from,
// what is written rel in the stage. A cancel is named as such.
func (w *uploadsWalk) copyErr(rel, from string, err error) error {
	if cerr := w.u.checkCtx(rel); cerr != nil {
		return cerr
	}
	if e, ok := err.(*fsmeta.Error); ok && e.Op == "write" {
		return fsmeta.Name(err, fmt.Sprintf("%q in the stage", rel))
	}
	return fsmeta.Name(err, fmt.Sprintf("%q in %s", rel, from))
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

// hashStaged returns the SHA-256 of the file just linked into the stage.
func (w *uploadsWalk) hashStaged(rel string, sfd int, name string) (string, error) {
	var st unix.Stat_t
	fd, err := fsmeta.OpenRegular(sfd, name, &st)
	if errors.Is(err, fsmeta.ErrNotRegular) {
		return "", fmt.Errorf("%q in the stage is not the file that was linked", rel)
	}
	if err != nil {
		return "", fmt.Errorf("open %q in the stage: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	_, sum, err := w.copier.Copy(w.u.ctx, f, nil)
	if err != nil {
		return "", w.copyErr(rel, w.u.target, err)
	}
	return sum, nil
}

// recopyMismatch replaces a linked live file whose SHA-256 differs from the
// one the entry list records (it passed the quick check: same size and
// time, other bytes) by a copy from the backup. It runs in walk order, when
// the list's next entry is the file's. A file the list does not have as
// the next file is copied too, but not counted as a mismatch: the list
// disagrees with the backup, which the verifier reports.
func (w *uploadsWalk) recopyMismatch(rel, name string, src uploadsDir, sfd int, r *uploadsChild) error {
	u := w.u
	want, ok := w.ver.expect(rel)
	if ok && want == r.sum {
		return nil
	}
	if err := unix.Unlinkat(sfd, name, 0); err != nil {
		return fmt.Errorf("remove %q from the stage: %w", rel, err)
	}
	st, n, sum, err := src.copyFile(w, rel, name, sfd, &r.st)
	if err != nil {
		return err
	}
	if ok { // reported once the restore is done: it may still fail
		u.mismatched = append(u.mismatched, rel)
	}
	r.st, r.size, r.sum, r.linked, r.hashed = *st, n, sum, false, false
	return nil
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
	fd, err := unix.Openat(sfd, name, fsmeta.ReadFlags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return w.sync.fd(fd)
}
