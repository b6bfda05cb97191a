package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// sealerName is the data object name of content sum in this fixture's
// plain bucket.
func (o *ofsFixture) sealerName(t *testing.T, sum string) string {
	t.Helper()
	s, err := seal.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Name(sum)
}

// TestOffsiteAreas: an instance with STORAGE_LOCATIONS=local,archive and
// an extensions folder is pushed whole (a changed archive file is the only
// data object the next push sends), restored from the bucket alone after
// BACKUPS_DIR and the live folders are gone, and a damaged archive object
// is found by offsite verify --read-data. A database-only backup is pushed
// and restored too.
func TestOffsiteAreas(t *testing.T) {
	o := newOffsiteFixture(t, false)
	archive := filepath.Join(o.dir, "archive")
	writeTree(t, archive, map[string]string{"x/1.pdf": "pdf bytes", "2.txt": "second file", "same.txt": "jpeg bytes"})
	ext := filepath.Join(o.dir, "extensions")
	writeTree(t, ext, map[string]string{"my-hook/index.js": "export default () => {}", "my-hook/package.json": "{}"})
	o.env["STORAGE_LOCATIONS"] = "local,archive"
	o.env["STORAGE_ARCHIVE_DRIVER"] = "local"
	o.env["STORAGE_ARCHIVE_ROOT"] = archive

	// The backup run pushes it (it exited 14 when storage/ was refused).
	if r := o.run("backup"); r.code != 0 {
		t.Fatalf("backup with the push: exit %d\n%s", r.code, r.stderr)
	}
	names := o.backupNames()
	if len(names) != 1 {
		t.Fatalf("backups: %v", names)
	}
	ix := o.index(names[0])
	if want := []string{"uploads", "storage/archive", "extensions"}; !slices.Equal(ix.Areas, want) {
		t.Errorf("index areas %v, want %v", ix.Areas, want)
	}
	for _, meta := range []string{"files.jsonl", "manifest.storage.archive.jsonl", "manifest.extensions.jsonl"} {
		if _, ok := ix.Meta[meta]; !ok {
			t.Errorf("index has no meta object %s: %v", meta, ix.Meta)
		}
	}

	// One archive file changed: exactly its object is sent, plus the meta.
	writeTree(t, archive, map[string]string{"2.txt": "second file, changed"})
	b2 := o.localBackup()
	before := o.objectFiles("data/")
	r := o.push(nil)
	if len(r.Backups) != 1 || r.Backups[0].Backup != b2 {
		t.Fatalf("second push: %+v", r.Backups)
	}
	p := r.Backups[0]
	t.Logf("second push: %d of %d objects sent, files %d of %d, dump pieces %d of %d, meta %d bytes",
		p.ObjectsSent, p.Objects, p.FilesSent, p.Files, p.DumpPiecesSent, p.DumpPieces, p.MetaBytes)
	// The dump's first and last pieces change every time: pg_dump writes
	// a random \restrict key at both ends. Nothing else may be sent.
	if p.FilesSent != 1 || p.FileBytesSent != int64(len("second file, changed")) || p.DumpPiecesSent > 2 ||
		p.ObjectsSent != p.FilesSent+p.DumpPiecesSent {
		t.Errorf("second push: %+v; want exactly the changed archive file sent (and at most the dump's two end pieces)", p)
	}
	after := o.objectFiles("data/")
	newName := o.sealerName(t, sha256Hex([]byte("second file, changed")))
	if int64(len(after)) != int64(len(before))+p.ObjectsSent || after[dataKeyOf(newName)] == 0 {
		t.Errorf("data objects: %d before, %d after; want %d more, %s among them", len(before), len(after), p.ObjectsSent, dataKeyOf(newName))
	}
	// Prune keeps every object an index references, those of
	// storage/ and extensions/ included.
	o.prune(nil, "--grace", "0s")
	o.verifyOK(nil, "--all", "--read-data")

	wantUploads, wantArchive, wantExt := treeState(t, o.uploads), treeState(t, archive), treeState(t, ext)
	wantData := o.tableData(o.db)

	// Everything local is gone: the bucket alone brings it back.
	for _, d := range []string{o.backups, o.uploads, archive, ext} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	db2 := testpg.UniqueName("offareas")
	if r := o.run("restore", "--offsite", "--target-db", db2, "--create"); r.code != 0 {
		t.Fatalf("restore --offsite: exit %d\n%s", r.code, r.stderr)
	}
	if r := o.run("restore", "--offsite", "--extensions"); r.code != 0 {
		t.Fatalf("restore --offsite --extensions: exit %d\n%s", r.code, r.stderr)
	}
	compareData(t, "database restored from the bucket", o.tableData(db2), wantData)
	compareTrees(t, "uploads restored from the bucket", treeState(t, o.uploads), wantUploads)
	compareTrees(t, "archive restored from the bucket", treeState(t, archive), wantArchive)
	compareTrees(t, "extensions restored from the bucket", treeState(t, ext), wantExt)

	// --location picks one location.
	os.RemoveAll(archive)
	if r := o.run("restore", "--offsite", "--location", "archive"); r.code != 0 {
		t.Fatalf("restore --offsite --location archive: exit %d\n%s", r.code, r.stderr)
	}
	compareTrees(t, "archive restored alone", treeState(t, archive), wantArchive)

	// A damaged archive object is found.
	damage(t, filepath.Join(o.srv.BucketDir(o.bucket), dataKeyOf(o.sealerName(t, sha256Hex([]byte("pdf bytes"))))))
	vr := o.run("offsite", "verify", "--read-data")
	if vr.code != 9 || !strings.Contains(vr.stdout+vr.stderr, o.sealerName(t, sha256Hex([]byte("pdf bytes")))) {
		t.Errorf("offsite verify --read-data with a damaged archive object: exit %d\n%s\n%s", vr.code, vr.stdout, vr.stderr)
	}

	// A database-only backup is pushed by the backup run and restored.
	if r := o.runWith(map[string]string{"BACKUP_FILES": "off"}, "backup"); r.code != 0 {
		t.Fatalf("database-only backup with the push: exit %d\n%s", r.code, r.stderr)
	}
	l := o.list()
	newest := l.Backups[0] // newest first
	if ix := o.index(newest.Backup); len(ix.Areas) != 0 || ix.Files != 0 {
		t.Errorf("database-only index: areas %v, files %d", ix.Areas, ix.Files)
	}
	db3 := testpg.UniqueName("offareas")
	if r := o.run("restore", "--offsite", "--target-db", db3, "--create"); r.code != 0 {
		t.Fatalf("restore --offsite of the database-only backup: exit %d\n%s", r.code, r.stderr)
	}
	compareData(t, "database-only restored from the bucket", o.tableData(db3), wantData)
	if r := o.run("restore", "--offsite", "--uploads"); r.code != 2 || !strings.Contains(r.stderr, "database-only") {
		t.Errorf("restore --offsite --uploads of a database-only backup: exit %d\n%s", r.code, r.stderr)
	}
}

