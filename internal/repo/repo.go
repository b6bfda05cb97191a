package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/directus-backup/directus-backup/internal/durable"
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

	// area is the files folder this value stands for, relative to Path:
	// "" for uploads/, else a storage location's or the extensions folder
	// (see Area). UploadsPath and ListPath follow it.
	area string
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
		names := []string{m.Database.File, m.Uploads.ListFile}
		for _, l := range m.Storage {
			names = append(names, l.ListFile)
		}
		if m.Extensions != nil {
			names = append(names, m.Extensions.ListFile)
		}
		for _, n := range names {
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
