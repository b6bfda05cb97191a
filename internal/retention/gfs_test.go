package retention

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin whatever the machine has installed
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at names a backup by its local date and time, as backup folders are named.
func at(loc *time.Location, y int, m time.Month, d, h, min int) Item {
	tm := time.Date(y, m, d, h, min, 0, 0, loc)
	return Item{Name: tm.Format("2006-01-02_15-04"), Time: tm}
}

// year is one backup a day at 00:30 Berlin time from 2025-12-01 to
// 2026-12-06 (a Sunday), across both DST changes. At 00:30 local time the
// backup is still on the previous day in UTC, so counting days, weeks and
// months in the wrong zone picks different backups.
func year(loc *time.Location) []Item {
	var items []Item
	for d := time.Date(2025, 12, 1, 0, 30, 0, 0, loc); !d.After(time.Date(2026, 12, 6, 0, 30, 0, 0, loc)); d = d.AddDate(0, 0, 1) {
		items = append(items, Item{Name: d.Format("2006-01-02_15-04"), Time: d})
	}
	return items
}

func keptSet(ds []Decision) []string {
	var k []string
	for _, d := range ds {
		if d.Keep {
			k = append(k, d.Name)
		}
	}
	sort.Strings(k)
	return k
}

func TestGFSYear(t *testing.T) {
	loc := berlin(t)
	items := year(loc)
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, loc)
	p := Policy{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12, Location: loc}
	got := Apply(items, p, now)

	// Listed by hand from a calendar. Daily: the last 7 days. Weekly: the
	// Sundays ending the last 4 ISO weeks (2026-12-06 is a Sunday).
	// Monthly: the last day of each of the last 12 months, December 2026's
	// being the 6th; December 2025 is the 13th month and goes.
	want := []string{
		"2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06", // daily
		"2026-11-15", "2026-11-22", "2026-11-29", // weekly (and 2026-12-06)
		"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30", // monthly
		"2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", // (and 2026-11-30, 2026-12-06)
	}
	for i := range want {
		want[i] += "_00-30"
	}
	sort.Strings(want)
	if k := keptSet(got); strings.Join(k, " ") != strings.Join(want, " ") {
		t.Errorf("kept %d:\n%v\nwant %d:\n%v", len(k), k, len(want), want)
	}
	if e := expectedGFS(items, p, loc); strings.Join(e, " ") != strings.Join(want, " ") {
		t.Errorf("the independent computation disagrees with the hand list:\n%v", e)
	}

	reasons := map[string]string{}
	for _, d := range got {
		reasons[d.Name] = d.Reason
	}
	for name, want := range map[string]string{
		"2026-12-06_00-30": "daily 2026-12-06 (1 of 7), weekly 2026-W49 (1 of 4), monthly 2026-12 (1 of 12)",
		"2026-12-04_00-30": "daily 2026-12-04 (3 of 7)",
		"2026-11-30_00-30": "daily 2026-11-30 (7 of 7), monthly 2026-11 (2 of 12)",
		"2026-11-15_00-30": "weekly 2026-W46 (4 of 4)",
		"2026-01-31_00-30": "monthly 2026-01 (12 of 12)",
		"2025-12-31_00-30": "not the newest backup of one of the last 7 days, 4 weeks or 12 months with backups (BACKUP_KEEP_*)",
	} {
		if reasons[name] != want {
			t.Errorf("%s: reason %q, want %q", name, reasons[name], want)
		}
	}
}

// expectedGFS is a second, plain computation of the GFS rules: group the
// backups by period (weeks found by stepping back to the Monday), take the
// newest of each group, and keep those of the newest N groups.
func expectedGFS(items []Item, p Policy, loc *time.Location) []string {
	keep := map[string]bool{}
	rule := func(n int, key func(time.Time) time.Time) {
		newest := map[time.Time]Item{}
		for _, it := range items {
			k := key(it.Time.In(loc))
			if cur, ok := newest[k]; !ok || it.Time.After(cur.Time) {
				newest[k] = it
			}
		}
		var keys []time.Time
		for k := range newest {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].After(keys[j]) })
		for i := 0; i < n && i < len(keys); i++ {
			keep[newest[keys[i]].Name] = true
		}
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC) }
	rule(p.KeepDaily, day)
	rule(p.KeepWeekly, func(t time.Time) time.Time { return day(t).AddDate(0, 0, -(int(t.Weekday())+6)%7) })
	rule(p.KeepMonthly, func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) })
	var out []string
	for n := range keep {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// The same, in UTC: the year's backups at 00:30 Berlin fall on the
// previous UTC day, so the monthly picks are the first of each month.
func TestGFSZone(t *testing.T) {
	loc := berlin(t)
	items := year(loc)
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, loc)
	got := keptSet(Apply(items, Policy{KeepMonthly: 3, Location: time.UTC}, now))
	want := []string{"2026-11-01_00-30", "2026-12-01_00-30", "2026-12-06_00-30"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("monthly 3 in UTC kept %v, want %v", got, want)
	}
	got = keptSet(Apply(items, Policy{KeepMonthly: 3, Location: loc}, now))
	want = []string{"2026-10-31_00-30", "2026-11-30_00-30", "2026-12-06_00-30"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("monthly 3 in Berlin kept %v, want %v", got, want)
	}
}

