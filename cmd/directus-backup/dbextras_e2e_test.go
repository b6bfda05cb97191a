package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// migrationsSQL creates directus_migrations as Directus does (version,
// name, timestamp) with the given versions applied.
func migrationsSQL(versions ...string) string {
	var b strings.Builder
	b.WriteString(`CREATE TABLE directus_migrations (version varchar(255) PRIMARY KEY, name varchar(255) NOT NULL,
		"timestamp" timestamptz DEFAULT CURRENT_TIMESTAMP);`)
	for _, v := range versions {
		fmt.Fprintf(&b, "INSERT INTO directus_migrations (version, name) VALUES ('%s', 'Migration %s');\n", v, v)
	}
	return b.String()
}

var backupMigrations = []string{"20201028A", "20201029A", "20240806A"}

func (f *fixture) migrationVersions(db string) string {
	f.t.Helper()
	return f.pg.MustExec(f.t, db, "SELECT string_agg(version, ',' ORDER BY version) FROM directus_migrations")
}

// targetDB makes a database owned by the fixture's role, seeded with sql.
func (f *fixture) targetDB(sql string) string {
	f.t.Helper()
	name := testpg.UniqueName("target")
	f.pg.CreateDB(f.t, name, f.user)
	if sql != "" {
		f.execAsUser(name, sql)
	}
	return name
}

