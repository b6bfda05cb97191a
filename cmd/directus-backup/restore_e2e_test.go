package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// treeState describes a folder tree exactly: per path its type, mode,
// mtime, size, content hash or link target. Two trees are identical when
// their states are equal.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v uid=%d gid=%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" size=%d mtime=%d sum=%x", len(data), fi.ModTime().UnixNano(), quickSum(data))
		case fi.IsDir() && rel != ".":
			desc += fmt.Sprintf(" mtime=%d", fi.ModTime().UnixNano())
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func quickSum(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

func compareTrees(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s:\n got  %q\n want %q", what, k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s", what, k)
		}
	}
}

// awkwardUploads adds to the fixture's uploads what a restore must bring
// back exactly.
func awkwardUploads(t *testing.T, f *fixture) {
	t.Helper()
	u := f.uploads
	os.MkdirAll(filepath.Join(u, "private"), 0o700)
	os.WriteFile(filepath.Join(u, "private", "secret key.pem"), []byte("key"), 0o400)
	os.MkdirAll(filepath.Join(u, "shared"), 0o755)
	os.Chmod(filepath.Join(u, "shared"), 0o2775)
	big := bytes.Repeat([]byte("large upload "), 1<<20) // 13 MiB
	os.WriteFile(filepath.Join(u, "shared", "video.mp4"), big, 0o644)
	os.Symlink("../a.jpg", filepath.Join(u, "shared", "rel-link"))
	os.Symlink("/nonexistent/target", filepath.Join(u, "dangling"))
	os.MkdirAll(filepath.Join(u, "empty", "nested-empty"), 0o750)
	old := time.Date(2020, 2, 29, 12, 0, 0, 123456789, time.UTC)
	os.Chtimes(filepath.Join(u, "a.jpg"), old, old)
	os.Chtimes(filepath.Join(u, "empty", "nested-empty"), old, old)
}

// The round trip: back up awkward data, destroy the database and the
// uploads folder, restore with the tool, compare everything.
func TestRoundTripRestore(t *testing.T) {
	f := newFixture(t)
	awkwardUploads(t, f)
	wantDB := f.tableData(f.db)
	wantTree := treeState(t, f.uploads)
	f.mustBackup()

	f.pg.MustExec(t, "postgres", `DROP DATABASE "`+f.db+`" WITH (FORCE)`)
	if err := os.RemoveAll(f.uploads); err != nil {
		t.Fatal(err)
	}

	r := f.run("restore", "--create")
	if r.code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"database", "uploads", "checksums verified"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	compareData(t, "round trip", f.tableData(f.db), wantDB)
	compareTrees(t, "round trip uploads", treeState(t, f.uploads), wantTree)
	// The restored files are copies, not links into the backup.
	if sameFile(t, filepath.Join(f.uploads, "shared", "video.mp4"), filepath.Join(f.latest(), "uploads", "shared", "video.mp4")) {
		t.Error("restored file is a hard link into the backup")
	}
}

// Restoring over a database with tables needs --yes; refused, nothing
// changes. A dump that fails midway leaves database and folder as they were.
func TestRestoreRefusedAndFailedRestoreChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	f.execAsUser(f.db, "UPDATE articles SET title = 'after the backup' WHERE id = 1")
	os.WriteFile(filepath.Join(f.uploads, "a.jpg"), []byte("after the backup"), 0o644)
	wantDB := f.tableData(f.db)
	wantTree := treeState(t, f.uploads)

	r := f.run("restore", "--db")
	if r.code != exitRefused || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("restore over a database with tables: exit %d\n%s", r.code, r.stderr)
	}
	compareData(t, "after refused restore", f.tableData(f.db), wantDB)
	if r := f.run("restore", "--db", "--force", "--target-db", f.db+"_missing"); r.code != exitRefused || !strings.Contains(r.stderr, "--create") {
		t.Errorf("restore into a missing database: exit %d\n%s", r.code, r.stderr)
	}

	// Truncate the dump on purpose (a valid gzip of a cut-short dump, and
	// one cut mid-stream); also break one upload in the backup.
	dump := filepath.Join(f.latest(), "db_backup.sql.gz")
	data, _ := os.ReadFile(dump)
	for name, broken := range map[string][]byte{
		"cut gzip":                    data[:len(data)*2/3],
		"complete gzip of a cut dump": regzip(t, data, 0.6),
	} {
		os.WriteFile(dump, broken, 0o600)
		r = f.run("restore", "--db", "--force")
		if r.code != exitRestore {
			t.Errorf("%s: exit %d, want %d\n%s", name, r.code, exitRestore, r.stderr)
		}
		compareData(t, "after a failed restore ("+name+")", f.tableData(f.db), wantDB)
	}
	os.WriteFile(dump, data, 0o600)

	up := filepath.Join(f.latest(), "uploads", "sub dir", "deep", "x.bin")
	os.Chmod(up, 0o644)
	os.WriteFile(up, []byte("bit rot"), 0o644)
	r = f.run("restore", "--uploads", "--force")
	if r.code != exitRestore || !strings.Contains(r.stderr, "x.bin") {
		t.Errorf("damaged upload: exit %d\n%s", r.code, r.stderr)
	}
	compareTrees(t, "uploads after a failed restore", treeState(t, f.uploads), wantTree)
	ents, _ := os.ReadDir(filepath.Dir(f.uploads))
	for _, e := range ents {
		if strings.Contains(e.Name(), "restore") {
			t.Errorf("stage left behind: %s", e.Name())
		}
	}
}

