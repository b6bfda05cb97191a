package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/testpg"
)

// The end-to-end tests run the real binary, built once in TestMain, as a
// subprocess: real environment, real exit codes, real signals.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "directus-backup-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // runnable by the non-root user of some tests
	binPath = filepath.Join(dir, "directus-backup")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build directus-backup: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is one deployment: a database with its own role and password, an
// uploads folder, and a working folder holding the backups.
type fixture struct {
	t        *testing.T
	pg       testpg.Server
	dir      string
	db, user string
	password string
	uploads  string
	backups  string
	env      map[string]string
	path     string // PATH for runs
	ts       int64
}

// seedSQL creates content that a restore must bring back exactly.
const seedSQL = `
CREATE EXTENSION citext;
CREATE TABLE tags (name citext PRIMARY KEY);
INSERT INTO tags VALUES ('Go'), ('PostgreSQL'), ('Ünïcødé');
CREATE TABLE directus_users (id uuid PRIMARY KEY, email text UNIQUE NOT NULL, first_name text, status text DEFAULT 'active');
CREATE TABLE directus_files (id uuid PRIMARY KEY, filename_disk text, filesize bigint);
CREATE TABLE articles (
  id serial PRIMARY KEY,
  author uuid REFERENCES directus_users(id),
  title text NOT NULL,
  body text,
  data jsonb,
  tags text[],
  raw bytea,
  price numeric(12,2),
  published timestamptz
);
CREATE INDEX articles_title_idx ON articles (title);
CREATE VIEW published_articles AS SELECT id, title FROM articles WHERE published IS NOT NULL;
CREATE FUNCTION article_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM articles';
INSERT INTO directus_users SELECT md5(i::text)::uuid, 'user'||i||'@example.com', 'Ünïcødé ' || i || ' 日本', 'active' FROM generate_series(1,40) i;
INSERT INTO articles (author, title, body, data, tags, raw, price, published)
  SELECT md5((i % 40 + 1)::text)::uuid, 'Title ' || i || E' with \t tab and \\ backslash',
         repeat('lorem ipsum ', i % 50), jsonb_build_object('i', i, 'nested', jsonb_build_object('q', 'quote"s')),
         ARRAY['a', 'b c', NULL], decode(md5(i::text), 'hex'), i * 1.25,
         CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute' END
  FROM generate_series(1,3000) i;
INSERT INTO articles (title, body) VALUES ('big', repeat('x', 2000000));
SELECT setval('articles_id_seq', 5000);
`

