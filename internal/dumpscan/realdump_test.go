package dumpscan

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/testpg"
)

// trickySQL holds, in the places where pg_dump writes multi-line text,
// lines that look like COPY blocks, and names that need quoting.
const trickySQL = `
CREATE SCHEMA "Weird Schema";
CREATE TABLE directus_files (id int PRIMARY KEY, filename_disk text,
  note text DEFAULT 'a;
COPY public.fake_default (id) FROM stdin;
1
\.
');
INSERT INTO directus_files VALUES (1, 'real.jpg'), (2, 'also real.png');
COMMENT ON TABLE directus_files IS 'Files; it''s like:
COPY public.directus_files (id, filename_disk) FROM stdin;
9	ghost.jpg
\.
/* not a comment -- nor this $$ nor "this"';
COMMENT ON COLUMN directus_files.note IS E'backslash \\ and quote \' here;\nCOPY public.fake_e (id) FROM stdin;\n\\.\n';
CREATE TABLE "Weird Schema"."My Table" ("a, b" int, "q""t" text);
INSERT INTO "Weird Schema"."My Table" VALUES (1, 'x'), (2, E'two\nlines\\.'), (3, '\.');
CREATE TABLE "odd (name" (id int);
INSERT INTO "odd (name" SELECT generate_series(1, 5);
CREATE TABLE "semi;colon FROM stdin;" (id int);
INSERT INTO "semi;colon FROM stdin;" VALUES (1);
CREATE TABLE "new
line" (id int);
INSERT INTO "new
line" VALUES (1), (2);
CREATE TABLE "select" (id int);
CREATE TABLE "Ünïcødé" (id int);
INSERT INTO "Ünïcødé" VALUES (7);
CREATE FUNCTION body_fn() RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN $q$x;
COPY public.fake_dollar (id) FROM stdin;
1
\.
$q$ || 'it''s';
END
$fn$;
CREATE FUNCTION atomic_fn() RETURNS text LANGUAGE sql
BEGIN ATOMIC
  SELECT 'y;
COPY public.fake_atomic (id) FROM stdin;
\.
';
END;
CREATE VIEW v AS SELECT 'z;
COPY public.fake_view (id) FROM stdin;
\.
'::text AS t;
CREATE DOMAIN d AS text CHECK (VALUE <> 'w;
COPY public.fake_domain (id) FROM stdin;
\.
');
CREATE TABLE log (id int, msg d);
INSERT INTO log VALUES (1, 'ok');
CREATE RULE r AS ON INSERT TO log DO ALSO (SELECT 1; SELECT 'v;
COPY public.fake_rule (id) FROM stdin;
\.
');
`

// TestRealDump scans what pg_dump writes for trickySQL: the tables and
// row counts must be the catalog's, and directus_files's rows the real ones.
func TestRealDump(t *testing.T) {
	pg := testpg.Get(t)
	db := testpg.UniqueName("dumpscan")
	pg.CreateDB(t, db, "")
	pg.MustExec(t, db, trickySQL)

	// Every ordinary table, named as pg_dump names it, with its row count.
	want := map[string]int64{}
	list := pg.MustExec(t, db, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
	for _, name := range splitNames(list) {
		n, err := strconv.ParseInt(pg.MustExec(t, db, "SELECT count(*) FROM "+name), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = n
	}

	s := New()
	s.Want = func(table string) bool { return table == "public.directus_files" }
	var files []string
	s.OnRow = func(_ string, cols []string, line []byte) {
		if v, ok := Field(line, 1); ok && cols[1] == "filename_disk" {
			files = append(files, v)
		}
	}
	cmd := exec.Command("pg_dump", "-d", db)
	cmd.Env = pg.Env()
	cmd.Stdout = s
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	if len(s.Rows) != len(want) {
		t.Errorf("tables: got %v, want %v", s.Rows, want)
	}
	for name, n := range want {
		if got, ok := s.Rows[name]; !ok || got != n {
			t.Errorf("%q: got %d (listed %v), want %d", name, got, ok, n)
		}
	}
	if strings.Join(files, "|") != "real.jpg|also real.png" {
		t.Errorf("directus_files rows: %q", files)
	}
}

// splitNames splits psql's one-name-a-line output, where a quoted name
// may itself hold a newline.
func splitNames(out string) []string {
	var names []string
	start, quoted := 0, false
	for i := 0; i < len(out); i++ {
		switch out[i] {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				names = append(names, out[start:i])
				start = i + 1
			}
		}
	}
	return append(names, out[start:])
}
