package offsite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/retention"
)

// PruneRequest is the offsite retention policy and how to apply it.
type PruneRequest struct {
	Days, Count int // BACKUP_OFFSITE_RETENTION_DAYS / _COUNT, as the local rule
	// Grace keeps unreferenced objects younger than this: a push running
	// meanwhile may have stored them and not yet written its index.
	Grace  time.Duration
	DryRun bool
}

// DefaultGrace is the grace period of offsite prune.
const DefaultGrace = 24 * time.Hour

// PruneReport says what prune removed and kept.
type PruneReport struct {
	Where     string          `json:"where"`
	DryRun    bool            `json:"dry_run"`
	Decisions []PruneDecision `json:"backups"` // newest first
	// Removed backups, partial pushes and objects.
	Removed        []string `json:"removed"`
	PartialRemoved []string `json:"partial_removed"`
	ObjectsDeleted int64    `json:"objects_deleted"`
	BytesDeleted   int64    `json:"bytes_deleted"`
	// Unreferenced objects kept: younger than the grace period, or under
	// object lock retention.
	ObjectsYoung  int64 `json:"objects_young"`
	ObjectsLocked int64 `json:"objects_locked"`
	// Objects still referenced.
	ObjectsKept int64 `json:"objects_kept"`
	// GCSkipped says why no data object was deleted ("" when they were
	// considered).
	GCSkipped string  `json:"gc_skipped,omitempty"`
	Seconds   float64 `json:"seconds"`
}

// PruneDecision is the fate of one backup in the bucket.
type PruneDecision struct {
	Backup string `json:"backup"`
	Keep   bool   `json:"keep"`
	Reason string `json:"reason"`
}

// Prune removes backups per the retention policy (never the newest), then
// the objects no remaining backup references. The order makes a crash
// harmless: a backup's index goes first (the backup is then incomplete,
// and its objects unreferenced), its meta objects next; data objects are
// deleted last, and only those that no index read before the deletions
// names. It is the only command that deletes.
func (r *Remote) Prune(ctx context.Context, req PruneRequest) (PruneReport, error) {
	start := r.now()
	rep := PruneReport{Where: r.Store.Where(), DryRun: req.DryRun, Decisions: []PruneDecision{}, Removed: []string{}, PartialRemoved: []string{}}
	done := func(err error) (PruneReport, error) {
		rep.Seconds = r.now().Sub(start).Seconds()
		return rep, err
	}
	var lock *heldLock
	if !req.DryRun {
		var err error
		if lock, err = r.takeLock(ctx, "prune"); err != nil {
			return done(err)
		}
		defer func() {
			if err := lock.release(ctx); err != nil {
				r.log().Warn("could not remove the offsite prune lock; pushes wait for it for 15 minutes", "err", err)
			}
		}()
		reason, err := r.pushRunning(ctx, lock)
		if err != nil {
			return done(err)
		}
		rep.GCSkipped = reason
	}
	l, err := r.list(ctx, true)
	if err != nil {
		return done(err)
	}
	indexes := map[string]*Index{}
	var items []retention.Item
	for _, name := range l.Backups {
		ix, err := r.readIndex(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return done(ctx.Err())
			}
			// Its references are unknown: delete nothing that it might name.
			r.log().Warn("offsite backup kept: its index cannot be read", "backup", name, "err", err)
			rep.GCSkipped = "the index of " + name + " cannot be read: no data object is deleted"
			continue
		}
		indexes[name] = ix
		items = append(items, retention.Item{Name: name, Time: backupTime(name)})
	}
	remove := map[string]bool{}
	policy := retention.Policy{Days: req.Days, Count: req.Count,
		DaysSetting: "BACKUP_OFFSITE_RETENTION_DAYS", CountSetting: "BACKUP_OFFSITE_RETENTION_COUNT"}
	for _, d := range retention.Apply(items, policy, r.now()) {
		rep.Decisions = append(rep.Decisions, PruneDecision{Backup: d.Name, Keep: d.Keep, Reason: d.Reason})
		if !d.Keep {
			remove[d.Name] = true
		}
	}
	if req.DryRun {
		for name := range remove {
			rep.Removed = append(rep.Removed, name)
			delete(indexes, name)
		}
		r.countGarbage(l, indexes, req.Grace, &rep)
		return done(nil)
	}
	for i, d := range rep.Decisions {
		if d.Keep {
			continue
		}
		if err := r.Store.Remove(ctx, indexKey(d.Backup)); err != nil {
			if errors.Is(err, errLocked) {
				// The report must not say removed what stays listed.
				rep.Decisions[i].Keep = true
				rep.Decisions[i].Reason = d.Reason + "; kept: under object lock retention until its date"
				r.log().Info("offsite backup kept: under object lock retention", "backup", d.Backup)
				continue
			}
			return done(fmt.Errorf("remove offsite backup %s: %w", d.Backup, err))
		}
		delete(indexes, d.Backup)
		rep.Removed = append(rep.Removed, d.Backup)
		if err := r.removeMeta(ctx, d.Backup); err != nil {
			return done(err)
		}
	}
	// Leftovers of unfinished pushes, only while no push runs (a push of
	// the same backup may be writing them again), and only the objects
	// listed above, each past the grace period.
	if rep.GCSkipped == "" {
		for name, t := range l.Partial {
			if r.now().Sub(t) < req.Grace {
				continue
			}
			for _, o := range l.PartialObjs[name] {
				if strings.HasSuffix(o.Key, "/"+indexName) || r.now().Sub(o.LastModified) < req.Grace {
					continue
				}
				if err := r.Store.Remove(ctx, o.Key); err != nil && !errors.Is(err, errLocked) {
					return done(fmt.Errorf("remove an unfinished push of %s: %w", name, err))
				}
			}
			rep.PartialRemoved = append(rep.PartialRemoved, name)
		}
	}
	if rep.GCSkipped == "" {
		// Look again right before deleting: a push that started after the
		// first look has seen this prune's lock and waits, but one that
		// started before it and was slow to write its lock is caught here.
		if reason, err := r.pushRunning(ctx, lock); err != nil {
			return done(err)
		} else if reason != "" {
			rep.GCSkipped = reason
		}
	}
	if rep.GCSkipped == "" {
		garbage := r.countGarbage(l, indexes, req.Grace, &rep)
		for _, name := range garbage {
			o := l.Data[name]
			err := r.Store.Remove(ctx, dataKey(name))
			switch {
			case errors.Is(err, errLocked):
				rep.ObjectsLocked++
			case err != nil:
				return done(fmt.Errorf("delete unreferenced object: %w", err))
			default:
				rep.ObjectsDeleted++
				rep.BytesDeleted += o.Size
			}
		}
	}
	// Finished pushes' locks, and locks of runs long gone. Those listed
	// before are the only candidates: a push starting now is not touched.
	if live, err := r.liveLocks(ctx, "push", lock.key); err == nil {
		running := map[string]bool{}
		for _, l := range live {
			running[l.Key] = true
		}
		for key := range l.Locks {
			if !strings.HasPrefix(key, locksDir+"push-") || running[key] {
				continue
			}
			if err := r.Store.Remove(ctx, key); err != nil && !errors.Is(err, errLocked) {
				r.log().Warn("could not remove a finished push lock", "lock", key, "err", err)
			}
		}
	}
	return done(nil)
}

