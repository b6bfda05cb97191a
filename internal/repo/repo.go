package repo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/durable"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// Names inside BACKUPS_DIR and inside a backup folder.
const (
	BackupPrefix      = "backup_"
	LatestLink        = "backup_latest"
	TempPrefix        = "temp_"
	DeletingPrefix    = "deleting_"
	LockName          = ".directus-backup.lock"
	DumpGzip          = "db_backup.sql.gz"
	DumpZstd          = "db_backup.sql.zst"
	DumpPlain         = "db_backup.sql"
	BackupUploadsName = "uploads" // inside a backup; not Config.UploadsDir, the live Directus folder
)

// State of a backup folder.
type State string

const (
	// Complete: made by this tool, manifest.json present and readable.
	Complete State = "complete"
	// Legacy: made by the old backup.sh (no manifest, but a dump file).
	// Counted as complete so users can switch tools on an existing folder.
	Legacy State = "legacy"
	// Incomplete: neither a manifest nor a dump; left by a run that died.
	Incomplete State = "incomplete"
	// Damaged: a manifest that cannot be read. Never removed automatically.
	Damaged State = "damaged"
)

// Backup is one backup_* folder.
type Backup struct {
	Name     string
	Path     string
	Time     time.Time // from the timestamp in the name
	State    State
	Manifest *manifest.Manifest // Complete only
	Err      error              // Damaged only

	dev, ino uint64 // of the folder when listed, for Gone
}

// Usable reports whether the backup holds a whole dump (complete or legacy).
func (b Backup) Usable() bool { return b.State == Complete || b.State == Legacy }

// DumpFile returns the path of the backup's dump, or "" when it has none.
func (b Backup) DumpFile() string {
	if b.Manifest != nil {
		return filepath.Join(b.Path, b.Manifest.Database.File)
	}
	for _, n := range []string{DumpGzip, DumpZstd, DumpPlain} {
		if fi, err := os.Lstat(filepath.Join(b.Path, n)); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(b.Path, n)
		}
	}
	return ""
}

var nameRE = regexp.MustCompile(`^backup_(.+)_([0-9]{1,11})$`)

// BackupName is the folder name for a backup made at the given formatted
// date and Unix timestamp, as the original backup.sh names it.
func BackupName(date string, ts int64) string {
	return fmt.Sprintf("%s%s_%d", BackupPrefix, date, ts)
}

// ParseName returns the timestamp in a backup folder name.
func ParseName(name string) (time.Time, bool) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil || name == LatestLink {
		return time.Time{}, false
	}
	ts, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(ts, 0), true
}

// List returns the backup folders in dir, newest first. Entries whose name
// does not parse as a backup name are not backups and are left out.
func List(dir string) ([]Backup, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), BackupPrefix) {
			continue // backup_latest is a symlink, not a dir entry of type dir
		}
		t, ok := ParseName(e.Name())
		if !ok {
			continue
		}
		out = append(out, inspect(dir, e.Name(), t))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

func inspect(dir, name string, t time.Time) Backup {
	b := Backup{Name: name, Path: filepath.Join(dir, name), Time: t}
	if fi, err := os.Lstat(b.Path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			b.dev, b.ino = uint64(st.Dev), st.Ino
		}
	}
	m, err := manifest.Load(b.Path)
	switch {
	case err == nil:
		b.State, b.Manifest = Complete, m
		// A dump or entry list that is there but is no regular file (a
		// FIFO, a symlink) cannot be read safely: the backup is damaged,
		// so it is listed, reported by verify and never linked against.
		for _, n := range []string{m.Database.File, m.Uploads.ListFile} {
			if n == "" || n != filepath.Base(n) {
				continue
			}
			if err := notRegular(filepath.Join(b.Path, n)); err != nil {
				b.State, b.Manifest, b.Err = Damaged, nil, err
				break
			}
		}
	case !errors.Is(err, manifest.ErrNotFound):
		b.State, b.Err = Damaged, err
	default:
		for _, n := range []string{DumpGzip, DumpZstd, DumpPlain} {
			if err := notRegular(filepath.Join(b.Path, n)); err != nil {
				b.State, b.Err = Damaged, err
				return b
			}
		}
		if b.DumpFile() != "" {
			b.State = Legacy
		} else {
			b.State = Incomplete
		}
	}
	return b
}

