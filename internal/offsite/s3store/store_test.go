package s3store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/tests3"
)

func open(t *testing.T, srv tests3.Server, bucket string) *Store {
	t.Helper()
	s, err := Open(Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "p/", Region: "us-east-1",
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: "true"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// versions counts the versions (delete markers too) stored under key.
func versions(t *testing.T, c *minio.Client, bucket, key string) int {
	t.Helper()
	n := 0
	for v := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
		if v.Key == key {
			n++
		}
	}
	return n
}

// Remove deletes an object for good, in a plain bucket and in a versioned
// (object-locked) one, where a plain delete would only add a delete marker;
// a version under retention is refused with ErrLocked and stays readable.
func TestRemove(t *testing.T) {
	srv := tests3.Get(t)
	c := srv.Client(t)
	ctx := context.Background()
	for _, locked := range []bool{false, true} {
		bucket := srv.NewBucket(t, locked)
		s := open(t, srv, bucket)
		for i := range 2 { // two versions in a versioned bucket
			if err := s.Put(ctx, "k", strings.NewReader("v"+string(rune('0'+i))), 2, PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Remove(ctx, "k"); err != nil {
			t.Fatalf("locked=%v: remove: %v", locked, err)
		}
		if n := versions(t, c, bucket, "p/k"); n != 0 {
			t.Errorf("locked=%v: %d versions left after Remove", locked, n)
		}
		if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("locked=%v: stat after Remove: %v, want ErrNotFound", locked, err)
		}
		if err := s.Remove(ctx, "never-there"); err != nil {
			t.Errorf("locked=%v: removing a missing object: %v", locked, err)
		}
		if !locked {
			continue
		}
		if err := s.Put(ctx, "kept", strings.NewReader("x"), 1, PutOptions{RetainUntil: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(ctx, "kept"); !errors.Is(err, ErrLocked) {
			t.Errorf("remove of a retained object: %v, want ErrLocked", err)
		}
		if data, err := s.ReadAll(ctx, "kept"); err != nil || string(data) != "x" {
			t.Errorf("retained object after a refused Remove: %q, %v", data, err)
		}
		if on, err := s.ObjectLock(ctx); err != nil || !on {
			t.Errorf("ObjectLock = %v, %v on a locked bucket", on, err)
		}
	}
}

// A key with the delete right but none for versions still removes: the
// plain delete (a delete marker in a versioned bucket), as before. With the
// version rights too, the versions go.
func TestRemoveWithoutVersionRights(t *testing.T) {
	srv := tests3.Get(t)
	c := srv.Client(t)
	ctx := context.Background()
	bucket := srv.NewBucket(t, true)
	access, secret := srv.NewUser(t, bucket, "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")
	s, err := Open(Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1", AccessKeyID: access, SecretAccessKey: secret, PathStyle: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", strings.NewReader("v"), 1, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "k"); err != nil {
		t.Fatalf("remove with the delete right only: %v", err)
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stat after Remove: %v, want ErrNotFound", err)
	}
	t.Logf("versions left without the version rights: %d", versions(t, c, bucket, "k"))

	access, secret = srv.NewUser(t, bucket, "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
		"s3:ListBucketVersions", "s3:DeleteObjectVersion")
	if s, err = Open(Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1", AccessKeyID: access, SecretAccessKey: secret, PathStyle: "true"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", strings.NewReader("w"), 1, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "k"); err != nil {
		t.Fatalf("remove with the version rights: %v", err)
	}
	if n := versions(t, c, bucket, "k"); n != 0 {
		t.Errorf("%d versions left with the version rights", n)
	}
}
