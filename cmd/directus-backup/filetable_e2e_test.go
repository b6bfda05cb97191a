package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/filetable"
)

// The file table checked both ways, at backup time and by verify, on a
// directus_files table shaped like Directus's: one row whose file the
// instance lacks, an orphan file, a thumbnail of an existing row (not an
// orphan) and one of a deleted row (an orphan).
func TestFileTableBothWays(t *testing.T) {
	f := newFixture(t)
	const (
		kept    = "3f1c2b8e-0000-4000-8000-000000000001"
		lost    = "3f1c2b8e-0000-4000-8000-000000000002"
		deleted = "3f1c2b8e-0000-4000-8000-000000000003"
		nested  = "3f1c2b8e-0000-4000-8000-000000000004"
		remote  = "3f1c2b8e-0000-4000-8000-000000000005"
		hash    = "6b1f5d3c0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
	)
	f.execAsUser(f.db, `
ALTER TABLE directus_files ADD COLUMN storage varchar(255) NOT NULL DEFAULT 'local';
INSERT INTO directus_files (id, storage, filename_disk, filesize) VALUES
  ('`+kept+`', 'local', '`+kept+`.jpg', 5),
  ('`+lost+`', 'local', '`+lost+`.png', 5),
  ('`+nested+`', 'local', 'folder/`+nested+`.pdf', 5),
  ('`+remote+`', 's3', '`+remote+`.jpg', 5),
  ('`+deleted+`', 'local', NULL, NULL);`)
	os.RemoveAll(f.uploads)
	thumb := kept + "__" + hash + ".webp"
	orphanThumb := deleted + "__" + hash + ".jpg"
	writeTree(t, f.uploads, map[string]string{
		kept + ".jpg":               "jpeg bytes",
		"folder/" + nested + ".pdf": "pdf bytes",
		thumb:                       "a thumbnail of an existing row",
		orphanThumb:                 "a thumbnail of a deleted row",
		"stray.txt":                 "no row",
	})

	var b struct {
		OK        bool
		Name      string
		FileTable filetable.Report `json:"file_table"`
	}
	r := f.run("backup", "--json")
	mustJSON(t, "backup --json", r, &b)
	if r.code != 0 || !b.OK {
		t.Fatalf("backup with a missing file and orphans: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	loc, ok := b.FileTable.Location("local")
	wantOrphans := []string{orphanThumb, "stray.txt"}
	if !ok || !slices.Equal(loc.Missing, []string{lost + ".png"}) || !slices.Equal(sorted(loc.Orphans), wantOrphans) ||
		loc.Thumbnails != 1 || loc.Rows != 3 || b.FileTable.NotChecked["s3"] != 1 {
		t.Errorf("backup --json file_table: %+v", b.FileTable)
	}
	warn := `WARN: Directus storage location "local": 1 directus_files row whose file is missing: "` + lost + `.png"; 2 files with no directus_files row:`
	if !strings.Contains(r.stderr, warn) {
		t.Errorf("no WARN line for the location:\n%s", r.stderr)
	}
	backup := filepath.Join(f.backups, b.Name)
	m, _ := readManifest(t, backup)
	if ft := m.FileTable; ft == nil || len(ft.Locations) != 1 || ft.Locations[0].Missing != 1 || ft.Locations[0].Orphans != 2 ||
		!slices.Equal(ft.Locations[0].MissingFirst, []string{lost + ".png"}) || !slices.Equal(sorted(ft.Locations[0].OrphansFirst), wantOrphans) {
		t.Errorf("manifest file_table: %+v", m.FileTable)
	}

	// verify: the same, as notes; the backup is whole.
	r = f.run("verify", b.Name)
	if r.code != 0 || !strings.Contains(r.stdout, "note: Directus storage location \"local\": 1 directus_files row whose file is missing: \""+lost+".png\" (already missing at the source") ||
		!strings.Contains(r.stdout, "note: Directus storage location \"local\": 2 files with no directus_files row: ") ||
		!strings.Contains(r.stdout, orphanThumb) || strings.Contains(r.stdout, thumb) {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Text names the first few, --json all of them.
	for i := 0; i < 6; i++ {
		writeTree(t, f.uploads, map[string]string{"more/stray" + string(rune('a'+i)) + ".txt": "no row"})
	}
	r = f.run("backup", "--json")
	mustJSON(t, "second backup --json", r, &b)
	loc, _ = b.FileTable.Location("local")
	if r.code != 0 || len(loc.Orphans) != 8 {
		t.Errorf("second backup: exit %d, orphans %q", r.code, loc.Orphans)
	}
	var v struct {
		OK      bool
		Backups []struct {
			Notes     []string
			FileTable filetable.Report `json:"file_table"`
		}
	}
	r = f.run("verify", "--json", b.Name)
	mustJSON(t, "verify --json", r, &v)
	if r.code != 0 || !v.OK || len(v.Backups) != 1 {
		t.Fatalf("verify --json: exit %d\n%s", r.code, r.stdout)
	}
	loc, _ = v.Backups[0].FileTable.Location("local")
	if len(loc.Orphans) != 8 || !slices.Contains(loc.Orphans, "more/strayf.txt") || !slices.Equal(loc.Missing, []string{lost + ".png"}) ||
		!strings.Contains(strings.Join(v.Backups[0].Notes, "\n"), "8 files with no directus_files row") ||
		!strings.Contains(strings.Join(v.Backups[0].Notes, "\n"), "and 3 more") {
		t.Errorf("verify --json: %+v", v.Backups[0])
	}

	// A file the backup held and lost since is damage, as before.
	if err := os.Remove(filepath.Join(backup, "uploads", kept+".jpg")); err != nil {
		t.Fatal(err)
	}
	r = f.run("verify", filepath.Base(backup))
	if r.code != exitProblems || !strings.Contains(r.stdout, "directus-missing-file: uploads/"+kept+".jpg") ||
		strings.Contains(r.stdout, "directus-missing-file: uploads/"+lost) {
		t.Errorf("verify after deleting a file from the backup: exit %d, want %d\n%s", r.code, exitProblems, r.stdout)
	}
}

// Each storage location a backup holds is checked against the rows that
// name it: a second local location (storage/archive/) as the default one.
func TestFileTableSecondLocation(t *testing.T) {
	f := newFixture(t)
	const (
		here = "6a1c2b8e-0000-4000-8000-000000000001"
		gone = "6a1c2b8e-0000-4000-8000-000000000002"
	)
	archive := filepath.Join(f.dir, "archive")
	writeTree(t, archive, map[string]string{here + ".pdf": "pdf bytes", "stray.bin": "no row"})
	f.env["STORAGE_LOCATIONS"] = "local,archive"
	f.env["STORAGE_ARCHIVE_DRIVER"] = "local"
	f.env["STORAGE_ARCHIVE_ROOT"] = archive
	f.execAsUser(f.db, `
ALTER TABLE directus_files ADD COLUMN storage varchar(255) NOT NULL DEFAULT 'local';
INSERT INTO directus_files (id, storage, filename_disk, filesize) VALUES
  ('`+here+`', 'archive', '`+here+`.pdf', 9),
  ('`+gone+`', 'archive', '`+gone+`.pdf', 9);`)

	var b struct {
		Name      string
		FileTable filetable.Report `json:"file_table"`
	}
	r := f.run("backup", "--json")
	mustJSON(t, "backup --json", r, &b)
	loc, ok := b.FileTable.Location("archive")
	if r.code != 0 || !ok || loc.Rows != 2 || !slices.Equal(loc.Missing, []string{gone + ".pdf"}) ||
		!slices.Equal(loc.Orphans, []string{"stray.bin"}) || b.FileTable.NotChecked["archive"] != 0 {
		t.Fatalf("backup: exit %d, file_table %+v\n%s", r.code, b.FileTable, r.stderr)
	}
	if !strings.Contains(r.stderr, `WARN: Directus storage location "archive": 1 directus_files row whose file is missing`) {
		t.Errorf("no WARN line for archive:\n%s", r.stderr)
	}
	r = f.run("verify", b.Name)
	if r.code != 0 || !strings.Contains(r.stdout, `note: Directus storage location "archive": 1 directus_files row whose file is missing: "`+gone+`.pdf" (already missing at the source`) {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The file the backup held, lost from storage/archive/ since: damage.
	if err := os.Remove(filepath.Join(f.backups, b.Name, "storage", "archive", here+".pdf")); err != nil {
		t.Fatal(err)
	}
	r = f.run("verify", b.Name)
	if r.code != exitProblems || !strings.Contains(r.stdout, "directus-missing-file: storage/archive/"+here+".pdf") {
		t.Errorf("verify after deleting storage/archive/%s.pdf: exit %d, want %d\n%s", here, r.code, exitProblems, r.stdout)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
