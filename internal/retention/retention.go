// Package retention decides which complete backups to keep. It is a pure
// function of the backups' times, the policy and the current time, so that
// every rule can be tested without touching a disk.
//
// The original backup.sh's table and flowchart disagree on what
// BACKUP_RETENTION_COUNT means; the rule here reconciles them:
//
//   - Days > 0: backups older than Days are removed, except that the newest
//     max(Count, 1) are always kept ("keep a month, but at least 10").
//   - Days = 0, Count > 0: only the newest Count are kept.
//   - Days = 0, Count = 0: everything is kept.
//
// The newest backup is never removed.
package retention

import (
	"fmt"
	"sort"
	"time"
)

// Policy is the retention setting.
type Policy struct {
	Days  int // BACKUP_RETENTION_DAYS
	Count int // BACKUP_RETENTION_COUNT
}

// Item is one complete backup.
type Item struct {
	Name string
	Time time.Time // from the timestamp in its name
}

// Decision is what happens to one backup and why.
type Decision struct {
	Item
	Keep   bool
	Reason string
}

// Apply returns a decision for every item, newest first.
func Apply(items []Item, p Policy, now time.Time) []Decision {
	sorted := append([]Item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].Name > sorted[j].Name
	})
	out := make([]Decision, len(sorted))
	minKeep := max(p.Count, 1)
	maxAge := time.Duration(p.Days) * 24 * time.Hour
	for i, it := range sorted {
		d := Decision{Item: it, Keep: true}
		switch {
		case p.Days == 0 && p.Count == 0:
			d.Reason = "no retention limit"
		case p.Days == 0:
			if i < p.Count {
				d.Reason = fmt.Sprintf("one of the newest %d", p.Count)
			} else {
				d.Keep, d.Reason = false, fmt.Sprintf("beyond the newest %d (BACKUP_RETENTION_COUNT)", p.Count)
			}
		case i < minKeep:
			d.Reason = fmt.Sprintf("one of the newest %d kept whatever their age", minKeep)
		case now.Sub(it.Time) > maxAge:
			d.Keep, d.Reason = false, fmt.Sprintf("older than %d days (BACKUP_RETENTION_DAYS)", p.Days)
		default:
			d.Reason = fmt.Sprintf("within %d days", p.Days)
		}
		out[i] = d
	}
	return out
}
