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
	if _, ok := rows["public.nothing"]; ok || rows["public.directus_files"] != 0 || rows["public.notes"] != 2 {
		t.Errorf("manifest table rows: %v", rows)
	}

	scratch := f.db + "_scan"
	r := f.run("verify", "--restore-test", "--scratch-db", scratch)
	if r.code != 0 || strings.Contains(r.stdout, "ghost.jpg") || strings.Contains(r.stdout, "nothing") {
		t.Fatalf("good backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
