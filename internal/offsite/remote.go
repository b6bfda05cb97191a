package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/retention"
)

// Remote is the bucket and what to do with it.
type Remote struct {
	Store    *s3store.Store
	Sealer   *seal.Sealer // recipients; plain when it has none
	Opener   *seal.Opener // identities, for reading data back; may be nil
	LockDays int          // BACKUP_S3_OBJECT_LOCK_DAYS; 0 = off
	// Retention is the offsite retention policy: push --all skips local
	// backups it would remove at once (else each push would bring back what
	// prune removed).
	Retention retention.Policy
	Jobs      int          // parallel transfers; 0 = 8
	Version   string       // of the tool, recorded in indexes
	Log       *slog.Logger // may be nil
	Now       func() time.Time
}

func (r *Remote) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Remote) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Remote) jobs() int {
	if r.Jobs > 0 {
		return r.Jobs
	}
	return 8
}

// IndexFormat is the version of index.json; readers refuse a newer one.
const IndexFormat = 1

// Index is a backup's index.json: what it references, in the clear.
type Index struct {
	Format     int       `json:"format"`
	Tool       string    `json:"tool"`
	Version    string    `json:"version"`
	Backup     string    `json:"backup"`
	Timestamp  int64     `json:"timestamp"` // the backup's, from its manifest
	PushedAt   time.Time `json:"pushed_at"`
	Encrypted  bool      `json:"encrypted"`
	Recipients string    `json:"recipients,omitempty"` // seal fingerprint
	// Meta maps each meta object (manifest.json, files.jsonl, ...) to its key and stored size.
	Meta map[string]Ref `json:"meta"`
	// Objects are the data objects referenced, sorted by name, each once.
	Objects []Ref `json:"objects"`
	// Figures of the backup (plaintext sizes). Files and FileBytes count
	// every files folder, listed in Areas (uploads, storage/<name>,
	// extensions; absent in indexes of versions that pushed uploads/ only).
	Areas      []string `json:"areas,omitempty"`
	Files      int64    `json:"files"`
	FileBytes  int64    `json:"file_bytes"`
	DumpFile   string   `json:"dump_file"`
	DumpBytes  int64    `json:"dump_bytes"`
	DumpPieces int64    `json:"dump_pieces"`
	// RetainUntil is the earliest object lock retention of the objects
	// referenced, as of the push (zero without object lock).
	RetainUntil time.Time `json:"retain_until,omitzero"`
}

// Ref is one stored object: a data name (or a meta key) and its stored size.
type Ref struct {
	Name string `json:"n"`
	Size int64  `json:"s"`
}

// StoredBytes sums the stored sizes of the objects and meta objects.
func (ix *Index) StoredBytes() int64 {
	var n int64
	for _, o := range ix.Objects {
		n += o.Size
	}
	for _, m := range ix.Meta {
		n += m.Size
	}
	return n
}

// readIndex reads and checks one backup's index.
func (r *Remote) readIndex(ctx context.Context, backup string) (*Index, error) {
	data, err := r.Store.ReadAll(ctx, indexKey(backup))
	if err != nil {
		return nil, err
	}
	var ix Index
	if err := json.Unmarshal(data, &ix); err != nil {
		return nil, fmt.Errorf("offsite backup %s: index.json cannot be read: %w", backup, err)
	}
	if ix.Format < 1 || ix.Format > IndexFormat {
		return nil, fmt.Errorf("offsite backup %s: index format %d is not supported (this version reads 1 to %d)", backup, ix.Format, IndexFormat)
	}
	if ix.Backup != backup {
		return nil, fmt.Errorf("offsite backup %s: its index names %q", backup, ix.Backup)
	}
	for _, o := range ix.Objects {
		if len(o.Name) != 64 || !isHex(o.Name) {
			return nil, fmt.Errorf("offsite backup %s: its index names an object %q that is not a data object", backup, o.Name)
		}
	}
	return &ix, nil
}

// Listing is what the bucket holds, read in one pass.
type Listing struct {
	// Complete backups (with an index), oldest first.
	Backups []string
	// Partial backups: meta objects but no index (a push in progress or
	// killed), with the time of their newest object, and their objects.
	Partial     map[string]time.Time
	PartialObjs map[string][]s3store.Object
	// Data objects by name.
	Data map[string]s3store.Object
	// Locks by key.
	Locks map[string]s3store.Object
}

// list reads the whole bucket prefix's listing.
func (r *Remote) list(ctx context.Context, withData bool) (*Listing, error) {
	l := &Listing{Partial: map[string]time.Time{}, PartialObjs: map[string][]s3store.Object{},
		Data: map[string]s3store.Object{}, Locks: map[string]s3store.Object{}}
	complete := map[string]bool{}
	for o, err := range r.Store.List(ctx, backupsDir) {
		if err != nil {
			return nil, err
		}
		b := backupOfKey(o.Key)
		if b == "" {
			continue
		}
		if o.Key == indexKey(b) {
			complete[b] = true
			continue
		}
		if o.LastModified.After(l.Partial[b]) {
			l.Partial[b] = o.LastModified
		}
		l.PartialObjs[b] = append(l.PartialObjs[b], o)
	}
	for b := range complete {
		delete(l.Partial, b)
		delete(l.PartialObjs, b)
		l.Backups = append(l.Backups, b)
	}
	sort.Strings(l.Backups)
	sortBackups(l.Backups)
	for o, err := range r.Store.List(ctx, locksDir) {
		if err != nil {
			return nil, err
		}
		l.Locks[o.Key] = o
	}
	if withData {
		for o, err := range r.Store.List(ctx, dataDir) {
			if err != nil {
				return nil, err
			}
			if n := nameOfDataKey(o.Key); n != "" {
				l.Data[n] = o
			}
		}
	}
	return l, nil
}

// ErrNoBackup is returned when a named backup is not in the bucket.
var ErrNoBackup = errors.New("no such backup in the bucket")

// sortBackups orders backup names by the timestamp in them, then by name.
func sortBackups(names []string) {
	slices.SortStableFunc(names, func(a, b string) int {
		ta, tb := backupTime(a), backupTime(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
}