func TestGFSEdges(t *testing.T) {
	loc := berlin(t)
	b := func(m time.Month, d, h int) Item { return at(loc, 2026, m, d, h, 0) }
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, loc)
	tests := []struct {
		name    string
		items   []Item
		p       Policy
		want    string
		reasons map[string]string
	}{
		// A gap does not use up the rule: the last 3 days that have backups.
		{"gap in days", []Item{b(12, 10, 2), b(12, 9, 2), b(12, 5, 2), b(12, 1, 2), b(11, 20, 2)},
			Policy{KeepDaily: 3}, "2026-12-05_02-00 2026-12-09_02-00 2026-12-10_02-00", nil},
		// Two backups the same day: the newer one stands for the day.
		{"two the same day", []Item{b(12, 10, 2), b(12, 10, 14), b(12, 9, 2), b(12, 9, 14), b(12, 8, 14)},
			Policy{KeepDaily: 2}, "2026-12-09_14-00 2026-12-10_14-00", nil},
		// N = 0 turns a rule off; the others still apply.
		{"daily 0 weekly 2", []Item{b(12, 10, 2), b(12, 9, 2), b(12, 6, 2), b(12, 5, 2), b(11, 29, 2)},
			Policy{KeepDaily: 0, KeepWeekly: 2}, "2026-12-06_02-00 2026-12-10_02-00", nil},
		// The days rule and the count floor add to the GFS rules.
		{"union with days", []Item{b(12, 10, 2), b(12, 9, 2), b(12, 1, 2), b(11, 30, 2), b(11, 2, 2)},
			Policy{Days: 2, KeepMonthly: 1}, "2026-12-09_02-00 2026-12-10_02-00", map[string]string{
				"2026-12-10_02-00": "within 2 days, monthly 2026-12 (1 of 1)",
				"2026-12-09_02-00": "within 2 days",
				"2026-11-30_02-00": "older than 2 days (BACKUP_RETENTION_DAYS); not the newest backup of one of the last 1 month with backups (BACKUP_KEEP_*)"}},
		{"union with count", []Item{b(12, 10, 2), b(12, 10, 1), b(12, 9, 2), b(11, 30, 2), b(10, 2, 2)},
			Policy{Count: 3, KeepMonthly: 2}, "2026-11-30_02-00 2026-12-09_02-00 2026-12-10_01-00 2026-12-10_02-00", map[string]string{
				"2026-12-10_01-00": "one of the newest 3",
				"2026-11-30_02-00": "monthly 2026-11 (2 of 2)",
				"2026-10-02_02-00": "beyond the newest 3 (BACKUP_RETENTION_COUNT); not the newest backup of one of the last 2 months with backups (BACKUP_KEEP_*)"}},
		// Days = 0 with a GFS rule is no age rule, not "keep all".
		{"days 0 is no age rule", []Item{b(12, 10, 2), b(12, 9, 2), b(12, 8, 2)},
			Policy{KeepDaily: 1}, "2026-12-10_02-00", nil},
		{"empty", nil, Policy{KeepDaily: 7}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Location = loc
			got := Apply(tt.items, tt.p, now)
			if k := strings.Join(keptSet(got), " "); k != tt.want {
				t.Errorf("kept %q, want %q", k, tt.want)
			}
			if e := strings.Join(expectedUnion(tt.items, tt.p, loc, now), " "); e != tt.want {
				t.Errorf("independent computation keeps %q, want %q", e, tt.want)
			}
			for _, d := range got {
				if d.Reason == "" {
					t.Errorf("%s: no reason", d.Name)
				}
				if w, ok := tt.reasons[d.Name]; ok && d.Reason != w {
					t.Errorf("%s: reason %q, want %q", d.Name, d.Reason, w)
				}
			}
			if len(got) > 0 && !got[0].Keep {
				t.Errorf("newest backup %s removed", got[0].Name)
			}
		})
	}
}

// expectedUnion adds the days rule and the count floor to expectedGFS.
func expectedUnion(items []Item, p Policy, loc *time.Location, now time.Time) []string {
	keep := map[string]bool{}
	for _, n := range expectedGFS(items, p, loc) {
		keep[n] = true
	}
	s := append([]Item(nil), items...)
	sort.Slice(s, func(i, j int) bool { return s[i].Time.After(s[j].Time) })
	for i, it := range s {
		if i < p.Count || (p.Days > 0 && !it.Time.Before(now.AddDate(0, 0, -p.Days))) {
			keep[it.Name] = true
		}
	}
	var out []string
	for n := range keep {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// With no GFS rule set the original policy is untouched, whatever the zone.
func TestGFSOffIsOriginal(t *testing.T) {
	items := daily(40)
	for _, p := range []Policy{{Days: 7}, {Days: 30, Count: 10}, {Count: 3}, {}} {
		a := Apply(items, p, now)
		p.Location = time.FixedZone("x", 13*3600)
		b := Apply(items, p, now)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%+v: the zone changed the original policy", p)
		}
	}
}