// notRegular returns an error wrapping regfile.ErrNotRegular when path
// exists and is not a regular file (a missing file is not an error here).
func notRegular(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is %s: %w", path, regfile.Kind(fi.Mode()), regfile.ErrNotRegular)
}

// NewestUsable returns the newest complete or legacy backup, if any.
func NewestUsable(backups []Backup) (Backup, bool) {
	for _, b := range backups {
		if b.Usable() {
			return b, true
		}
	}
	return Backup{}, false
}

// Latest returns the name backup_latest points at ("" when there is no
// link) and whether it points at an existing folder.
func Latest(dir string) (target string, ok bool) {
	t, err := os.Readlink(LatestPath(dir))
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(LatestPath(dir))
	return t, err == nil && fi.IsDir()
}

// SetLatest points backup_latest at name, atomically: a new link is made
// under a temporary name and renamed over the old one, so there is never a
// moment without a valid link. The target is relative so the whole folder
// can be moved or mounted elsewhere.
func SetLatest(dir, name string) error {
	tmp := filepath.Join(dir, ".backup_latest.tmp")
	os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, LatestPath(dir)); err != nil {
		os.Remove(tmp)
		return err
	}
	return durable.SyncDir(dir)
}

// Finalize renames a finished temporary folder to its backup name and syncs
// everything needed for the backup to survive a power cut.
func Finalize(dir, tempName, name string) error {
	final := filepath.Join(dir, name)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s already exists: %w", final, os.ErrExist)
	}
	if err := os.Rename(filepath.Join(dir, tempName), final); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// Retire takes a folder (a backup, or a dead run's temp_ folder) out of
// the layout by renaming it to deleting_<name>: instant, whatever its size,
// and from then on nothing looks like a backup that is half removed. Purge
// deletes it later, outside the run lock, so that removing a tree of 100k
// hard links never holds up the next backup.
func Retire(dir, name string) error {
	gone := filepath.Join(dir, DeletingPrefix+name)
	for i := 1; ; i++ { // an earlier purge may have left one of that name
		if _, err := os.Lstat(gone); os.IsNotExist(err) {
			break
		}
		gone = filepath.Join(dir, fmt.Sprintf("%s%s.%d", DeletingPrefix, name, i))
	}
	if err := os.Rename(filepath.Join(dir, name), gone); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// PurgeLockName is the lock held while deleting_ folders are deleted, so
// that two processes do not delete the same tree.
const PurgeLockName = ".directus-backup-purge.lock"

// Purge deletes every deleting_ folder in dir. It needs no run lock: it
// takes its own, without waiting; when another process is already purging,
// it returns at once and leaves the work to it. Each folder is deleted only
// while the readers lock can be held exclusively and no reader waits for
// it (ReadersWaitingName): when a reader holds it or waits, Purge stops and
// returns an error wrapping ErrReaders (the folders wait for the next run).
// So a reader waits for the removal of one folder at most.
func Purge(dir string) ([]string, error) {
	f, err := openLockFile(filepath.Join(dir, PurgeLockName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, nil // someone else is purging
	}
	wf, err := openLockFile(filepath.Join(dir, ReadersWaitingName))
	if err != nil {
		return nil, err
	}
	defer wf.Close()
	var removed []string
	var errs []error
	for pass := 0; pass < 3; pass++ { // pick up what retires meanwhile
		ents, err := os.ReadDir(dir)
		if err != nil {
			return removed, err
		}
		var names []string
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), DeletingPrefix) {
				names = append(names, e.Name())
			}
		}
		for i, name := range names {
			rf, ok, err := exclusiveReaders(dir)
			if err != nil {
				return removed, errors.Join(append(errs, err)...)
			}
			if ok {
				var waiting bool
				if waiting, err = readersWaiting(wf); err != nil || waiting {
					rf.Close()
					ok = false
				}
				if err != nil {
					return removed, errors.Join(append(errs, err)...)
				}
			}
			if !ok {
				left := fmt.Errorf("%d retired folder(s) left: %w", len(names)-i, ErrReaders)
				if len(errs) > 0 {
					return removed, errors.Join(append(errs, left)...)
				}
				return removed, left
			}
			err = RemoveTree(filepath.Join(dir, name))
			rf.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
				continue
			}
			removed = append(removed, name)
		}
		if len(names) == 0 || len(errs) > 0 {
			break
		}
	}
	return removed, errors.Join(errs...)
}

