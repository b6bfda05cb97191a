package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// inode returns the inode of p, 0 when it cannot be read.
func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Errorf("stat %s: %v", p, err)
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// STORAGE_LOCATIONS=local,archive and an extensions folder: both locations
// and the extensions are backed up (hard links the second time), verify
// checks them, and restore brings back what it is asked for.
func TestStorageLocationsEndToEnd(t *testing.T) {
	f := newFixture(t)
	archive := filepath.Join(f.dir, "archive")
	writeTree(t, archive, map[string]string{"x/1.pdf": "pdf bytes", "2.txt": "second file"})
	ext := filepath.Join(f.dir, "extensions")
	writeTree(t, ext, map[string]string{"my-hook/index.js": "export default () => {}", "my-hook/package.json": "{}"})
	f.env["STORAGE_LOCATIONS"] = "local,archive"
	f.env["STORAGE_ARCHIVE_DRIVER"] = "local"
	f.env["STORAGE_ARCHIVE_ROOT"] = "./archive" // relative to the working folder (no .env file)
	liveUploads := treeState(t, f.uploads)
	liveArchive := treeState(t, archive)
	liveExt := treeState(t, ext)

	b1 := f.mustBackup()
	m, _ := readManifest(t, b1)
	if m.Format != 2 || m.DefaultLocation != "local" || len(m.Storage) != 1 || m.Storage[0].Name != "archive" ||
		m.Storage[0].Folder != "storage/archive" || m.Storage[0].Files != 2 || m.Extensions == nil || m.Extensions.Files != 2 {
		t.Fatalf("manifest: format %d default %q storage %+v extensions %+v", m.Format, m.DefaultLocation, m.Storage, m.Extensions)
	}
	compareTrees(t, "uploads/ in the backup", treeState(t, filepath.Join(b1, "uploads")), liveUploads)
	compareTrees(t, "storage/archive/ in the backup", treeState(t, filepath.Join(b1, "storage", "archive")), liveArchive)
	compareTrees(t, "extensions/ in the backup", treeState(t, filepath.Join(b1, "extensions")), liveExt)
	for _, n := range []string{"manifest.files.jsonl", "manifest.storage.archive.jsonl", "manifest.extensions.jsonl"} {
		if _, err := os.Stat(filepath.Join(b1, n)); err != nil {
			t.Errorf("entry list: %v", err)
		}
	}

	// The second backup links every unchanged file, in each folder.
	r := f.run("backup", "--json")
	var doc struct {
		Uploads struct{ Linked, Copied int64 }
		Storage []struct {
			Name           string
			Linked, Copied int64
		}
		Extensions *struct{ Linked, Copied int64 }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("backup --json: exit %d %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if len(doc.Storage) != 1 || doc.Storage[0].Name != "archive" || doc.Storage[0].Linked != 2 || doc.Storage[0].Copied != 0 ||
		doc.Extensions == nil || doc.Extensions.Linked != 2 || doc.Extensions.Copied != 0 || doc.Uploads.Copied != 0 {
		t.Errorf("second backup did not link everything: %s", r.stdout)
	}
	b2 := f.latest()
	for _, rel := range []string{"storage/archive/x/1.pdf", "extensions/my-hook/index.js", "uploads/a.jpg"} {
		if inode(t, filepath.Join(b1, rel)) != inode(t, filepath.Join(b2, rel)) {
			t.Errorf("%s is not hard-linked between the two backups", rel)
		}
	}

	// list says what each backup holds; verify checks it all.
	if r := f.run("list"); r.code != 0 || !strings.Contains(r.stdout, "uploads, storage/archive, extensions") {
		t.Errorf("list: exit %d\n%s", r.code, r.stdout)
	}
	if r := f.run("verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Restore one location at a time.
	os.Remove(filepath.Join(archive, "2.txt"))
	os.WriteFile(filepath.Join(f.uploads, "a.jpg"), []byte("changed!!!"), 0o644)
	os.RemoveAll(filepath.Join(ext, "my-hook"))
	changedUploads := treeState(t, f.uploads)
	if r := f.run("restore", "--location", "archive"); r.code != 0 {
		t.Fatalf("restore --location archive: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	compareTrees(t, "archive after restore --location archive", treeState(t, archive), liveArchive)
	compareTrees(t, "uploads after restore --location archive", treeState(t, f.uploads), changedUploads)
	if _, err := os.Stat(filepath.Join(ext, "my-hook")); err == nil {
		t.Error("restore --location archive restored the extensions")
	}
	if r := f.run("restore", "--uploads"); r.code != 0 {
		t.Fatalf("restore --uploads: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	compareTrees(t, "uploads after restore --uploads", treeState(t, f.uploads), liveUploads)
	if r := f.run("restore", "--extensions"); r.code != 0 {
		t.Fatalf("restore --extensions: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	compareTrees(t, "extensions after restore --extensions", treeState(t, ext), liveExt)

	// Without a selection: the database and every location, not the
	// extensions; --target-dir needs one folder.
	os.Remove(filepath.Join(archive, "x", "1.pdf"))
	os.Remove(filepath.Join(f.uploads, "a.b"))
	os.RemoveAll(filepath.Join(ext, "my-hook"))
	if r := f.run("restore", "--target-dir", filepath.Join(f.dir, "elsewhere")); r.code != 2 || !strings.Contains(r.stderr, "--target-dir names one folder") {
		t.Errorf("restore --target-dir of two locations: exit %d\n%s", r.code, r.stderr)
	}
	r = f.run("restore", "--yes")
	if r.code != 0 {
		t.Fatalf("restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "archive") || !strings.Contains(r.stdout, "uploads") || !strings.Contains(r.stdout, "database") {
		t.Errorf("restore summary does not name each part:\n%s", r.stdout)
	}
	compareTrees(t, "archive after restore", treeState(t, archive), liveArchive)
	compareTrees(t, "uploads after restore", treeState(t, f.uploads), liveUploads)
	if _, err := os.Stat(filepath.Join(ext, "my-hook")); err == nil {
		t.Error("restore without --extensions restored the extensions")
	}
	if r := f.run("restore", "--location", "nowhere"); r.code != 2 || !strings.Contains(r.stderr, `no storage location "nowhere"`) {
		t.Errorf("restore --location nowhere: exit %d\n%s", r.code, r.stderr)
	}

	// verify catches a damaged file in storage/archive/ (same size).
	// Bit rot keeps the file's size and times.
	damaged := filepath.Join(b2, "storage", "archive", "2.txt")
	before, err := os.Stat(damaged)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(damaged, 0o644)
	if err := os.WriteFile(damaged, []byte("SECOND FILE"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(damaged, before.Mode())
	os.Chtimes(damaged, before.ModTime(), before.ModTime())
	r = f.run("verify", filepath.Base(b2))
	if r.code != 9 || !strings.Contains(r.stdout, "content: storage/archive/2.txt") {
		t.Errorf("verify of a damaged archive file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// verify recorded it: the next backup copies it afresh instead of
	// linking the damaged copy again.
	b3 := f.mustBackup()
	if data, _ := os.ReadFile(filepath.Join(b3, "storage", "archive", "2.txt")); string(data) != "second file" {
		t.Errorf("the backup after verify found damage holds %q", data)
	}
	if r := f.run("verify", filepath.Base(b3)); r.code != 0 {
		t.Errorf("verify of the backup after the damage: exit %d\n%s", r.code, r.stdout)
	}
	if r := f.run("prune"); r.code != 0 {
		t.Errorf("prune: exit %d\n%s", r.code, r.stderr)
	}
}

// BACKUP_FILES=off: a database-only backup that list, verify and restore
// describe as such.
func TestDatabaseOnlyBackup(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_FILES"] = "off"
	os.RemoveAll(f.uploads) // not needed
	b := f.mustBackup()
	m, err := manifest.Load(b)
	if err != nil || m.Format != 2 || m.Files != manifest.FilesOff || m.HasUploads() {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(b, "uploads")); err == nil {
		t.Error("a database-only backup has uploads/")
	}
	if r := f.run("list"); r.code != 0 || !strings.Contains(r.stdout, "database only") {
		t.Errorf("list: exit %d\n%s", r.code, r.stdout)
	}
	if r := f.run("verify"); r.code != 0 || !strings.Contains(r.stdout, "database-only backup") {
		t.Errorf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := f.run("restore", "--uploads"); r.code != 2 || !strings.Contains(r.stderr, "database-only backup") {
		t.Errorf("restore --uploads: exit %d\n%s", r.code, r.stderr)
	}
	want := f.tableData(f.db)
	f.execAsUser(f.db, "DELETE FROM articles;")
	r := f.run("restore", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "database-only backup") {
		t.Fatalf("restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	compareData(t, "database after restore", f.tableData(f.db), want)
}

// An unknown driver is refused as a bad setting, an s3 location that
// cannot be reached fails naming its endpoint setting, and without a local
// location no uploads folder is asked for.
func TestStorageRefusals(t *testing.T) {
	f := newFixture(t)
	f.env["STORAGE_LOCATIONS"] = "files"
	f.env["STORAGE_FILES_DRIVER"] = "s3"
	f.env["STORAGE_FILES_BUCKET"] = "directus-files"
	f.env["STORAGE_FILES_KEY"] = "AKIAEXAMPLE"
	f.env["STORAGE_FILES_SECRET"] = "s3-secret-value"
	delete(f.env, "BACKUP_UPLOADS_DIR")
	os.RemoveAll(f.uploads)
	f.env["STORAGE_FILES_DRIVER"] = "gcs"
	r := f.run("backup")
	if r.code != 2 || !strings.Contains(r.stderr, `STORAGE_FILES_DRIVER="gcs" is invalid`) || !strings.Contains(r.stderr, "accepted: local or s3") {
		t.Errorf("backup with a gcs location: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(f.backups); err == nil {
		t.Error("the backups folder was created for a refused run")
	}
	f.env["STORAGE_FILES_DRIVER"] = "s3"
	f.env["STORAGE_FILES_ENDPOINT"] = "http://127.0.0.1:1" // nothing listens there
	r = f.run("backup")
	if r.code == 0 || !strings.Contains(r.stderr, "s3://directus-files/") || !strings.Contains(r.stderr, "STORAGE_FILES_ENDPOINT") ||
		strings.Contains(r.stderr, "uploads folder") || strings.Contains(r.stderr, "s3-secret-value") {
		t.Errorf("backup with an s3 location: exit %d\n%s", r.code, r.stderr)
	}
	if len(f.backupNames()) != 0 {
		t.Errorf("backups made: %v", f.backupNames())
	}
	r = f.run("doctor")
	if strings.Contains(r.stdout, "uploads folder") || !strings.Contains(r.stdout, "storage location files (s3)") {
		t.Errorf("doctor without a local location:\n%s", r.stdout)
	}

}

// doctor explains the compose mapping when the .env's folder is a path
// inside the container.
func TestDoctorExplainsComposeMapping(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "BACKUP_UPLOADS_DIR")
	f.env["STORAGE_LOCAL_ROOT"] = "/directus/uploads"
	r := f.run("doctor")
	if r.code == 0 || !strings.Contains(r.stdout, "/directus/uploads") ||
		!strings.Contains(r.stdout, "set BACKUP_UPLOADS_DIR to the host folder mounted there") {
		t.Errorf("doctor: exit %d\n%s", r.code, r.stdout)
	}
}
