package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Text that looks like COPY blocks, written by pg_dump inside multi-line
// string literals (a table comment, a column default) and a function body:
// the backup must record only the real tables, and verify --restore-test
// must pass on the good backup without Directus problems from a fake
// directus_files block.
func TestDumpScanFakeCopyInStrings(t *testing.T) {
	f := newFixture(t)
	fake := "COPY public.nothing (id) FROM stdin;\n1\n2\n\\.\n" +
		"COPY public.directus_files (id, filename_disk, filesize) FROM stdin;\n" +
		"00000000-0000-0000-0000-000000000001\tghost.jpg\t1\n\\.\n"
	f.execAsUser(f.db, `
COMMENT ON TABLE directus_files IS 'Files of the project; it''s like this:
`+fake+`';
CREATE TABLE notes (id int PRIMARY KEY, body text DEFAULT 'first line;
`+fake+`last line');
INSERT INTO notes (id) VALUES (1), (2);
CREATE TABLE "odd (name" ("a, b" int);
INSERT INTO "odd (name" VALUES (1), (2), (3);
CREATE FUNCTION note_template() RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN $$x;
`+fake+`$$;
END
$fn$;
`)
	b := f.mustBackup()

	var m struct {
		Database struct {
			TableRows map[string]int64 `json:"table_rows"`
		} `json:"database"`
	}
	data, err := os.ReadFile(filepath.Join(b, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	rows := m.Database.TableRows
	if _, ok := rows["public.nothing"]; ok || rows["public.directus_files"] != 0 || rows["public.notes"] != 2 || rows[`public."odd (name"`] != 3 {
		t.Errorf("manifest table rows: %v", rows)
	}

	scratch := f.db + "_scan"
	r := f.run("verify", "--restore-test", "--scratch-db", scratch)
	if r.code != 0 || strings.Contains(r.stdout, "ghost.jpg") || strings.Contains(r.stdout, "nothing") {
		t.Fatalf("good backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A manifest written before the scanner read pg_dump's quoting can list a
// "table" that was only text in a comment: the restore test reports it as
// one problem and still checks the rest, instead of failing to count.
func TestRestoreTestManifestTableMissing(t *testing.T) {
	f := newFixture(t)
	b := f.mustBackup()
	mpath := filepath.Join(b, "manifest.json")
	data, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["database"].(map[string]any)["table_rows"].(map[string]any)["public.nothing"] = 2
	data, _ = json.Marshal(m)
	if err := os.WriteFile(mpath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := f.run("verify", "--restore-test", "--scratch-db", f.db+"_scan")
	if r.code != exitProblems || !strings.Contains(r.stdout, "public.nothing: the restored database has no such table") ||
		!strings.Contains(r.stdout, "directus_users = 40") || strings.Contains(r.stdout, "could not check") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
