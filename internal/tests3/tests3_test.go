package tests3

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The plumbing: an object put through the server reads back the same and
// lies as a plain file under the bucket's folder.
func TestPutGetOnDisk(t *testing.T) {
	s := Get(t)
	c := s.Client(t)
	bucket := s.NewBucket(t, false)
	ctx := context.Background()
	body := []byte("tests3 plumbing " + bucket)
	if _, err := c.PutObject(ctx, bucket, "dir/obj", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetObject(ctx, bucket, "dir/obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	o.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get = %q, %v; want %q", got, err, body)
	}
	onDisk, err := os.ReadFile(filepath.Join(s.BucketDir(bucket), "dir", "obj"))
	if err != nil || !bytes.Equal(onDisk, body) {
		t.Fatalf("file under the bucket's folder = %q, %v; want %q", onDisk, err, body)
	}
}

// Object lock works on the test server as on AWS S3 (scripts/s3.sh starts
// versitygw with a versioning folder, so a locked bucket is versioned): the
// retention can be extended, an overwrite or a plain delete only hides the
// retained version behind a newer one, and deleting that version is
// refused.
func TestObjectLock(t *testing.T) {
	s := Get(t)
	c := s.Client(t)
	bucket := s.NewBucket(t, true)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	mode := minio.Governance
	info, err := c.PutObject(ctx, bucket, "locked", bytes.NewReader([]byte("x")), 1,
		minio.PutObjectOptions{Mode: mode, RetainUntilDate: until})
	if err != nil {
		t.Fatal(err)
	}
	if info.VersionID == "" {
		t.Fatal("a locked bucket gave no version id: versioning is off")
	}
	later := until.Add(24 * time.Hour)
	if err := c.PutObjectRetention(ctx, bucket, "locked", minio.PutObjectRetentionOptions{
		Mode: &mode, RetainUntilDate: &later, VersionID: info.VersionID}); err != nil {
		t.Fatalf("extend retention: %v", err)
	}
	// versitygw v1.8.0 answers GetObjectRetention with an XML root that
	// minio-go v7.4.1 does not parse (ObjectLockRetention, not Retention);
	// the headers of the current version carry the same date.
	st, err := c.StatObject(ctx, bucket, "locked", minio.StatObjectOptions{VersionID: info.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := time.Parse(time.RFC3339, st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	if err != nil || !got.Equal(later) {
		t.Fatalf("retain-until = %v, %v (headers %v); want %v", got, err, st.Metadata, later)
	}

	if _, err := c.PutObject(ctx, bucket, "locked", bytes.NewReader([]byte("y")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("overwrite (a new version): %v", err)
	}
	if err := c.RemoveObject(ctx, bucket, "locked", minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("delete without a version (a delete marker): %v", err)
	}
	if err := c.RemoveObject(ctx, bucket, "locked", minio.RemoveObjectOptions{VersionID: info.VersionID}); err == nil {
		t.Fatal("deleting the retained version succeeded")
	}
	o, err := c.GetObject(ctx, bucket, "locked", minio.GetObjectOptions{VersionID: info.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(o)
	o.Close()
	if err != nil || string(data) != "x" {
		t.Fatalf("retained version = %q, %v; want \"x\"", data, err)
	}
}
