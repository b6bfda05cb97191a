package offsite

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
)

// With BACKUP_S3_OBJECT_LOCK_DAYS, every object is stored with a
// governance-mode retention date, and each push makes sure that every
// object the newest backup references stays retained for the lock days
// from now: an old file that is still in the newest backup is extended, so
// the newest copy is whole and undeletable however old its objects are
// (kopia sets the lock once and never renews it). Extending costs a
// request per object; it happens only when an object's retention falls
// short, and then to a margin beyond it (lockTarget).

// extend makes every object ix references retained until at least
// lockNeeded, and sets ix.RetainUntil to the earliest retention. Objects in
// sent were just stored with lockTarget. prev (may be nil) is an index whose
// RetainUntil vouches for the objects it names. It returns how many
// objects it extended.
func (r *Remote) extend(ctx context.Context, ix *Index, prev *Index, sent map[string]bool) (int64, error) {
	need, target := r.lockNeeded(), r.lockTarget()
	vouched := map[string]bool{}
	if prev != nil && !prev.RetainUntil.Before(need) {
		for _, o := range prev.Objects {
			vouched[o.Name] = true
		}
	}
	earliest := target
	if prev != nil && len(vouched) > 0 && prev.RetainUntil.Before(earliest) {
		earliest = prev.RetainUntil
	}
	var keys []string
	for _, o := range ix.Objects {
		if sent[o.Name] || vouched[o.Name] {
			continue
		}
		keys = append(keys, dataKey(o.Name))
	}
	if sent == nil {
		for _, m := range ix.Meta {
			keys = append(keys, m.Name)
		}
		keys = append(keys, indexKey(ix.Backup))
	}
	var extended int64
	for _, k := range keys {
		until, err := r.Store.Retention(ctx, k)
		if err != nil {
			return extended, err
		}
		if !until.Before(need) {
			if until.Before(earliest) {
				earliest = until
			}
			continue
		}
		if err := r.Store.Extend(ctx, k, target); err != nil {
			return extended, err
		}
		extended++
	}
	ix.RetainUntil = earliest
	return extended, nil
}

// writeIndex stores ix as its backup's index.json.
func (r *Remote) writeIndex(ctx context.Context, ix *Index) (int64, error) {
	data, err := json.MarshalIndent(ix, "", " ")
	if err != nil {
		return 0, err
	}
	var retain time.Time
	if r.LockDays > 0 {
		retain = r.lockTarget()
	}
	return int64(len(data)), r.Store.Put(ctx, indexKey(ix.Backup), bytes.NewReader(data), int64(len(data)), s3store.PutOptions{RetainUntil: retain})
}
