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
// When any of KeepDaily, KeepWeekly, KeepMonthly is above 0, the policy is
// grandfather-father-son instead, as restic forget --keep-daily/-weekly/
// -monthly defines it: for each of the last N days (ISO weeks, months) that
// have backups, the newest backup of that period is kept. A backup is then
// kept when any rule keeps it (the union): within Days (when Days > 0), one
// of the newest Count, or picked by a GFS rule. Days = 0 is then no age
// rule, not "keep everything".
//
// The newest backup is never removed.
package retention

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Policy is the retention setting.
type Policy struct {
	Days  int // BACKUP_RETENTION_DAYS
	Count int // BACKUP_RETENTION_COUNT

	KeepDaily   int // BACKUP_KEEP_DAILY; 0 = no daily rule
	KeepWeekly  int // BACKUP_KEEP_WEEKLY; 0 = no weekly rule
	KeepMonthly int // BACKUP_KEEP_MONTHLY; 0 = no monthly rule

	// Location is the time zone days, weeks and months are counted in:
	// the zone backup folder names are written in. nil = time.Local.
	Location *time.Location

	// DaysSetting and CountSetting name the settings Days and Count come
	// from, for the reasons (another policy, e.g. the offsite one, reads
	// other settings). Empty: BACKUP_RETENTION_DAYS and _COUNT.
	DaysSetting, CountSetting string
}

func (p Policy) daysSetting() string { return cmp.Or(p.DaysSetting, "BACKUP_RETENTION_DAYS") }

func (p Policy) countSetting() string { return cmp.Or(p.CountSetting, "BACKUP_RETENTION_COUNT") }

// GFS reports whether any grandfather-father-son rule is set.
func (p Policy) GFS() bool { return p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0 }

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
	if p.GFS() {
		return applyGFS(sorted, p, now)
	}
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
				d.Keep, d.Reason = false, fmt.Sprintf("beyond the newest %d (%s)", p.Count, p.countSetting())
			}
		case i < minKeep:
			d.Reason = fmt.Sprintf("one of the newest %d kept whatever their age", minKeep)
		case now.Sub(it.Time) > maxAge:
			d.Keep, d.Reason = false, fmt.Sprintf("older than %d days (%s)", p.Days, p.daysSetting())
		default:
			d.Reason = fmt.Sprintf("within %d days", p.Days)
		}
		out[i] = d
	}
	return out
}

// bucket is one GFS rule: the newest backup of each of the last count
// periods that have backups is kept. As in restic, a period only counts
// when a backup falls in it, so a gap in the backups does not use up the
// rule.
type bucket struct {
	name   string // "daily", "weekly", "monthly"
	count  int    // periods left to keep
	total  int
	period func(time.Time) string
	last   string // the period of the last backup this rule kept
}

func applyGFS(sorted []Item, p Policy, now time.Time) []Decision {
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	buckets := []*bucket{
		{name: "daily", count: p.KeepDaily, period: func(t time.Time) string { return t.Format("2006-01-02") }},
		{name: "weekly", count: p.KeepWeekly, period: func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{name: "monthly", count: p.KeepMonthly, period: func(t time.Time) string { return t.Format("2006-01") }},
	}
	for _, b := range buckets {
		b.total = b.count
	}
	maxAge := time.Duration(p.Days) * 24 * time.Hour
	out := make([]Decision, len(sorted))
	for i, it := range sorted {
		var why []string
		if p.Days > 0 && now.Sub(it.Time) <= maxAge {
			why = append(why, fmt.Sprintf("within %d days", p.Days))
		}
		if i < p.Count {
			why = append(why, fmt.Sprintf("one of the newest %d", p.Count))
		}
		t := it.Time.In(loc)
		for _, b := range buckets {
			if b.count == 0 {
				continue
			}
			// Sorted newest first: the first backup seen in a period is
			// its newest.
			if per := b.period(t); per != b.last {
				b.last = per
				b.count--
				why = append(why, fmt.Sprintf("%s %s (%d of %d)", b.name, per, b.total-b.count, b.total))
			}
		}
		d := Decision{Item: it, Keep: len(why) > 0, Reason: strings.Join(why, ", ")}
		if !d.Keep {
			if i == 0 { // unreachable with a GFS rule set, kept as the promise
				d.Keep, d.Reason = true, "the newest backup, never removed"
			} else {
				d.Reason = removedReason(p)
			}
		}
		out[i] = d
	}
	return out
}

// removedReason says which rules a removed backup failed, naming the
// settings, so the operator knows what to change.
func removedReason(p Policy) string {
	var r []string
	if p.Days > 0 {
		r = append(r, fmt.Sprintf("older than %d days (%s)", p.Days, p.daysSetting()))
	}
	if p.Count > 0 {
		r = append(r, fmt.Sprintf("beyond the newest %d (%s)", p.Count, p.countSetting()))
	}
	var g []string
	for _, k := range []struct {
		n    int
		unit string
	}{{p.KeepDaily, "days"}, {p.KeepWeekly, "weeks"}, {p.KeepMonthly, "months"}} {
		switch {
		case k.n == 1:
			g = append(g, "1 "+strings.TrimSuffix(k.unit, "s"))
		case k.n > 1:
			g = append(g, fmt.Sprintf("%d %s", k.n, k.unit))
		}
	}
	r = append(r, "not the newest backup of one of the last "+joinOr(g)+" with backups (BACKUP_KEEP_*)")
	return strings.Join(r, "; ")
}

func joinOr(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