// RemoveTree removes path and everything below it. Backups keep the modes
// of the uploads folders, so a read-only folder (0555) would stop a
// non-root os.RemoveAll; then the tree is removed again folder by folder,
// each opened without following symlinks relative to its open parent and
// made writable for the owner through that descriptor (fchmod), never by
// path: a folder swapped for a symlink meanwhile (the owner of the tree
// may do that) must not make a root run chmod what the link points at.
// Only folders are ever chmod-ed: files may be hard links shared with
// other backups.
func RemoveTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	return removeTreeByFd(path)
}

// removeTreeByFd is RemoveTree's folder-by-folder removal.
func removeTreeByFd(path string) error {
	path = filepath.Clean(path)
	parent, name := filepath.Dir(path), filepath.Base(path)
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: parent, Err: err}
	}
	defer unix.Close(pfd)
	return removeAt(pfd, name, path)
}

// removeTreeHook, when set (by tests), runs before removeAt opens a folder.
var removeTreeHook func(path string)

// removeAt removes name, in the open folder dirfd, and whatever is below
// it; path names it in errors.
func removeAt(dirfd int, name, path string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	if removeTreeHook != nil {
		removeTreeHook(path)
	}
	uerr := err
	fd, err := openTreeDir(dirfd, name)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return &os.PathError{Op: "remove", Path: path, Err: uerr} // not a folder after all
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	// Names are read in batches and removed as they come, so memory does
	// not grow with a flat uploads folder; a pass that removed anything
	// is followed by another from the start, since removing entries while
	// reading may make the reader miss some.
	var errs []error
	for {
		removed := false
		for {
			names, rerr := f.Readdirnames(1024)
			for _, n := range names {
				if err := removeAt(fd, n, filepath.Join(path, n)); err != nil {
					errs = append(errs, err)
				} else {
					removed = true
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return errors.Join(append(errs, rerr)...)
			}
		}
		if !removed || len(errs) > 0 {
			break
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return &os.PathError{Op: "seek", Path: path, Err: err}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// openTreeDir opens the folder name in dirfd for reading, never through a
// symlink, and makes it readable, writable and searchable for its owner
// (through the descriptor) if it is not. A folder the caller cannot even
// read is opened O_PATH first, chmod-ed through that, and opened again.
func openTreeDir(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if errors.Is(err, unix.EACCES) {
		var pfd int
		pfd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err = unix.Fstat(pfd, &st); err == nil {
			err = chmodPathFd(pfd, st.Mode&fsmeta.ModeBits|0o700)
		}
		if err != nil {
			unix.Close(pfd)
			return -1, err
		}
		fd, err = unix.Openat(dirfd, name, flags, 0)
		if err == nil {
			// The same folder as the one chmod-ed, or nothing.
			var st2 unix.Stat_t
			if err = unix.Fstat(fd, &st2); err == nil && (st2.Dev != st.Dev || st2.Ino != st.Ino) {
				err = unix.ENOENT
			}
			if err != nil {
				unix.Close(fd)
			}
		}
		unix.Close(pfd)
		if err != nil {
			return -1, err
		}
		return fd, nil
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err == nil && st.Mode&0o700 != 0o700 {
		err = unix.Fchmod(fd, st.Mode&fsmeta.ModeBits|0o700)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// chmodPathFd changes the mode of what the O_PATH descriptor fd refers to:
// fchmod refuses such descriptors, so fchmodat2(AT_EMPTY_PATH) (Linux 6.6)
// is used, or else the descriptor's /proc/self/fd link, which resolves to
// that very inode.
func chmodPathFd(fd int, mode uint32) error {
	err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		err = unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), mode)
	}
	return err
}

// Leftovers returns the temp_* folders in dir: work of runs that are no
// longer running, when the caller holds the lock.
func Leftovers(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() && strings.HasPrefix(n, TempPrefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// FreeBytes returns the space available to this user on dir's filesystem.
func FreeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Get returns the backup folder called name in dir.
func Get(dir, name string) (Backup, error) {
	t, ok := ParseName(name)
	if !ok {
		return Backup{}, fmt.Errorf("%q is not a backup name (backup_<date>_<timestamp>)", name)
	}
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return Backup{}, err
	}
	if !fi.IsDir() {
		return Backup{}, fmt.Errorf("%s is not a folder", filepath.Join(dir, name))
	}
	return inspect(dir, name, t), nil
}
