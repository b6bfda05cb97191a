package offsite

import (
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/retention"
)

// With a local retention longer than the offsite one, push --all must not
// bring back what offsite prune removed (and prune would remove again).
func TestWorthPushingSkipsWhatRetentionWouldRemove(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := &Remote{Retention: retention.Policy{Days: 3, Count: 2}, Now: func() time.Time { return now }}
	var local []repo.Backup
	var bucket []string
	for d := 10; d >= 0; d-- { // one backup a day, 10 days ago to today
		ts := now.Add(-time.Duration(d) * 24 * time.Hour)
		name := repo.BackupName(ts.Format("2006-01-02"), ts.Unix())
		local = append(local, repo.Backup{Name: name, Time: time.Unix(ts.Unix(), 0)})
		if d >= 1 && d <= 2 {
			bucket = append(bucket, name) // yesterday's and the day before's are offsite
		}
	}
	got := r.worthPushing(local, bucket)
	var names []string
	for _, b := range got {
		names = append(names, b.Name)
	}
	// Within 3 days: 3, 2, 1 days ago and today; 2 and 1 are in the bucket
	// already but stay in the plan (push skips them as already there).
	if len(got) != 4 || got[len(got)-1].Name != local[len(local)-1].Name {
		t.Fatalf("worth pushing: %v", names)
	}
	for _, b := range got {
		if now.Sub(b.Time) > 3*24*time.Hour {
			t.Errorf("%s is older than the offsite retention and was planned", b.Name)
		}
	}
	r.Retention = retention.Policy{}
	if n := len(r.worthPushing(local, bucket)); n != len(local) {
		t.Errorf("with no retention limit %d of %d planned", n, len(local))
	}
}
