package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin for the names, whatever the machine has

	"github.com/directus-backup/directus-backup/internal/repo"
)

// prune --dry-run --json with BACKUP_KEEP_* names the rule that keeps each
// backup, counts days, weeks and months in local time (TZ), and prune then
// removes exactly what the dry run listed.
func TestPruneGFS(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	b := newBare(t)
	// The binary reads TZ from the Go distribution's zone database, so the
	// test does not depend on /usr/share/zoneinfo.
	b.env = append(b.env, "TZ=Europe/Berlin", "ZONEINFO="+filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip"),
		"BACKUP_RETENTION_DAYS=0", "BACKUP_KEEP_DAILY=2", "BACKUP_KEEP_WEEKLY=2", "BACKUP_KEEP_MONTHLY=2")
	// Fixed dates: GFS counts from the newest backup, not from today. At
	// 00:30 Berlin time each backup is still on the previous day in UTC, so
	// counting in UTC would pick other backups.
	mk := func(m time.Month, d, h, min int) string {
		tm := time.Date(2026, m, d, h, min, 0, 0, loc)
		name := repo.BackupName(tm.Format("2006-01-02_15-04-05"), tm.Unix())
		p := filepath.Join(b.backups, name)
		if err := os.MkdirAll(filepath.Join(p, "uploads"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, repo.DumpGzip), []byte("not checked by prune"), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	newest := mk(11, 4, 0, 30) // Wednesday, ISO week 45
	noon := mk(11, 3, 12, 0)
	morning := mk(11, 3, 0, 30) // same day as noon, older
	sunday := mk(11, 1, 0, 30)  // ends week 44; October 31 in UTC
	oct31 := mk(10, 31, 0, 30)
	removed := []string{morning, mk(10, 25, 0, 30), mk(10, 20, 0, 30), mk(9, 30, 0, 30), mk(9, 15, 0, 30)}
	b.setLatest(newest)
	wantReasons := map[string]string{
		newest:     "daily 2026-11-04 (1 of 2), weekly 2026-W45 (1 of 2), monthly 2026-11 (1 of 2)",
		noon:       "daily 2026-11-03 (2 of 2)",
		sunday:     "weekly 2026-W44 (2 of 2)",
		oct31:      "monthly 2026-10 (2 of 2)",
		removed[0]: "not the newest backup of one of the last 2 days, 2 weeks or 2 months with backups (BACKUP_KEEP_*)",
	}
	before := listDir(t, b.backups)

	r := b.run("prune", "--dry-run", "--json")
	var doc cleanupDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("prune --dry-run --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if after := listDir(t, b.backups); after != before {
		t.Fatalf("a dry run changed BACKUPS_DIR:\nbefore %s\nafter  %s", before, after)
	}
	wantKept := []string{newest, noon, sunday, oct31}
	sort.Strings(wantKept)
	sort.Strings(removed)
	sort.Strings(doc.Kept)
	sort.Strings(doc.Expired)
	if fmt.Sprint(doc.Kept) != fmt.Sprint(wantKept) || fmt.Sprint(doc.Expired) != fmt.Sprint(removed) {
		t.Errorf("kept %v\nwant %v\nexpired %v\nwant    %v", doc.Kept, wantKept, doc.Expired, removed)
	}
	for n, want := range wantReasons {
		if doc.Reasons[n] != want {
			t.Errorf("%s: reason %q, want %q", n, doc.Reasons[n], want)
		}
	}

	// The text form says the same, one line per backup.
	r = b.run("prune", "--dry-run")
	for _, want := range []string{"keep          " + sunday + "  weekly 2026-W44 (2 of 2)",
		"would remove  " + morning + "  not the newest backup"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}

	if r := b.run("prune"); r.code != 0 {
		t.Fatalf("prune: exit %d\n%s", r.code, r.stderr)
	}
	var left []string
	for _, e := range strings.Fields(listDir(t, b.backups)) {
		if e != repo.LatestLink {
			left = append(left, e)
		}
	}
	sort.Strings(left)
	if fmt.Sprint(left) != fmt.Sprint(wantKept) {
		t.Errorf("after prune: %v, want %v", left, wantKept)
	}
}

// backup --retention-dry-run with a GFS rule: the backup is made, nothing
// is removed, and the summary names the monthly rule that keeps each
// backup; the plain backup that follows removes just what it listed.
func TestBackupRetentionDryRunGFS(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_RETENTION_DAYS"] = "0"
	f.env["BACKUP_KEEP_MONTHLY"] = "2"
	ts := func(m time.Month, d int) int64 { return time.Date(2025, m, d, 2, 0, 0, 0, time.UTC).Unix() }
	oct := makeLegacyBackup(t, f, ts(10, 15), false)
	sep2 := makeLegacyBackup(t, f, ts(9, 20), false)
	sep1 := makeLegacyBackup(t, f, ts(9, 10), false)

	r := f.run("backup", "--retention-dry-run")
	if r.code != 0 {
		t.Fatalf("backup --retention-dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	made := filepath.Base(f.latest())
	month := time.Unix(f.ts, 0).UTC().Format("2006-01") // the fixture runs with TZ=UTC
	for _, want := range []string{"dry run: nothing was removed",
		"keep          " + made + "  monthly " + month + " (1 of 2)",
		"keep          " + oct + "  monthly 2025-10 (2 of 2)",
		"would remove  " + sep2 + "  not the newest backup of one of the last 2 months",
		"would remove  " + sep1 + " "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, n := range []string{oct, sep2, sep1} {
		if _, err := os.Stat(filepath.Join(f.backups, n)); err != nil {
			t.Fatalf("the dry run removed %s: %v", n, err)
		}
	}

	// A second backup in the same month replaces the first as the month's
	// newest; the first goes, as do September's.
	if r := f.run("backup", "--timestamp", fmt.Sprint(f.ts+60)); r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	got := strings.Join(f.backupNames(), ",")
	if want := oct + "," + filepath.Base(f.latest()); got != want {
		t.Errorf("after a plain backup: %s, want %s", got, want)
	}
}