// TestOffsiteS3Location: an s3 storage location is pushed like the others
// and restored from the bucket alone into its emptied bucket (by default,
// with the database), or into a folder with --target-dir.
func TestOffsiteS3Location(t *testing.T) {
	s := newS3LocFixture(t)
	offBucket := s.srv.NewBucket(t, false)
	for k, v := range map[string]string{
		"BACKUP_S3_ENDPOINT": "http://" + s.srv.Endpoint, "BACKUP_S3_BUCKET": offBucket, "BACKUP_S3_PATH_STYLE": "true",
		"BACKUP_S3_ACCESS_KEY_ID": s.srv.AccessKey, "BACKUP_S3_SECRET_ACCESS_KEY": s.srv.SecretKey, "BACKUP_S3_REGION": "us-east-1",
	} {
		s.env[k] = v
	}
	s.put(s.bucket, "directus/a.jpg", "a")
	s.put(s.bucket, "directus/b/c.png", "c")
	if r := s.run("backup"); r.code != 0 {
		t.Fatalf("backup with the push: exit %d\n%s", r.code, r.stderr)
	}
	want := s.objects(s.bucket, "directus/")
	wantData := s.tableData(s.db)
	os.RemoveAll(s.backups)
	for k := range want {
		if err := s.c.RemoveObject(context.Background(), s.bucket, "directus/"+k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.objects(s.bucket, "directus/"); len(got) != 0 {
		t.Fatalf("objects left in the bucket: %v", got)
	}
	db2 := testpg.UniqueName("offs3")
	if r := s.run("restore", "--offsite", "--target-db", db2, "--create"); r.code != 0 {
		t.Fatalf("restore --offsite with an s3 location: exit %d\n%s", r.code, r.stderr)
	}
	compareData(t, "database restored from the bucket", s.tableData(db2), wantData)
	if got := s.objects(s.bucket, "directus/"); !maps.Equal(got, want) {
		t.Errorf("the s3 location restored from the offsite copy: %v, want %v", got, want)
	}
	dir := filepath.Join(s.dir, "s3-files")
	if r := s.run("restore", "--offsite", "--location", "s3", "--target-dir", dir); r.code != 0 {
		t.Fatalf("restore --offsite --location s3 --target-dir: exit %d\n%s", r.code, r.stderr)
	}
	checkFolder(t, dir, want)
}

// TestOffsiteOlderCopyWithoutExtensions: a copy as older versions pushed it
// (the extensions left local: no entry list for them, no "areas" in the
// index) still verifies and restores; a restore of its extensions is
// refused, naming them, before anything is done.
func TestOffsiteOlderCopyWithoutExtensions(t *testing.T) {
	o := newOffsiteFixture(t, false)
	ext := filepath.Join(o.dir, "extensions")
	writeTree(t, ext, map[string]string{"my-hook/index.js": "export default () => {}"})
	if r := o.run("backup"); r.code != 0 {
		t.Fatalf("backup with the push: exit %d\n%s", r.code, r.stderr)
	}
	b := o.backupNames()[0]
	// Make it what an older version pushed.
	p := filepath.Join(o.srv.BucketDir(o.bucket), "backups", b, "index.json")
	var ix map[string]any
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ix); err != nil {
		t.Fatal(err)
	}
	delete(ix, "areas")
	meta := ix["meta"].(map[string]any)
	if _, ok := meta["manifest.extensions.jsonl"]; !ok {
		t.Fatalf("the push did not carry the extensions: %v", meta)
	}
	delete(meta, "manifest.extensions.jsonl")
	if data, err = json.Marshal(ix); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	o.verifyOK(nil, "--read-data")
	want := treeState(t, o.uploads)
	os.RemoveAll(o.uploads)
	os.RemoveAll(ext)
	if r := o.run("restore", "--offsite", "--extensions"); r.code != 2 || !strings.Contains(r.stderr, "holds no copy of extensions") {
		t.Errorf("restore --offsite --extensions of an older copy: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Lstat(ext); err == nil {
		t.Error("the refused restore created the extensions folder")
	}
	if r := o.run("restore", "--offsite", "--uploads"); r.code != 0 {
		t.Fatalf("restore --offsite --uploads of an older copy: exit %d\n%s", r.code, r.stderr)
	}
	compareTrees(t, "uploads restored from an older copy", treeState(t, o.uploads), want)
}
