package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

var backupNameRE = regexp.MustCompile(`^backup_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d+$`)

func readManifest(t *testing.T, dir string) (*manifest.Manifest, []manifest.Entry) {
	t.Helper()
	m, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.Open(filepath.Join(dir, manifest.FilesListName))
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	var entries []manifest.Entry
	sc := bufio.NewScanner(lf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e manifest.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	return m, entries
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Lstat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Lstat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// Steps 1-6: a full backup, then an incremental one after changes.
func TestBackupFullThenIncremental(t *testing.T) {
	f := newFixture(t)
	first := f.mustBackup()
	if !backupNameRE.MatchString(filepath.Base(first)) {
		t.Errorf("backup name %q does not follow backup_<date>_<timestamp>", filepath.Base(first))
	}
	// The documented layout, and nothing left behind.
	for _, p := range []string{"db_backup.sql.gz", "uploads/a.jpg", "uploads/empty", manifest.FileName, manifest.FilesListName} {
		if _, err := os.Lstat(filepath.Join(first, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if out, err := exec.Command("gunzip", "-t", filepath.Join(first, "db_backup.sql.gz")).CombinedOutput(); err != nil {
		t.Errorf("gunzip -t: %v %s", err, out)
	}
	if target, _ := os.Readlink(filepath.Join(f.backups, "backup_latest")); target != filepath.Base(first) {
		t.Errorf("backup_latest -> %q", target)
	}
	if fi, err := os.Stat(f.backups); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backups folder mode %v (want 0700): %v", fi.Mode().Perm(), err)
	}
	if link, err := os.Readlink(filepath.Join(first, "uploads", "link-to-a")); err != nil || link != "a.jpg" {
		t.Errorf("symlink not kept as a link: %q %v", link, err)
	}
	if fi, _ := os.Stat(filepath.Join(first, "uploads", "a.b")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of a.b = %v", fi.Mode().Perm())
	}
	m, entries := readManifest(t, first)
	if m.Database.RawBytes == 0 || m.Database.Bytes == 0 || m.Database.Bytes >= m.Database.RawBytes {
		t.Errorf("dump sizes raw %d stored %d", m.Database.RawBytes, m.Database.Bytes)
	}
	if got := m.Database.TableRows["public.articles"]; got != 3001 {
		t.Errorf("manifest counts %d rows of public.articles, want 3001 (all: %v)", got, m.Database.TableRows)
	}
	if got, ok := m.Database.TableRows["public.directus_files"]; !ok || got != 0 {
		t.Errorf("empty table directus_files: %d, %v", got, ok)
	}
	if m.Uploads.Files != 5 || m.Uploads.Copied != 5 || m.Uploads.Linked != 0 {
		t.Errorf("first backup uploads = %+v", m.Uploads)
	}
	if int64(len(entries)) != m.Uploads.Entries {
		t.Errorf("%d entries listed, manifest says %d", len(entries), m.Uploads.Entries)
	}

	// A day of changes: one file changed, one new, one deleted.
	old := time.Now().Add(-time.Hour)
	os.WriteFile(filepath.Join(f.uploads, "a/b.txt"), []byte("changed content"), 0o644)
	os.Chtimes(filepath.Join(f.uploads, "a/b.txt"), old, old)
	os.WriteFile(filepath.Join(f.uploads, "new.txt"), []byte("new"), 0o644)
	os.Remove(filepath.Join(f.uploads, "a.jpg"))
	f.execAsUser(f.db, "UPDATE articles SET title = 'edited' WHERE id = 1")

	second := f.mustBackup()
	if second == first {
		t.Fatal("second backup has the first one's name")
	}
	if !sameFile(t, filepath.Join(first, "uploads/sub dir/deep/x.bin"), filepath.Join(second, "uploads/sub dir/deep/x.bin")) {
		t.Error("unchanged file was copied, not hard-linked")
	}
	if sameFile(t, filepath.Join(first, "uploads/a/b.txt"), filepath.Join(second, "uploads/a/b.txt")) {
		t.Error("changed file is a link to the old copy")
	}
	if data, _ := os.ReadFile(filepath.Join(second, "uploads/a/b.txt")); string(data) != "changed content" {
		t.Errorf("changed file content %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(first, "uploads/a/b.txt")); string(data) != "nested" {
		t.Errorf("first backup was altered: %q", data)
	}
	if _, err := os.Stat(filepath.Join(second, "uploads/new.txt")); err != nil {
		t.Errorf("new file missing: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(second, "uploads/a.jpg")); !os.IsNotExist(err) {
		t.Errorf("deleted file still in the new backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(first, "uploads/a.jpg")); err != nil {
		t.Errorf("deleted file gone from the older backup: %v", err)
	}
	m2, _ := readManifest(t, second)
	if m2.Uploads.Previous != filepath.Base(first) || m2.Uploads.Linked != 3 || m2.Uploads.Copied != 2 {
		t.Errorf("second backup uploads = %+v", m2.Uploads)
	}
	if target, _ := os.Readlink(filepath.Join(f.backups, "backup_latest")); target != filepath.Base(second) {
		t.Errorf("backup_latest -> %q after second run", target)
	}
	if len(f.errorDirs()) != 0 {
		t.Errorf("error folders after successful runs: %v", f.errorDirs())
	}
}

// Step 2 and 3: the original backup.sh's restore commands, into a new empty
// database and over the existing one, give back the data table by table.
func TestRestoreWithSpecCommands(t *testing.T) {
	f := newFixture(t)
	want := f.tableData(f.db)
	b := f.mustBackup()
	dump := filepath.Join(b, "db_backup.sql.gz")

	// Into a freshly created empty database.
	fresh := f.db + "_restore"
	f.pg.CreateDB(t, fresh, f.user)
	f.specRestore(dump, fresh)
	compareData(t, "restore into empty database", f.tableData(fresh), want)

	// Over the existing database, after it changed.
	f.execAsUser(f.db, `UPDATE articles SET title = 'changed'; DELETE FROM articles WHERE id > 2000;
		INSERT INTO directus_users VALUES (gen_random_uuid(), 'later@example.com');
		INSERT INTO directus_files VALUES (gen_random_uuid(), 'later.png', 1); SELECT setval('articles_id_seq', 9999);`)
	f.specRestore(dump, f.db)
	compareData(t, "restore over existing database", f.tableData(f.db), want)
}

// Step 3: BACKUP_COMPRESSION=none writes db_backup.sql that psql reads.
func TestUncompressedDump(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_COMPRESSION"] = "none"
	want := f.tableData(f.db)
	b := f.mustBackup()
	if _, err := os.Stat(filepath.Join(b, "db_backup.sql.gz")); !os.IsNotExist(err) {
		t.Errorf("db_backup.sql.gz written with compression off")
	}
	fresh := f.db + "_plain"
	f.pg.CreateDB(t, fresh, f.user)
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", filepath.Join(b, "db_backup.sql"), fresh)
	cmd.Env = f.userEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql < db_backup.sql: %v\n%s", err, out)
	}
	compareData(t, "uncompressed restore", f.tableData(fresh), want)
}

// The docker path: BACKUP_DB_METHOD=auto picks docker when the compose file
// exists; the stand-in docker runs the real pg_dump. The password goes
// through by name only.
func TestDockerMethod(t *testing.T) {
	f := newFixture(t)
	wd, _ := os.Getwd()
	argvLog := filepath.Join(f.dir, "docker-argv.log")
	f.path = filepath.Join(wd, "testdata") + ":" + os.Getenv("PATH")
	f.env["BACKUP_DB_METHOD"] = "auto"
	f.env["FAKE_DOCKER_ARGV_LOG"] = argvLog
	f.env["FAKE_DOCKER_PGHOST"] = f.pg.Host
	f.env["FAKE_DOCKER_PGPORT"] = f.pg.Port
	os.WriteFile(filepath.Join(f.dir, "docker-compose.base.yml"), []byte("services: {}\n"), 0o644)

	want := f.tableData(f.db)
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup via docker: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "docker compose") {
		t.Errorf("log does not say docker was used:\n%s", r.stderr)
	}
	argv, _ := os.ReadFile(argvLog)
	if !strings.Contains(string(argv), "exec -T -e PGPASSWORD database pg_dump -U "+f.user+" -d dbname='"+f.db+"' application_name=directus-backup-") {
		t.Errorf("docker called as %q", argv)
	}
	if strings.Contains(string(argv), f.password) {
		t.Errorf("password on docker's command line: %q", argv)
	}
	m, _ := readManifest(t, f.latest())
	if m.Database.Method != "docker" {
		t.Errorf("manifest method %q", m.Database.Method)
	}
	fresh := f.db + "_docker"
	f.pg.CreateDB(t, fresh, f.user)
	f.specRestore(filepath.Join(f.latest(), "db_backup.sql.gz"), fresh)
	compareData(t, "docker dump restore", f.tableData(fresh), want)

	// A wrong service name fails the database step.
	f.env["BACKUP_DOCKER_SERVICE"] = "db"
	if r := f.run("backup"); r.code != exitDatabase {
		t.Errorf("wrong docker service: exit %d, want %d\n%s", r.code, exitDatabase, r.stderr)
	}
}

// BACKUP_COMPRESSION=zstd: db_backup.sql.zst, read by zstd -d, verified and
// restored by the tool.
func TestZstdDump(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_COMPRESSION"] = "zstd"
	want := f.tableData(f.db)
	b := f.mustBackup()
	if _, err := os.Stat(filepath.Join(b, "db_backup.sql.zst")); err != nil {
		t.Fatal(err)
	}
	if r := f.run("verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fresh := f.db + "_zstd"
	cmd := exec.Command("bash", "-c", `zstd -dc "$1" | psql -X -q -v ON_ERROR_STOP=1 "$2"`, "x", filepath.Join(b, "db_backup.sql.zst"), fresh)
	cmd.Env = f.userEnv()
	f.pg.CreateDB(t, fresh, f.user)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | psql: %v\n%s", err, out)
	}
	compareData(t, "zstd -dc | psql", f.tableData(fresh), want)
	fresh2 := f.db + "_zstd2"
	if r := f.run("restore", "--db", "--create", "--target-db", fresh2); r.code != 0 {
		t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { f.pg.Exec("postgres", `DROP DATABASE IF EXISTS "`+fresh2+`" WITH (FORCE)`) })
	compareData(t, "restore of a zstd dump", f.tableData(fresh2), want)
}
