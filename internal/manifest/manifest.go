// Package manifest defines the record each backup keeps of what it holds.
//
// A backup folder made by directus-backup holds two manifest files beside the
// dump and the uploads folder:
//
//	manifest.files.jsonl  one JSON object per uploads entry, in walk order
//	manifest.json         the summary: job, timings, dump and uploads figures,
//	                      and the SHA-256 of manifest.files.jsonl
//
// manifest.json is written last and synced: its presence is what marks a
// backup complete. The entry list is a stream (JSON Lines, sorted in walk
// order) so that the next backup can merge against it without holding it in
// memory, and so that offsite copies can key objects by the SHA-256s it lists.
package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/durable"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// File names inside a backup folder.
const (
	FileName      = "manifest.json"
	FilesListName = "manifest.files.jsonl"
	// ChunksListName lists the compressed dump's members (chunks).
	ChunksListName = "manifest.chunks.jsonl"
)

// Format is the newest on-disk format version this version reads.
// Readers refuse a newer format instead of misreading it.
//
// Format 2 adds storage locations besides uploads/ (Storage) and
// database-only backups (Files "off"). A backup that has either is
// written as format 2, so that a version reading only format 1 refuses it
// instead of restoring part of it (or taking a missing uploads/ for an
// empty folder); every other backup is still written as format 1, which
// those versions read whole (they ignore the extensions field).
const Format = 2

// FormatFor returns the format to write m as: the lowest that says all it
// holds (see Format).
func FormatFor(m *Manifest) int {
	if len(m.Storage) > 0 || m.Files == FilesOff || !m.HasUploads() {
		return 2
	}
	return 1
}

// FilesOff is Manifest.Files of a database-only backup (BACKUP_FILES=off).
const FilesOff = "off"

// Manifest is the summary of one complete backup.
type Manifest struct {
	Format     int       `json:"format"`
	Tool       string    `json:"tool"`
	Version    string    `json:"version"`
	JobID      string    `json:"job_id"`
	Name       string    `json:"name"`
	Timestamp  int64     `json:"timestamp"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Steps      []Step    `json:"steps"`
	Database   Database  `json:"database"`
	Uploads    Uploads   `json:"uploads"`

	// DefaultLocation is the Directus storage location whose files are in
	// uploads/ (the first local one in STORAGE_LOCATIONS). Absent in
	// backups made before storage locations were read, and in those
	// without uploads/.
	DefaultLocation string `json:"default_location,omitempty"`
	// NoUploads: the backup has no uploads/ and no entry list for it (no
	// local storage location, or Files off).
	NoUploads bool `json:"no_uploads,omitempty"`
	// Storage lists the other storage locations, each in its own folder.
	Storage []Location `json:"storage,omitempty"`
	// Extensions is the Directus extensions folder; nil when there was none.
	Extensions *Location `json:"extensions,omitempty"`
	// Files is FilesOff for a database-only backup, else "".
	Files string `json:"files,omitempty"`
}

// HasUploads reports whether the backup holds an uploads/ folder with its
// entry list (every backup before format 2 does).
func (m *Manifest) HasUploads() bool { return !m.NoUploads && m.Files != FilesOff }

// Location is one snapshotted folder besides uploads/: a Directus storage
// location or the extensions folder. Its figures are those of Uploads,
// about its own folder and entry list.
type Location struct {
	Name   string `json:"name"`   // as written in STORAGE_LOCATIONS; "extensions" for the extensions
	Driver string `json:"driver"` // "local" (or "s3")
	Folder string `json:"folder"` // inside the backup: storage/<name> or extensions
	// Where an s3 location's objects came from; never its keys.
	Bucket   string `json:"bucket,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Uploads
}

// Location returns the storage location called name (case-insensitive, as
// Directus upper-cases names for its settings).
func (m *Manifest) Location(name string) (Location, bool) {
	for _, l := range m.Storage {
		if strings.EqualFold(l.Name, name) {
			return l, true
		}
	}
	return Location{}, false
}

// Step records how long one step of the run took.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Database describes the dump file.
type Database struct {
	File        string `json:"file"`        // db_backup.sql.gz or db_backup.sql
	Compression string `json:"compression"` // "gzip" or "none"
	Level       int    `json:"level,omitempty"`
	Method      string `json:"method"` // "local" or "docker"
	Name        string `json:"name"`   // the database that was dumped
	RawBytes    int64  `json:"raw_bytes"`
	RawSHA256   string `json:"raw_sha256"`
	Bytes       int64  `json:"bytes"`  // size of File on disk
	SHA256      string `json:"sha256"` // of File on disk
	// TableRows counts the rows the dump holds for each table, as counted
	// from its COPY blocks while it streamed by (keys as the dump names the
	// tables, e.g. public.directus_users).
	TableRows map[string]int64 `json:"table_rows,omitempty"`
	// Chunks describes a compressed dump written as one member per
	// content-defined chunk; absent for dumps made before (one member) and
	// for uncompressed ones.
	Chunks *Chunks `json:"chunks,omitempty"`
}