// countGarbage returns the data objects no index in keep references and
// older than grace, and counts the rest into rep.
func (r *Remote) countGarbage(l *Listing, keep map[string]*Index, grace time.Duration, rep *PruneReport) []string {
	refs := map[string]bool{}
	for _, ix := range keep {
		for _, o := range ix.Objects {
			refs[o.Name] = true
		}
	}
	var out []string
	for name, o := range l.Data {
		switch {
		case refs[name]:
			rep.ObjectsKept++
		case r.now().Sub(o.LastModified) < grace:
			rep.ObjectsYoung++
		default:
			out = append(out, name)
			if rep.DryRun {
				rep.ObjectsDeleted++
				rep.BytesDeleted += o.Size
			}
		}
	}
	return out
}

// removeMeta deletes every object under backups/<name>/.
func (r *Remote) removeMeta(ctx context.Context, name string) error {
	var keys []string
	for o, err := range r.Store.List(ctx, backupPrefix(name)) {
		if err != nil {
			return err
		}
		keys = append(keys, o.Key)
	}
	for _, k := range keys {
		if err := r.Store.Remove(ctx, k); err != nil && !errors.Is(err, errLocked) {
			return fmt.Errorf("remove offsite backup %s: %w", name, err)
		}
	}
	return nil
}

// pushRunning says why no data object may be deleted now ("" when they
// may): a push is running, or this prune's own lock may have looked stale
// to a push that then went ahead.
func (r *Remote) pushRunning(ctx context.Context, lock *heldLock) (string, error) {
	if lock.refreshFailed() {
		return "this prune's lock could not be kept fresh: unreferenced objects are kept until the next prune", nil
	}
	live, err := r.liveLocks(ctx, "push", lock.key)
	if err != nil {
		return "", err
	}
	if len(live) > 0 {
		return "a push is running (" + live[0].Body.String() + "): unreferenced objects are kept until the next prune", nil
	}
	return "", nil
}