// tables are compared row by row after a restore.
var tables = []string{"directus_users", "directus_files", "articles", "tags"}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pg := testpg.Get(t)
	f := &fixture{
		t: t, pg: pg, dir: t.TempDir(),
		db:       testpg.UniqueName("directus"),
		user:     testpg.UniqueName("app"),
		password: "S3cret-" + testpg.UniqueName("pw") + "-'\"$x",
		ts:       time.Now().Unix() - 3600,
	}
	f.pg.CreateRole(t, f.user, strings.ReplaceAll(f.password, "'", "''"))
	f.pg.CreateDB(t, f.db, f.user)
	f.execAsUser(f.db, seedSQL)

	f.uploads = filepath.Join(f.dir, "directus", "uploads")
	f.backups = filepath.Join(f.dir, "directus", "data", "backups")
	writeTree(t, f.uploads, map[string]string{
		"a.jpg":                 "jpeg bytes",
		"a.b":                   "dot",
		"a/b.txt":               "nested",
		"sub dir/ünïcødé 名.png": "unicode name",
		"sub dir/deep/x.bin":    strings.Repeat("0123456789", 100000),
	})
	os.MkdirAll(filepath.Join(f.uploads, "empty"), 0o755)
	os.Chmod(filepath.Join(f.uploads, "a.b"), 0o600)
	os.Symlink("a.jpg", filepath.Join(f.uploads, "link-to-a"))
	f.env = map[string]string{
		"DB_HOST":            pg.Host,
		"DB_PORT":            pg.Port,
		"DB_DATABASE":        f.db,
		"DB_USER":            f.user,
		"DB_PASSWORD":        f.password,
		"BACKUPS_DIR":        "./directus/data/backups", // relative, as in the specification
		"BACKUP_UPLOADS_DIR": f.uploads,
		"BACKUP_DB_METHOD":   "local",
	}
	f.path = os.Getenv("PATH")
	return f
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// execAsUser runs SQL as the application's role.
func (f *fixture) execAsUser(db, sql string) string {
	f.t.Helper()
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db)
	cmd.Stdin = strings.NewReader(sql)
	cmd.Env = f.userEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("psql as %s: %v\n%s", f.user, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (f *fixture) userEnv() []string {
	return append(os.Environ(), "PGHOST="+f.pg.Host, "PGPORT="+f.pg.Port, "PGUSER="+f.user, "PGPASSWORD="+f.password)
}

type result struct {
	code           int
	stdout, stderr string
}

// command prepares a run of the binary with the fixture's settings (and a
// fresh BACKUP_TIMESTAMP, so consecutive runs get distinct names).
func (f *fixture) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	f.ts++
	env := []string{"PATH=" + f.path, "HOME=" + f.dir, "TZ=UTC", fmt.Sprintf("BACKUP_TIMESTAMP=%d", f.ts)}
	keys := make([]string, 0, len(f.env))
	for k := range f.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+f.env[k])
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	cmd.Dir = f.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so a test can kill pg_dump too
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func (f *fixture) run(args ...string) result {
	f.t.Helper()
	cmd, stdout, stderr := f.command(args...)
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			f.t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (f *fixture) mustBackup() string {
	f.t.Helper()
	r := f.run("backup")
	if r.code != 0 {
		f.t.Fatalf("backup exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return f.latest()
}

// latest is the folder backup_latest points at.
func (f *fixture) latest() string {
	f.t.Helper()
	target, err := os.Readlink(filepath.Join(f.backups, "backup_latest"))
	if err != nil {
		f.t.Fatalf("backup_latest: %v", err)
	}
	return filepath.Join(f.backups, target)
}

// backupNames lists backup_* folders (not the link).
func (f *fixture) backupNames() []string {
	ents, _ := os.ReadDir(f.backups)
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "backup_") {
			out = append(out, e.Name())
		}
	}
	return out
}

func (f *fixture) errorDirs() []string {
	ents, _ := os.ReadDir(filepath.Join(f.backups, "error_logs"))
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(f.backups, "error_logs", e.Name()))
	}
	return out
}

// tableData returns every table's rows in a stable order plus the
// sequence's state: what a restore must reproduce.
func (f *fixture) tableData(db string) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	for _, tb := range tables {
		out[tb] = f.pg.MustExec(f.t, db, fmt.Sprintf("COPY (SELECT * FROM %s ORDER BY 1) TO STDOUT", tb))
	}
	out["articles_id_seq"] = f.pg.MustExec(f.t, db, "SELECT last_value, is_called FROM articles_id_seq")
	out["view"] = f.pg.MustExec(f.t, db, "SELECT count(*) FROM published_articles")
	out["function"] = f.pg.MustExec(f.t, db, "SELECT article_count()")
	out["index"] = f.pg.MustExec(f.t, db, "SELECT indexdef FROM pg_indexes WHERE indexname = 'articles_title_idx'")
	out["fk"] = f.pg.MustExec(f.t, db, "SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1")
	out["owner"] = f.pg.MustExec(f.t, db, "SELECT tableowner FROM pg_tables WHERE tablename = 'articles'")
	out["extension"] = f.pg.MustExec(f.t, db, "SELECT extname FROM pg_extension WHERE extname = 'citext'")
	return out
}

func compareData(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			g := got[k]
			if len(g) > 300 {
				g = g[:300] + "..."
			}
			if len(w) > 300 {
				w = w[:300] + "..."
			}
			t.Errorf("%s: %s differs:\n got  %q\n want %q", what, k, g, w)
		}
	}
}

// specRestore runs the original backup.sh's documented one-line restore,
// `gunzip -c .../db_backup.sql.gz | psql -U $DB_USER $DB_DATABASE`, against
// the test server, and fails on any error psql reports.
func (f *fixture) specRestore(dumpGz, db string) {
	f.t.Helper()
	cmd := exec.Command("bash", "-c", `gunzip -c "$1" | psql -U "$2" "$3"`, "restore", dumpGz, f.user, db)
	cmd.Env = f.userEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("spec restore: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "ERROR") {
		f.t.Fatalf("spec restore reported errors:\n%s", stderr.String())
	}
}
