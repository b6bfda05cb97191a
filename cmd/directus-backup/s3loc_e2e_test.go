package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

// s3locFixture is a deployment with a second storage location in a bucket
// (STORAGE_S3_DRIVER=s3), as Directus's .env describes it.
type s3locFixture struct {
	*fixture
	srv    tests3.Server
	c      *minio.Client
	bucket string
}

func newS3LocFixture(t *testing.T) *s3locFixture {
	t.Helper()
	srv := tests3.Get(t)
	f := newFixture(t)
	s := &s3locFixture{fixture: f, srv: srv, c: srv.Client(t), bucket: srv.NewBucket(t, false)}
	for k, v := range map[string]string{
		"STORAGE_LOCATIONS":           "local,s3",
		"STORAGE_S3_DRIVER":           "s3",
		"STORAGE_S3_KEY":              srv.AccessKey,
		"STORAGE_S3_SECRET":           srv.SecretKey,
		"STORAGE_S3_BUCKET":           s.bucket,
		"STORAGE_S3_REGION":           "us-east-1",
		"STORAGE_S3_ENDPOINT":         "http://" + srv.Endpoint,
		"STORAGE_S3_FORCE_PATH_STYLE": "true",
		"STORAGE_S3_ROOT":             "directus",
	} {
		f.env[k] = v
	}
	return s
}

func (s *s3locFixture) put(bucket, key, data string) {
	s.t.Helper()
	if _, err := s.c.PutObject(context.Background(), bucket, key, strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		s.t.Fatal(err)
	}
}

// objects reads every object of bucket under prefix: key below it -> bytes.
func (s *s3locFixture) objects(bucket, prefix string) map[string]string {
	s.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for o := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			s.t.Fatal(o.Err)
		}
		obj, err := s.c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			s.t.Fatal(err)
		}
		out[strings.TrimPrefix(o.Key, prefix)] = string(data)
	}
	return out
}

// location returns the s3 location's record in a backup's manifest.
func s3Location(t *testing.T, backup string) manifest.Location {
	t.Helper()
	m, err := manifest.Load(backup)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := m.Location("s3")
	if !ok {
		t.Fatalf("%s: no s3 location in the manifest", backup)
	}
	return l
}

