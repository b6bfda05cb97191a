package offsite

import (
	"context"
	"time"
)

// ListReport is what the bucket holds.
type ListReport struct {
	Where   string       `json:"where"`
	Backups []BackupInfo `json:"backups"` // newest first
	// Partial are backups whose push has not finished (or was killed):
	// a later push completes them, prune removes them after the grace period.
	Partial []PartialInfo `json:"partial"`
	// Objects and StoredBytes count the data objects in the bucket.
	Objects     int64 `json:"objects"`
	StoredBytes int64 `json:"stored_bytes"`
}

// BackupInfo is one complete backup in the bucket.
type BackupInfo struct {
	Backup      string    `json:"backup"`
	Time        time.Time `json:"time"` // from the name
	PushedAt    time.Time `json:"pushed_at"`
	Encrypted   bool      `json:"encrypted"`
	Files       int64     `json:"files"`
	FileBytes   int64     `json:"file_bytes"`
	DumpBytes   int64     `json:"dump_bytes"`
	Objects     int64     `json:"objects"`
	StoredBytes int64     `json:"stored_bytes"` // of the objects it references, shared ones included
	RetainUntil time.Time `json:"retain_until,omitzero"`
	Err         string    `json:"error,omitempty"` // the index could not be read
}

// PartialInfo is a backup with meta objects but no index.
type PartialInfo struct {
	Backup   string    `json:"backup"`
	Modified time.Time `json:"modified"`
}

// List reads the bucket's backups.
func (r *Remote) List(ctx context.Context) (ListReport, error) {
	rep := ListReport{Where: r.Store.Where(), Backups: []BackupInfo{}, Partial: []PartialInfo{}}
	l, err := r.list(ctx, true)
	if err != nil {
		return rep, err
	}
	for _, o := range l.Data {
		rep.Objects++
		rep.StoredBytes += o.Size
	}
	for i := len(l.Backups) - 1; i >= 0; i-- {
		name := l.Backups[i]
		bi := BackupInfo{Backup: name, Time: backupTime(name)}
		ix, err := r.readIndex(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			bi.Err = err.Error()
		} else {
			bi.PushedAt, bi.Encrypted, bi.Files, bi.FileBytes, bi.DumpBytes = ix.PushedAt, ix.Encrypted, ix.Files, ix.FileBytes, ix.DumpBytes
			bi.Objects, bi.StoredBytes, bi.RetainUntil = int64(len(ix.Objects)), ix.StoredBytes(), ix.RetainUntil
		}
		rep.Backups = append(rep.Backups, bi)
	}
	for b, t := range l.Partial {
		rep.Partial = append(rep.Partial, PartialInfo{Backup: b, Modified: t})
	}
	return rep, nil
}
