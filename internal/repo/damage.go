package repo

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// DamageName is the file in a backup folder that lists the uploads files a
// verify found damaged there, so that the next backup copies them afresh
// from the live folder instead of hard-linking the damaged inode again.
const DamageName = "damaged.jsonl"

// maxDamageBytes bounds what ReadDamage reads: a damage list is small, and
// a huge file planted in its place must not eat the memory of a backup.
const maxDamageBytes = 64 << 20

// Damage is one damaged uploads file.
type Damage struct {
	Path string // relative to the backup's uploads/ (or Folder), slash-separated, raw bytes
	// Folder is the files folder Path is in, relative to the backup, when
	// it is not uploads/ (storage/<name>, extensions). Versions before it
	// read such an entry as one in uploads/, where its inode never matches.
	Folder string
	Kind   string // what verify found: "content", "size"
	// The damaged inode; a hard link elsewhere is the same damage. It is
	// matched by Ino, Size and MTime: st_dev is kept for the record only,
	// as it can change across reboots (device mapper, LVM, btrfs, NFS),
	// while a backup and the next one's links are on one filesystem.
	Dev, Ino uint64
	Size     int64
	MTime    Timespec  // zero in lists written before it was recorded
	Found    time.Time // when verify found it
}

// Timespec is a file time as the kernel gives it: whole seconds and
// nanoseconds, so times beyond 2262 survive.
type Timespec struct{ Sec, Nsec int64 }

// same reports whether d and o record the same damage (Found aside).
func (d Damage) same(o Damage) bool {
	return d.Path == o.Path && d.Folder == o.Folder && d.Kind == o.Kind && d.Dev == o.Dev && d.Ino == o.Ino && d.Size == o.Size && d.MTime == o.MTime
}

// damageWire is Damage on disk; a name that is not valid UTF-8 also goes as
// base64, like in the entry list.
type damageWire struct {
	Path    string    `json:"path"`
	PathB64 string    `json:"path_b64,omitempty"`
	Folder  string    `json:"folder,omitempty"`
	Kind    string    `json:"kind"`
	Dev     uint64    `json:"dev"`
	Ino     uint64    `json:"ino"`
	Size    int64     `json:"size"`
	MSec    int64     `json:"mtime_sec,omitempty"`
	MNsec   int64     `json:"mtime_nsec,omitempty"`
	Found   time.Time `json:"found"`
}

// WriteDamage replaces the damage list of the backup folder dir with list
// (written to a temporary name, synced and renamed, never through a
// symlink). An empty list removes the file. Nothing is written when the
// list on disk already says the same, so verifying a backup on a read-only
// mount changes nothing and fails nothing: a clean verify there finds no
// list to remove, and a damaged one finds the damage already recorded.
// dir itself must not be a symlink.
func WriteDamage(dir string, list []Damage) error {
	dfd, err := openBackupDir(dir, 0, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, DamageName), err)
	}
	defer unix.Close(dfd)
	return writeDamageAt(dfd, dir, list)
}

// WriteDamage is WriteDamage for the listed backup b: after a long verify
// its folder may have been swapped for a symlink or another folder by the
// owner of BACKUPS_DIR, so the list is written only into the very folder
// that was listed (same device and inode), through a descriptor.
func (b Backup) WriteDamage(list []Damage) error {
	dfd, err := openBackupDir(b.Path, b.dev, b.ino)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(b.Path, DamageName), err)
	}
	defer unix.Close(dfd)
	return writeDamageAt(dfd, b.Path, list)
}

// errSwapped: a backup folder is no longer the one listed.
var errSwapped = errors.New("the backup folder was replaced since it was listed")

// openBackupDir opens the folder dir without following a symlink; when ino
// is not 0 it must be that folder (dev, ino).
func openBackupDir(dir string, dev, ino uint64) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("%s is not a folder (a symlink?): %w", dir, errSwapped)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	if ino != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "stat", Path: dir, Err: err}
		}
		if st.Dev != dev || st.Ino != ino {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", dir, errSwapped)
		}
	}
	return fd, nil
}

// writeDamageAt is WriteDamage in the open folder dfd (named dir).
func writeDamageAt(dfd int, dir string, list []Damage) error {
	final := filepath.Join(dir, DamageName)
	if len(list) == 0 {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, DamageName, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			return nil
		}
		err := unix.Unlinkat(dfd, DamageName, 0)
		if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EROFS) {
			// On a read-only mount a stale list stays: it only makes the
			// next backup copy those files afresh, nothing to warn about.
			return nil
		}
		return &os.PathError{Op: "remove", Path: final, Err: err}
	}
	if old, err := readDamageAt(dfd, dir); err == nil && sameList(old, list) {
		return nil
	}
	var sb strings.Builder
	for _, d := range list {
		w := damageWire{Path: d.Path, Folder: d.Folder, Kind: d.Kind, Dev: d.Dev, Ino: d.Ino, Size: d.Size,
			MSec: d.MTime.Sec, MNsec: d.MTime.Nsec, Found: d.Found.UTC()}
		if !utf8.ValidString(d.Path) {
			w.Path = strings.ToValidUTF8(d.Path, "\uFFFD")
			w.PathB64 = base64.StdEncoding.EncodeToString([]byte(d.Path))
		}
		b, err := json.Marshal(w)
		if err != nil {
			return err
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	const tmp = DamageName + ".tmp"
	unix.Unlinkat(dfd, tmp, 0) // a leftover of a killed verify; O_EXCL below refuses anything else
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, tmp))
	_, err = io.WriteString(f, sb.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, DamageName)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("write %s: %w", final, err)
	}
	return nil
}

// ReadDamage returns the damage list of the backup folder dir; none when
// it has no list. A list that is not a regular file is refused without
// being opened for reading (a FIFO would hang).
func ReadDamage(dir string) ([]Damage, error) {
	return readDamageAt(unix.AT_FDCWD, dir)
}

// readDamageAt is ReadDamage of the folder dir, open as dfd (or AT_FDCWD).
func readDamageAt(dfd int, dir string) ([]Damage, error) {
	p := filepath.Join(dir, DamageName)
	name := DamageName
	if dfd == unix.AT_FDCWD {
		name = p
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, &os.PathError{Op: "open", Path: p, Err: err})
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file (%s)", p, fi.Mode().Type())
	}
	var out []Damage
	sc := bufio.NewScanner(io.LimitReader(f, maxDamageBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var w damageWire
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			return out, fmt.Errorf("read %s: line %d: %w", p, line, err)
		}
		d := Damage{Path: w.Path, Folder: w.Folder, Kind: w.Kind, Dev: w.Dev, Ino: w.Ino, Size: w.Size,
			MTime: Timespec{w.MSec, w.MNsec}, Found: w.Found}
		if w.PathB64 != "" {
			b, err := base64.StdEncoding.DecodeString(w.PathB64)
			if err != nil {
				return out, fmt.Errorf("read %s: line %d: %w", p, line, err)
			}
			d.Path = string(b)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", p, err)
	}
	return out, nil
}

// sameList reports whether a and b record the same damage, in any order.
func sameList(a, b []Damage) bool {
	if len(a) != len(b) {
		return false
	}
	for _, d := range b {
		found := false
		for _, o := range a {
			if o.same(d) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