// The backup records the migrations from the dump; list and verify show the
// newest; a restore over a database with other migrations says what that
// means and needs --yes, with the same migrations it asks nothing more.
func TestMigrationsRecordedAndCompared(t *testing.T) {
	f := newFixture(t)
	f.execAsUser(f.db, migrationsSQL(backupMigrations...))
	b := f.mustBackup()

	m, err := manifest.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	mg := m.Database.Migrations
	if mg == nil || mg.Newest != "20240806A" || mg.NewestName != "Migration 20240806A" || len(mg.Applied) != 3 ||
		mg.Table != "public.directus_migrations" || mg.Applied[0].Version != "20201028A" {
		t.Fatalf("manifest migrations: %+v", mg)
	}

	r := f.run("list")
	if r.code != 0 || !strings.Contains(r.stdout, "MIGRATION") || !strings.Contains(r.stdout, "20240806A") {
		t.Errorf("list: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.run("list", "--json")
	var l struct {
		Backups []struct {
			Migration string `json:"directus_migration"`
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Backups) != 1 || l.Backups[0].Migration != "20240806A" {
		t.Errorf("list --json: %v %s", err, r.stdout)
	}
	r = f.run("verify")
	if r.code != 0 || !strings.Contains(r.stdout, "Directus migration: 20240806A") {
		t.Errorf("verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.run("verify", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"directus_migration": "20240806A"`) {
		t.Errorf("verify --json: %d\n%s", r.code, r.stdout)
	}

	// A target migrated further (a newer Directus deployed there).
	newer := f.targetDB(migrationsSQL(append(backupMigrations, "20250101A")...) + "CREATE TABLE marker (x int); INSERT INTO marker VALUES (7);")
	r = f.run("restore", "--db", "--target-db", newer)
	if r.code != exitcode.Refused || !strings.Contains(r.stderr, "20250101A (Migration 20250101A)") ||
		!strings.Contains(r.stderr, "will migrate it again on start") {
		t.Fatalf("restore over a newer target without --yes: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := f.migrationVersions(newer); got != "20201028A,20201029A,20240806A,20250101A" {
		t.Errorf("refused restore changed the target's migrations: %s", got)
	}
	if got := f.pg.MustExec(t, newer, "SELECT x FROM marker"); got != "7" {
		t.Errorf("refused restore changed the target: %q", got)
	}
	r = f.run("restore", "--db", "--yes", "--target-db", newer)
	if r.code != 0 || !strings.Contains(r.stdout, "will migrate it again on start") {
		t.Fatalf("restore --yes over a newer target: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := f.migrationVersions(newer); got != "20201028A,20201029A,20240806A" {
		t.Errorf("after restore --yes, migrations %s", got)
	}
	compareData(t, "restore --yes", f.tableData(newer), f.tableData(f.db))

	// A target behind the backup (an older Directus deployed there).
	older := f.targetDB(migrationsSQL("20201028A"))
	r = f.run("restore", "--db", "--target-db", older, "--json")
	if r.code != exitcode.Refused || !strings.Contains(r.stdout, "will not start on the restored database") ||
		!strings.Contains(r.stdout, "20201029A (Migration 20201029A), 20240806A") {
		t.Errorf("restore over an older target: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The same migrations: only the usual question, nothing about them.
	r = f.run("restore", "--db", "--target-db", newer)
	if r.code != exitcode.Refused || strings.Contains(r.stderr, "migrations differ") || !strings.Contains(r.stderr, "use --yes") {
		t.Errorf("restore over the same migrations: %d\n%s", r.code, r.stderr)
	}
	r = f.run("restore", "--db", "--yes", "--target-db", newer)
	if r.code != 0 || !strings.Contains(r.stdout, "match the replaced database's (newest 20240806A)") {
		t.Errorf("restore --yes over the same migrations: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An empty target: no comparison, no question.
	empty := f.targetDB("")
	r = f.run("restore", "--db", "--target-db", empty)
	if r.code != 0 || strings.Contains(r.stdout, "migrations") {
		t.Errorf("restore into an empty target: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A target without directus_migrations: no question about them.
	other := f.targetDB("CREATE TABLE x (id int);")
	r = f.run("restore", "--db", "--yes", "--target-db", other)
	if r.code != 0 || !strings.Contains(r.stdout, "no directus_migrations table") {
		t.Errorf("restore over a database without directus_migrations: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// At a terminal the difference is part of the question, and "yes" restores.
func TestMigrationsQuestionAtTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not found: no terminal to test with")
	}
	f := newFixture(t)
	f.execAsUser(f.db, migrationsSQL(backupMigrations...))
	f.mustBackup()
	newer := f.targetDB(migrationsSQL(append(backupMigrations, "20250101A")...))

	// script gives the binary a terminal; "yes" is typed into it.
	cmd, stdout, _ := f.command()
	cmd.Path = script
	cmd.Args = []string{"script", "-qec", binPath + " restore --db --target-db " + newer, "/dev/null"}
	cmd.Stdin = strings.NewReader("yes\n")
	err = cmd.Run()
	out := stdout.String()
	// The difference is in the question, before "Type yes".
	ask := strings.Index(out, "Type yes to go on")
	if err != nil || ask < 0 || !strings.Contains(out[:ask], "will migrate it again on start") ||
		!strings.Contains(out[:ask], "20250101A (Migration 20250101A)") || !strings.Contains(out, "Restored from") {
		t.Fatalf("restore at a terminal: %v\n%s", err, out)
	}
	if got := f.migrationVersions(newer); got != "20201028A,20201029A,20240806A" {
		t.Errorf("after yes at the terminal, migrations %s", got)
	}
}

// BACKUP_EXCLUDE_TABLE_DATA: the tables come back empty, everything else
// intact; the manifest, list, restore and verify --restore-test say so; a
// bad name is refused before any work.
func TestExcludeTableData(t *testing.T) {
	f := newFixture(t)
	f.execAsUser(f.db, `CREATE TABLE directus_activity (id serial PRIMARY KEY, action text);
		INSERT INTO directus_activity (action) SELECT 'create' FROM generate_series(1, 500);
		CREATE TABLE directus_revisions (id serial PRIMARY KEY, data json);
		INSERT INTO directus_revisions (data) SELECT '{"a":1}' FROM generate_series(1, 300);`)

	for _, bad := range []string{"directus_activity;drop", "-t x", "a.b.c", `"x"`, "direct*", "directus_migrations"} {
		before := f.backupNames()
		r := f.run("backup", "--exclude-table-data", bad)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "BACKUP_EXCLUDE_TABLE_DATA") {
			t.Errorf("%q: exit %d\n%s", bad, r.code, r.stderr)
		}
		if after := f.backupNames(); len(after) != len(before) {
			t.Errorf("%q: a backup folder was made: %v", bad, after)
		}
	}

	// A name the database does not have is warned about, not recorded.
	f.env["BACKUP_EXCLUDE_TABLE_DATA"] = "directus_activity, public.directus_revisions, Directus_Nothere"
	r := f.run("backup")
	if r.code != 0 || !strings.Contains(r.stderr, "names tables the database does not have") || !strings.Contains(r.stderr, "Directus_Nothere") {
		t.Fatalf("backup: %d\n%s", r.code, r.stderr)
	}
	b := f.latest()
	m, err := manifest.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Database.EmptyTables, ","); got != "directus_activity,public.directus_revisions" {
		t.Errorf("manifest empty_tables %q", got)
	}
	if _, ok := m.Database.TableRows["public.directus_activity"]; ok {
		t.Errorf("the dump holds rows of an excluded table: %v", m.Database.TableRows)
	}
	r = f.run("list")
	if !strings.Contains(r.stdout, "without their rows") || !strings.Contains(r.stdout, "directus_activity, public.directus_revisions") {
		t.Errorf("list:\n%s", r.stdout)
	}

	target := f.targetDB("")
	r = f.run("restore", "--db", "--target-db", target)
	if r.code != 0 || !strings.Contains(r.stdout, "these tables were restored empty") {
		t.Fatalf("restore: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tb := range []string{"directus_activity", "directus_revisions"} {
		if n := f.pg.MustExec(t, target, "SELECT count(*) FROM "+tb); n != "0" {
			t.Errorf("%s has %s rows after the restore", tb, n)
		}
	}
	compareData(t, "restore", f.tableData(target), f.tableData(f.db))

	// This database has no directus_migrations: the backup records none, and
	// a restore over tables says once that nothing was compared.
	if m.Database.Migrations != nil {
		t.Errorf("manifest migrations of a database without directus_migrations: %+v", m.Database.Migrations)
	}
	r = f.run("restore", "--db", "--yes", "--target-db", target)
	if r.code != 0 || strings.Count(r.stdout+r.stderr, "records no Directus migrations") != 1 {
		t.Errorf("restore of a backup without migrations: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = f.run("verify", "--restore-test")
	if r.code != 0 || !strings.Contains(r.stdout, "restored empty") {
		t.Errorf("verify --restore-test: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The restore test also checks that they are there: a manifest naming a
	// table the dump does not define is a problem.
	m.Database.EmptyTables = append(m.Database.EmptyTables, "public.not_in_the_dump")
	if err := manifest.Write(b, m); err != nil {
		t.Fatal(err)
	}
	r = f.run("verify", "--restore-test")
	if r.code != exitcode.Problems || !strings.Contains(r.stdout, "public.not_in_the_dump: the backup left this table's rows out") {
		t.Errorf("verify --restore-test with a table missing: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The docker method: pg_dump in the container gets the same
// --exclude-table-data arguments, the migrations are read from its dump,
// and the restore reads the target's migrations through the container's psql.
func TestDockerMethodMigrationsAndExcludedData(t *testing.T) {
	f, argvLog := composeFixture(t, false)
	writeFile(t, filepath.Join(f.dir, "docker-compose.yml"), "services: {}\n")
	f.execAsUser(f.db, migrationsSQL(backupMigrations...)+`CREATE TABLE directus_activity (id int); INSERT INTO directus_activity VALUES (1), (2);`)
	f.env["BACKUP_EXCLUDE_TABLE_DATA"] = "directus_activity"
	b := f.mustBackup()
	argv, _ := os.ReadFile(argvLog)
	if !strings.Contains(string(argv), `pg_dump -U `+f.user) || !strings.Contains(string(argv), ` --exclude-table-data="directus_activity"`) {
		t.Errorf("docker called as %q", argv)
	}
	m, err := manifest.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Database.Method != "docker" || m.Database.Migrations == nil || m.Database.Migrations.Newest != "20240806A" ||
		strings.Join(m.Database.EmptyTables, ",") != "directus_activity" {
		t.Errorf("manifest: method %s, migrations %+v, empty tables %v", m.Database.Method, m.Database.Migrations, m.Database.EmptyTables)
	}

	older := f.targetDB(migrationsSQL("20201028A"))
	os.Remove(argvLog)
	r := f.run("restore", "--db", "--target-db", older)
	if r.code != exitcode.Refused || !strings.Contains(r.stderr, "will not start on the restored database") {
		t.Errorf("restore over an older target: %d\n%s", r.code, r.stderr)
	}
	if argv, _ := os.ReadFile(argvLog); !strings.Contains(string(argv), "exec -T -e PGPASSWORD database psql") {
		t.Errorf("the target was not read through the container: %q", argv)
	}
	if got := f.migrationVersions(older); got != "20201028A" {
		t.Errorf("refused restore changed the target: %s", got)
	}
}