// regzip decompresses a gzip file, keeps the first fraction of its content
// and compresses that again: a well-formed gzip of a dump cut short.
func regzip(t *testing.T, gz []byte, fraction float64) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw[:int(float64(len(raw))*fraction)])
	zw.Close()
	return out.Bytes()
}

// verify: a clean backup passes; each kind of damage is found, by path,
// with exit 9.
func TestVerifyFindsDamage(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	b := f.latest()
	if r := f.run("verify"); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Fatalf("clean backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	flip := func(p string) {
		data, _ := os.ReadFile(p)
		data[len(data)/2] ^= 0x01
		os.Chmod(p, 0o644)
		os.WriteFile(p, data, 0o644)
	}
	truncate := func(p string) { os.Truncate(p, 3) }
	remove := func(p string) { os.Remove(p) }
	cases := []struct {
		name, path string
		damage     func(string)
		want       string
	}{
		{"flipped byte in an upload", "uploads/sub dir/deep/x.bin", flip, "content: uploads/sub dir/deep/x.bin"},
		{"truncated upload", "uploads/a/b.txt", truncate, "size: uploads/a/b.txt"},
		{"deleted upload", "uploads/a.jpg", remove, "missing: uploads/a.jpg"},
		{"truncated dump", "db_backup.sql.gz", func(p string) { os.Truncate(p, 2000) }, "db_backup.sql.gz"},
		{"flipped byte in the dump", "db_backup.sql.gz", flip, "dump-checksum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(b, c.path)
			orig, _ := os.ReadFile(p)
			fi, _ := os.Stat(p)
			c.damage(p)
			r := f.run("verify")
			if r.code != exitProblems || !strings.Contains(r.stdout, c.want) {
				t.Errorf("exit %d, want %d and %q in:\n%s%s", r.code, exitProblems, c.want, r.stdout, r.stderr)
			}
			// Put it back for the next case (same inode for the links).
			os.WriteFile(p, orig, fi.Mode().Perm())
			os.Chmod(p, fi.Mode().Perm())
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		})
	}
	// A dangling backup_latest.
	os.Remove(filepath.Join(f.backups, "backup_latest"))
	os.Symlink("backup_gone_1", filepath.Join(f.backups, "backup_latest"))
	if r := f.run("verify", filepath.Base(b)); r.code != exitProblems || !strings.Contains(r.stdout, "backup_latest") {
		t.Errorf("dangling backup_latest: exit %d\n%s", r.code, r.stdout)
	}
	var out struct {
		OK bool `json:"ok"`
	}
	r := f.run("verify", "--json", filepath.Base(b))
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.OK {
		t.Errorf("--json: %v %q", err, r.stdout)
	}
}