// Chunks describes the members of a chunked dump and what the run reused.
type Chunks struct {
	ListFile   string `json:"list_file"`   // manifest.chunks.jsonl
	ListSHA256 string `json:"list_sha256"` // of ListFile
	Count      int64  `json:"count"`
	Average    int64  `json:"average"` // the chunker's average chunk size, bytes
	// Reused members were copied from Previous's dump (after a check that
	// they decompress to the chunk); the rest were compressed afresh.
	Reused         int64  `json:"reused"`
	ReusedRawBytes int64  `json:"reused_raw_bytes"`
	FreshRawBytes  int64  `json:"fresh_raw_bytes"`
	Refreshed      int64  `json:"refreshed"` // members of Previous found damaged, compressed afresh
	Previous       string `json:"previous,omitempty"`
	// Tables gives each table's COPY data size and how much of it was in
	// chunks compressed afresh.
	Tables map[string]TableChunks `json:"tables,omitempty"`
}

// TableChunks is one table's share of the dump's chunks.
type TableChunks struct {
	RawBytes      int64 `json:"raw_bytes"`
	FreshRawBytes int64 `json:"fresh_raw_bytes"`
}

// Uploads describes the uploads snapshot.
type Uploads struct {
	Source      string `json:"source"`
	Previous    string `json:"previous,omitempty"` // backup the unchanged files are linked to
	Files       int64  `json:"files"`
	Dirs        int64  `json:"dirs"`
	Symlinks    int64  `json:"symlinks"`
	Skipped     int64  `json:"skipped"` // sockets, FIFOs, devices
	Bytes       int64  `json:"bytes"`   // total size of regular files
	Linked      int64  `json:"linked"`
	Copied      int64  `json:"copied"`
	CopiedBytes int64  `json:"copied_bytes"`
	// Run numbers the backups of a chain (previous run + 1): it picks which
	// linked files this run re-read (BACKUP_RECHECK_PERCENT).
	Run       int64 `json:"run"`
	Rechecked int64 `json:"rechecked"` // linked files re-read and compared with their recorded hash
	Compared  int64 `json:"compared"`  // linked files compared with the live file, as no vouched list had them
	Refreshed int64 `json:"refreshed"` // files found (or known) damaged in the previous backup, copied afresh
	// Vouched says every hash in the entry list was checked by the run that
	// wrote it: taken from the source's bytes, or from a vouched list, or
	// compared with the source. Earlier versions could record a rotten
	// linked copy's hash (after a backup.sh backup or a damaged list) and
	// did not write it: their lists are not trusted for linking.
	Vouched    bool   `json:"vouched,omitempty"`
	ListFile   string `json:"list_file"`
	ListSHA256 string `json:"list_sha256"`
	Entries    int64  `json:"entries"`
}

// ErrNotFound is returned by Load when the folder has no manifest.json.
var ErrNotFound = errors.New("no manifest")

// Load reads dir/manifest.json. It returns an error wrapping ErrNotFound when
// the file does not exist.
func Load(dir string) (*Manifest, error) {
	// Not os.ReadFile: a FIFO as manifest.json would hang the read, and a
	// symlink would read a file outside the backup.
	data, err := regfile.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, FileName), err)
	}
	if m.Format < 1 || m.Format > Format {
		return nil, fmt.Errorf("%s: manifest format %d is not supported (this version reads 1 to %d)",
			filepath.Join(dir, FileName), m.Format, Format)
	}
	return &m, nil
}

// Write stores m as dir/manifest.json: written to a temporary name, synced,
// renamed into place and the folder synced, so that a crash leaves either no
// manifest or a whole one.
func Write(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	final := filepath.Join(dir, FileName)
	tmp := final + ".tmp"
	// A leftover is removed (not followed); O_EXCL|O_NOFOLLOW then never
	// writes through a symlink planted in its place.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// ComparePaths orders entry paths the way a walk visits them: component by
// component, a folder before everything inside it, names in byte order.
// ("a" < "a/b" < "a.b", whereas a plain string comparison puts "a.b" first.)
func ComparePaths(a, b string) int {
	if a == b {
		return 0
	}
	if a == "." {
		return -1
	}
	if b == "." {
		return 1
	}
	for {
		ai := strings.IndexByte(a, '/')
		bi := strings.IndexByte(b, '/')
		ac, bc := a, b
		if ai >= 0 {
			ac = a[:ai]
		}
		if bi >= 0 {
			bc = b[:bi]
		}
		if c := strings.Compare(ac, bc); c != 0 {
			return c
		}
		switch {
		case ai < 0 && bi < 0:
			return 0
		case ai < 0:
			return -1
		case bi < 0:
			return 1
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// Reader streams the entries of a manifest.files.jsonl file.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader reads entries from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	return &Reader{sc: sc}
}

// Next returns the next entry, or io.EOF after the last one.
func (r *Reader) Next() (Entry, error) {
	var e Entry
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return e, err
		}
		return e, io.EOF
	}
	r.line++
	if err := json.Unmarshal(r.sc.Bytes(), &e); err != nil {
		return e, fmt.Errorf("line %d: %w", r.line, err)
	}
	return e, nil
}
