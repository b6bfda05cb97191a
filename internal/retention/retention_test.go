package retention

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// daily returns n backups made at 02:00 on each of the last n days, the
// newest first: "d0" is today's, "d1" yesterday's, ...
func daily(n int) []Item {
	var items []Item
	for i := 0; i < n; i++ {
		items = append(items, Item{Name: fmt.Sprintf("d%d", i), Time: now.Add(-time.Duration(i) * 24 * time.Hour)})
	}
	return items
}

func kept(ds []Decision) string {
	var k []string
	for _, d := range ds {
		if d.Keep {
			k = append(k, d.Name)
		}
	}
	return strings.Join(k, ",")
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		items []Item
		p     Policy
		want  string
	}{
		// The original backup.sh's default: 7 days, count 0. A backup exactly 7
		// days old is not "older than" 7 days.
		{"defaults keep seven days", daily(10), Policy{Days: 7, Count: 0}, "d0,d1,d2,d3,d4,d5,d6,d7"},
		// "Keep backups for one month, but ensure at least 10 recent backups exist."
		{"month but at least ten, daily", daily(40), Policy{Days: 30, Count: 10}, "d0,d1,d2,d3,d4,d5,d6,d7,d8,d9,d10,d11,d12,d13,d14,d15,d16,d17,d18,d19,d20,d21,d22,d23,d24,d25,d26,d27,d28,d29,d30"},
		{"month but at least ten, all old", shift(daily(12), 100), Policy{Days: 30, Count: 10}, "d0,d1,d2,d3,d4,d5,d6,d7,d8,d9"},
		// BACKUP_RETENTION_DAYS=30 BACKUP_RETENTION_COUNT=5
		{"spec example 30/5 all old", shift(daily(8), 60), Policy{Days: 30, Count: 5}, "d0,d1,d2,d3,d4"},
		{"count only", daily(6), Policy{Days: 0, Count: 3}, "d0,d1,d2"},
		{"both zero keep all", shift(daily(5), 1000), Policy{}, "d0,d1,d2,d3,d4"},
		{"newest kept even if all expired", shift(daily(3), 50), Policy{Days: 7}, "d0"},
		{"empty", nil, Policy{Days: 7}, ""},
		{"unsorted input", []Item{daily(3)[2], daily(3)[0], daily(3)[1]}, Policy{Days: 0, Count: 2}, "d0,d1"},
		{"future timestamp kept", []Item{{Name: "future", Time: now.Add(48 * time.Hour)}, {Name: "old", Time: now.Add(-30 * 24 * time.Hour)}}, Policy{Days: 7}, "future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Apply(tt.items, tt.p, now)
			if k := kept(got); k != tt.want {
				t.Errorf("kept %q, want %q", k, tt.want)
			}
			if len(got) != len(tt.items) {
				t.Errorf("%d decisions for %d items", len(got), len(tt.items))
			}
			for _, d := range got {
				if d.Reason == "" {
					t.Errorf("%s: no reason", d.Name)
				}
			}
			if len(got) > 0 && !got[0].Keep {
				t.Errorf("newest backup %s removed", got[0].Name)
			}
		})
	}
}

func shift(items []Item, days int) []Item {
	for i := range items {
		items[i].Time = items[i].Time.Add(-time.Duration(days) * 24 * time.Hour)
	}
	return items
}

// A policy read from other settings (the offsite one) names them in its
// reasons, in both the days/count rule and the GFS rule's removal reason.
func TestReasonsNameThePolicySettings(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	items := []Item{{Name: "new", Time: now.Add(-time.Hour)}, {Name: "old", Time: now.Add(-40 * 24 * time.Hour)}}
	for _, p := range []Policy{
		{Days: 7, Count: 1},
		{Count: 1},
		{Days: 7, Count: 1, KeepDaily: 1},
	} {
		p.DaysSetting, p.CountSetting = "X_DAYS", "X_COUNT"
		for _, d := range Apply(items, p, now) {
			if d.Keep {
				continue
			}
			if strings.Contains(d.Reason, "BACKUP_RETENTION_") || !strings.Contains(d.Reason, "X_") {
				t.Errorf("policy %+v: removal reason %q does not name the policy's settings", p, d.Reason)
			}
		}
	}
	for _, d := range Apply(items, Policy{Days: 7, Count: 1}, now) {
		if !d.Keep && !strings.Contains(d.Reason, "BACKUP_RETENTION_DAYS") {
			t.Errorf("default names: reason %q", d.Reason)
		}
	}
}