// verify --restore-test: passes on a good backup, fails clearly when a
// table's row count differs; the scratch database is gone in both cases.
func TestVerifyRestoreTest(t *testing.T) {
	f := newFixture(t)
	b := f.mustBackup()
	scratch := f.db + "_scratch"
	r := f.run("verify", "--restore-test", "--scratch-db", scratch)
	if r.code != 0 || !strings.Contains(r.stdout, "directus_users = 40") {
		t.Fatalf("good backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scratch+"'"); n != "0" {
		t.Error("scratch database left after a passed restore test")
	}

	// Make the recorded count of one table disagree with the dump.
	mpath := filepath.Join(b, "manifest.json")
	data, _ := os.ReadFile(mpath)
	good := append([]byte(nil), data...)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["database"].(map[string]any)["table_rows"].(map[string]any)["public.articles"] = 5
	data, _ = json.Marshal(m)
	os.WriteFile(mpath, data, 0o600)

	r = f.run("verify", "--restore-test", "--scratch-db", scratch)
	if r.code != exitProblems || !strings.Contains(r.stdout, "public.articles") || !strings.Contains(r.stdout, "recorded 5") {
		t.Errorf("row count differs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scratch+"'"); n != "0" {
		t.Error("scratch database left after a failed restore test")
	}
	// An existing database is never used (and so never dropped) as scratch.
	os.WriteFile(mpath, good, 0o600)
	if r := f.run("verify", "--restore-test", "--scratch-db", f.db); r.code != exitNoCheck {
		t.Errorf("existing scratch database: exit %d\n%s", r.code, r.stdout)
	}
	f.pg.MustExec(t, f.db, "SELECT 1 FROM articles LIMIT 1")
}

// BACKUP_VERIFY=restore checks each new backup; a failure keeps the backup
// and writes an error folder.
func TestBackupVerifySetting(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_VERIFY"] = "restore"
	r := f.run("backup")
	if r.code != 0 || !strings.Contains(r.stderr, "restore test passed") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	good := f.latest()
	// A Directus file row pointing outside the uploads folder:
	// verification fails, the backup stays, retention is not applied. (A
	// row whose file the instance lacks is only reported: the backup holds
	// what the instance had; see TestFileTableBothWays.)
	f.execAsUser(f.db, "INSERT INTO directus_files VALUES (gen_random_uuid(), '../not-uploaded.png', 1)")
	f.env["BACKUP_VERIFY"] = "1"
	r = f.run("backup")
	if r.code != exitProblems || !strings.Contains(r.stderr, "not-uploaded.png") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if len(f.backupNames()) != 2 || len(f.errorDirs()) != 1 {
		t.Errorf("backups %v, error folders %v", f.backupNames(), f.errorDirs())
	}
	if f.latest() != good {
		t.Errorf("backup_latest moved to a backup that failed verification: %s", f.latest())
	}
	// A restore test that cannot run (the role may not create databases)
	// is "could not check", not "problems".
	f.execAsUser(f.db, "DELETE FROM directus_files WHERE filename_disk = '../not-uploaded.png'")
	f.pg.MustExec(t, "postgres", `ALTER ROLE "`+f.user+`" NOCREATEDB`)
	f.env["BACKUP_VERIFY"] = "restore"
	if r := f.run("backup"); r.code != exitNoCheck {
		t.Errorf("restore test impossible: exit %d, want %d\n%s", r.code, exitNoCheck, r.stderr)
	}
	// Each run linked against backup_latest (the last good backup), not
	// against the newer one that failed verification.
	names := f.backupNames()
	newest := names[len(names)-1]
	m, _ := readManifest(t, filepath.Join(f.backups, newest))
	if m.Uploads.Previous != filepath.Base(good) {
		t.Errorf("%s linked against %q, want the last good backup %s", newest, m.Uploads.Previous, filepath.Base(good))
	}
}

// The original backup.sh's uploads restore command works on what we write.
func TestSpecRsyncRestore(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
			t.Fatal("rsync missing; scripts/test.sh installs it")
		}
		t.Skip("rsync not installed")
	}
	f := newFixture(t)
	awkwardUploads(t, f)
	want := treeState(t, f.uploads)
	f.mustBackup()
	os.RemoveAll(f.uploads)
	os.MkdirAll(f.uploads, 0o755)
	out, err := exec.Command("rsync", "-a", filepath.Join(f.backups, "backup_latest", "uploads")+"/", f.uploads+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync: %v %s", err, out)
	}
	// rsync 3.5 leaves folder times unset when a folder holds a dangling
	// symlink; that is rsync's doing, so folder times are not compared here.
	compareTrees(t, "rsync -a restore", withoutDirTimes(treeState(t, f.uploads)), withoutDirTimes(want))
}

func withoutDirTimes(state map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range state {
		if strings.HasPrefix(v, "d") {
			v, _, _ = strings.Cut(v, " mtime=")
		}
		out[k] = v
	}
	return out
}