// An S3 storage location is copied into the backup incrementally: a second
// backup downloads only the changed and new objects; verify checks it like
// local files.
func TestS3LocationBackup(t *testing.T) {
	s := newS3LocFixture(t)
	for i := range 12 {
		key := fmt.Sprintf("directus/%02d.jpg", i)
		if i%3 == 0 {
			key = fmt.Sprintf("directus/folder/%02d.png", i)
		}
		s.put(s.bucket, key, strings.Repeat(fmt.Sprint(i), 100+i))
	}
	s.put(s.bucket, "not-directus/x.txt", "outside the root")

	b1 := s.mustBackup()
	l1 := s3Location(t, b1)
	if l1.Driver != "s3" || l1.Bucket != s.bucket || l1.Prefix != "directus/" || l1.Files != 12 || l1.Copied != 12 {
		t.Fatalf("first backup's s3 location: %+v", l1)
	}
	checkFolder(t, filepath.Join(b1, "storage", "s3"), s.objects(s.bucket, "directus/"))

	s.put(s.bucket, "directus/01.jpg", "changed")
	s.put(s.bucket, "directus/folder/03.png", strings.Repeat("x", 103)) // same size: the ETag tells
	if err := s.c.RemoveObject(context.Background(), s.bucket, "directus/02.jpg", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.put(s.bucket, "directus/folder/new.webp", "new")

	b2 := s.mustBackup()
	l2 := s3Location(t, b2)
	t.Logf("second backup: %d objects, %d downloaded (%d bytes), %d linked", l2.Files, l2.Copied, l2.CopiedBytes, l2.Linked)
	if l2.Files != 12 || l2.Copied != 3 || l2.Linked != 9 || l2.Previous != filepath.Base(b1) {
		t.Errorf("second backup's s3 location: %+v, want 12 objects, 3 downloaded, 9 linked", l2)
	}
	checkFolder(t, filepath.Join(b2, "storage", "s3"), s.objects(s.bucket, "directus/"))

	if r := s.run("verify"); r.code != 0 {
		t.Errorf("verify exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Restore into an empty bucket, under another prefix: every object
	// comes back with its bytes; a second restore uploads nothing.
	want := s.objects(s.bucket, "directus/")
	other := s.srv.NewBucket(t, false)
	r := s.run("restore", "--location", "s3", "--to-bucket", other, "--to-prefix", "restored")
	if r.code != 0 || !strings.Contains(r.stdout, "12 uploaded") {
		t.Fatalf("restore into an empty bucket: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("restore: %s", strings.TrimSpace(r.stdout))
	if got := s.objects(other, "restored/"); !maps.Equal(got, want) {
		t.Errorf("restored bucket differs: %d objects, want %d", len(got), len(want))
	}
	r = s.run("restore", "--json", "--location", "s3", "--to-bucket", other, "--to-prefix", "restored")
	var doc struct {
		Locations []struct {
			Name string
			S3   struct{ Uploaded, Skipped int64 }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 || len(doc.Locations) != 1 ||
		doc.Locations[0].S3.Uploaded != 0 || doc.Locations[0].S3.Skipped != 12 {
		t.Errorf("second restore (exit %d, %v): %+v, want 0 uploaded, 12 skipped\n%s", r.code, err, doc, r.stdout)
	}

	// Disaster: the bucket's objects are gone. A plain restore (database
	// and every location) puts them back into their own bucket.
	for k := range want {
		if err := s.c.RemoveObject(context.Background(), s.bucket, "directus/"+k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.put(s.bucket, "directus/stray.txt", "not in the backup")
	if r := s.run("restore", "--yes", "--delete"); r.code != 0 {
		t.Fatalf("restore of everything: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := s.objects(s.bucket, "directus/"); !maps.Equal(got, want) {
		t.Errorf("the bucket after restore --delete differs: %d objects, want %d", len(got), len(want))
	}

	// A damaged copy is found by verify, like a local file.
	p := filepath.Join(b2, "storage", "s3", "folder", "new.webp")
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.run("verify"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "new.webp") {
		t.Errorf("verify of a damaged s3 copy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// An instance whose only storage location is a bucket (the recipe in
// docs/directus.md) backs up and verifies without an uploads folder.
func TestS3LocationOnly(t *testing.T) {
	s := newS3LocFixture(t)
	s.env["STORAGE_LOCATIONS"] = "s3"
	delete(s.env, "BACKUP_UPLOADS_DIR")
	os.RemoveAll(s.uploads)
	s.put(s.bucket, "directus/a.jpg", "a")
	s.put(s.bucket, "directus/b/c.png", "c")
	// Directus's file table names the bucket's objects by location: one
	// row's object is missing, and b/c.png has no row.
	s.execAsUser(s.db, `ALTER TABLE directus_files ADD COLUMN storage text;
INSERT INTO directus_files VALUES ('00000000-0000-0000-0000-000000000001', 'a.jpg', 1, 's3'),
  ('00000000-0000-0000-0000-000000000002', 'gone.jpg', 1, 's3');`)
	r := s.run("backup")
	if r.code != 0 || !strings.Contains(r.stdout, "2 objects") {
		t.Fatalf("backup: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, `missing: "gone.jpg"`) || !strings.Contains(r.stdout, `no directus_files row: "b/c.png"`) {
		t.Errorf("the file table check of the s3 location:\n%s", r.stdout)
	}
	b := s.latest()
	if _, err := os.Stat(filepath.Join(b, "uploads")); !os.IsNotExist(err) {
		t.Errorf("uploads/ in a backup without a local location: %v", err)
	}
	checkFolder(t, filepath.Join(b, "storage", "s3"), s.objects(s.bucket, "directus/"))
	if r := s.run("verify"); r.code != 0 {
		t.Errorf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := s.run("list"); !strings.Contains(r.stdout, "storage/s3") {
		t.Errorf("list does not show storage/s3:\n%s", r.stdout)
	}
}

// Wrong S3 credentials fail the backup with an error naming the settings,
// leave no backup that looks complete, and no secret in the error folder.
func TestS3LocationWrongCredentials(t *testing.T) {
	s := newS3LocFixture(t)
	s.put(s.bucket, "directus/a.jpg", "a")
	good := s.mustBackup()
	s.env["STORAGE_S3_SECRET"] = "wrong-secret-value"
	r := s.run("backup")
	if r.code == 0 {
		t.Fatalf("backup with a wrong secret succeeded:\n%s", r.stderr)
	}
	t.Logf("exit %d: %s", r.code, lastLines(r.stderr, 4))
	out := r.stdout + r.stderr
	for _, want := range []string{"STORAGE_S3_KEY", "STORAGE_S3_SECRET"} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not name %s:\n%s", want, out)
		}
	}
	if names := s.backupNames(); len(names) != 1 || s.latest() != good {
		t.Errorf("after the failed backup: %v, latest %s; want only %s", names, s.latest(), good)
	}
	for _, d := range s.errorDirs() {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				data, _ := os.ReadFile(p)
				if bytes.Contains(data, []byte("wrong-secret-value")) || bytes.Contains(data, []byte(s.srv.AccessKey)) {
					t.Errorf("%s holds the S3 key or secret", p)
				}
			}
			return nil
		})
	}
	if strings.Contains(out, "wrong-secret-value") || strings.Contains(out, s.srv.AccessKey) {
		t.Error("the S3 key or secret is in the output")
	}
}

// Restores into a bucket that cannot be right are refused before any
// upload: a tampered entry list, --to-bucket without an s3 location, and
// an s3 location the settings no longer have.
func TestS3LocationRestoreRefusals(t *testing.T) {
	s := newS3LocFixture(t)
	s.put(s.bucket, "directus/a.jpg", "a")
	b := s.mustBackup()
	other := s.srv.NewBucket(t, false)

	r := s.run("restore", "--uploads", "--to-bucket", other)
	if r.code != 2 || !strings.Contains(r.stderr, "--to-bucket") {
		t.Errorf("--to-bucket with uploads only: exit %d\n%s", r.code, r.stderr)
	}

	list := filepath.Join(b, "manifest.storage.s3.jsonl")
	data, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(list, 0o600)
	if err := os.WriteFile(list, append(data, ' '), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.run("restore", "--location", "s3", "--to-bucket", other)
	if r.code != 13 || !strings.Contains(r.stderr, "checksum") {
		t.Errorf("restore with a tampered entry list: exit %d\n%s", r.code, r.stderr)
	}
	if got := s.objects(other, ""); len(got) != 0 {
		t.Errorf("objects uploaded from a tampered backup: %v", got)
	}
	os.WriteFile(list, data, 0o600)

	s.env["STORAGE_LOCATIONS"] = "local"
	r = s.run("restore", "--location", "s3")
	if r.code != 2 || !strings.Contains(r.stderr, "STORAGE_S3_DRIVER=s3") {
		t.Errorf("restore of an s3 location the settings lack: exit %d\n%s", r.code, r.stderr)
	}
}

// doctor lists and reads the bucket with the location's key, and names the
// settings when it cannot.
func TestS3LocationDoctor(t *testing.T) {
	s := newS3LocFixture(t)
	s.put(s.bucket, "directus/a.jpg", "a")
	r := s.run("doctor")
	if !strings.Contains(r.stdout, "s3 bucket of s3") || !strings.Contains(r.stdout, "can be listed and read") {
		t.Errorf("doctor (exit %d) does not report the bucket readable:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s.env["STORAGE_S3_SECRET"] = "wrong-secret-value"
	r = s.run("doctor")
	if r.code == 0 || !strings.Contains(r.stdout, "STORAGE_S3_SECRET") {
		t.Errorf("doctor with a wrong secret: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// checkFolder compares a backup's copy of a location with the bucket.
func checkFolder(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = string(data)
		}
		return nil
	})
	if len(got) != len(want) {
		t.Errorf("%s: %d files, the bucket has %d objects", dir, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal([]byte(g), []byte(v)) {
			t.Errorf("%s: %s not copied with its bytes", dir, k)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
