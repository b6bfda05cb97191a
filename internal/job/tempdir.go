package job

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// BACKUPS_DIR often belongs to the Directus user while the backup runs as
// root. That user cannot write inside the root-owned 0700 temp_<job>
// folder, but can rename it and put a symlink in its place (a rename in a
// folder one owns needs no permission on what is renamed). So the run never
// reaches its temporary folder by name after creating it: it keeps the
// folder open and goes through /proc/self/fd/N, which the kernel resolves
// to the opened folder itself without looking at any name in BACKUPS_DIR.
// Finalize checks that the name it renames is still that folder.

// ownDirFlags open a folder this run just made, never through a symlink.
const ownDirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// createFlags create a file in a folder of this run: never over an existing
// name, never through a symlink.
const createFlags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openOwnDir opens the folder p that the caller has just created with
// Mkdir: not through a symlink, and only if it is an empty folder owned by
// this process's user (anything else was put there by someone else).
func openOwnDir(p string) (*os.File, error) {
	fd, err := unix.Open(p, ownDirFlags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	d := os.NewFile(uintptr(fd), p)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		d.Close()
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if int(st.Uid) != os.Geteuid() {
		d.Close()
		return nil, fmt.Errorf("%s was replaced after it was created (owned by uid %d, not %d)", p, st.Uid, os.Geteuid())
	}
	if _, err := d.Readdirnames(1); err != io.EOF {
		d.Close()
		if err == nil {
			return nil, fmt.Errorf("%s was replaced after it was created (it is not empty)", p)
		}
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return d, nil
}

// fdPath is the /proc path that reaches the open folder d, or "" when /proc
// does not resolve it to d (not mounted).
func fdPath(d *os.File) string {
	p := fmt.Sprintf("/proc/self/fd/%d", d.Fd())
	var a, b unix.Stat_t
	if unix.Fstat(int(d.Fd()), &a) != nil || unix.Stat(p, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		return ""
	}
	return p
}

// openTemp opens the just-created temporary folder and sets how the run
// reaches what is inside it.
func (r *run) openTemp() error {
	d, err := openOwnDir(r.temp)
	if err != nil {
		return err
	}
	r.tempDir = d
	r.inside = fdPath(d)
	if r.inside == "" {
		r.inside = r.temp
		r.log.Warn("/proc is not mounted: the temporary folder is reached by its name, so whoever owns BACKUPS_DIR could redirect the run's writes", "path", r.temp)
	}
	return nil
}

// in is the path through which the run reaches its temporary folder's
// contents: the /proc path of the open folder, or its name (tests, or no
// /proc).
func (r *run) in() string {
	if r.inside != "" {
		return r.inside
	}
	return r.temp
}

// named makes err name the temporary folder by its real path instead of
// the /proc path it was reached through, for the user; errors.Is still
// sees the original.
func (r *run) named(err error) error {
	if err == nil || r.inside == "" || r.inside == r.temp {
		return err
	}
	return &renamedErr{err: err, from: r.inside, to: r.temp}
}

type renamedErr struct {
	err      error
	from, to string
}

func (e *renamedErr) Error() string { return strings.ReplaceAll(e.err.Error(), e.from, e.to) }
func (e *renamedErr) Unwrap() error { return e.err }

// errReplaced is wrapped by the error of a finalize that found its
// temporary folder's name pointing at something else.
var errReplaced = errors.New("the temporary folder was replaced by someone else; not published")

// isTempDir reports whether p (not followed) is the open temporary folder.
func (r *run) isTempDir(p string) error {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(r.tempDir.Fd()), &a); err != nil {
		return fmt.Errorf("stat temporary folder: %w", err)
	}
	if err := unix.Lstat(p, &b); err != nil {
		return fmt.Errorf("%s: %w (%w)", p, errReplaced, err)
	}
	if b.Mode&unix.S_IFMT != unix.S_IFDIR || a.Dev != b.Dev || a.Ino != b.Ino {
		return fmt.Errorf("%s: %w", p, errReplaced)
	}
	return nil
}

// publishTemp renames the temporary folder to its final name, only if the
// name still is the folder this run wrote, and checks after the rename
// that what now has the final name is that folder: a swap in between is
// set aside (retired) and the run fails, so nothing someone else made is
// ever left looking like a complete backup.
func (r *run) publishTemp() error {
	dir := r.cfg.BackupsDir
	tempName := filepath.Base(r.temp)
	if r.tempDir == nil {
		return repo.Finalize(dir, tempName, r.rep.Name)
	}
	if err := r.isTempDir(r.temp); err != nil {
		return err
	}
	if err := repo.Finalize(dir, tempName, r.rep.Name); err != nil {
		return err
	}
	if err := r.isTempDir(r.backupPath(r.rep.Name)); err != nil {
		if rerr := repo.Retire(dir, r.rep.Name); rerr != nil {
			return errors.Join(err, fmt.Errorf("could not set it aside: %w", rerr))
		}
		return err
	}
	return nil
}
