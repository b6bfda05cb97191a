package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --yes is about the database and --delete about the uploads; --force,
// deprecated, still means both. --json prints one document on stdout.
func TestRestoreYesDeleteForceJSON(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	wantDB := f.tableData(f.db)
	extra := filepath.Join(f.uploads, "made after the backup.txt")
	addExtra := func() {
		t.Helper()
		if err := os.WriteFile(extra, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addExtra()
	f.execAsUser(f.db, "UPDATE articles SET title = 'after the backup' WHERE id = 1")

	r := f.run("restore", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "kept 1 items not in the backup (--delete removes them)") {
		t.Fatalf("restore --yes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	compareData(t, "after restore --yes", f.tableData(f.db), wantDB)
	if _, err := os.Lstat(extra); err != nil {
		t.Errorf("--yes removed an upload not in the backup: %v", err)
	}

	r = f.run("restore", "--uploads", "--delete", "--json")
	var doc struct {
		Backup   string
		OK       bool
		Database *struct{}
		Uploads  *struct {
			Target  string
			Removed int64
			Kept    int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("restore --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if !doc.OK || doc.Backup == "" || doc.Database != nil || doc.Uploads == nil || doc.Uploads.Removed != 1 || doc.Uploads.Target != f.uploads {
		t.Errorf("restore --json document: %s", r.stdout)
	}
	if _, err := os.Lstat(extra); err == nil {
		t.Error("--delete kept an upload not in the backup")
	}

	addExtra()
	f.execAsUser(f.db, "UPDATE articles SET title = 'after the backup' WHERE id = 1")
	if r = f.run("restore", "--force"); r.code != 0 {
		t.Fatalf("restore --force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	compareData(t, "after restore --force", f.tableData(f.db), wantDB)
	if _, err := os.Lstat(extra); err == nil {
		t.Error("--force kept an upload not in the backup")
	}
	if r = f.run("restore", "--help"); !strings.Contains(r.stdout, "deprecated: --yes and --delete together") {
		t.Errorf("restore --help does not mark --force deprecated:\n%s", r.stdout)
	}
}
