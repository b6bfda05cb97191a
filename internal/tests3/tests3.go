// Package tests3 gives tests a real S3 server: the versitygw gateway that
// scripts/test.sh starts (scripts/s3.sh) and describes in
// DIRECTUS_BACKUP_TEST_S3_* variables. Its posix backend keeps each object
// as a plain file under Dir, so tests can look at what reached the bucket.
//
// Without those variables the tests that need a server are skipped, unless
// DIRECTUS_BACKUP_TEST_REQUIRE_PG is set (scripts/test.sh sets it and always
// starts both servers), in which case they fail: CI must never pass by
// skipping.
package tests3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is the address and root credentials of the test gateway.
type Server struct {
	Endpoint  string // host:port, plain http
	AccessKey string
	SecretKey string
	Dir       string // the posix backend's root: one folder per bucket
}

// Get returns the test server, or skips (or fails, when required) the test.
func Get(t testing.TB) Server {
	t.Helper()
	s := Server{
		Endpoint:  os.Getenv("DIRECTUS_BACKUP_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("DIRECTUS_BACKUP_TEST_S3_SECRET_KEY"),
		Dir:       os.Getenv("DIRECTUS_BACKUP_TEST_S3_DIR"),
	}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" || s.Dir == "" {
		if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
			t.Fatal("DIRECTUS_BACKUP_TEST_REQUIRE_PG is set but no S3 test server is described; run scripts/test.sh")
		}
		t.Skip("no S3 test server; run scripts/test.sh")
	}
	return s
}

// Client returns a client with the root credentials (plain http).
func (s Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: false,
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewBucket creates a bucket with a unique name and returns the name. When
// the test passes, the bucket and its objects are removed at cleanup; a
// failed test leaves them for a look under BucketDir. An object-locked
// bucket whose objects are still under retention cannot be emptied and is
// left behind (scripts/test.sh removes the whole server at the end).
func (s Server) NewBucket(t testing.TB, objectLock bool) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "test-" + hex.EncodeToString(b)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bucket %s left for inspection in %s", name, s.BucketDir(name))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeBucket(ctx, c, name); err != nil && !objectLock {
			t.Errorf("remove bucket %s: %v", name, err)
		}
	})
	return name
}

// removeBucket deletes every object (and version) of a bucket, then the
// bucket. Governance-mode retention is bypassed; compliance mode is not.
func removeBucket(ctx context.Context, c *minio.Client, name string) error {
	objs := make(chan minio.ObjectInfo)
	var listErr error
	go func() {
		defer close(objs)
		for o := range c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			objs <- o
		}
	}()
	var err error
	// Drain every result so that the listing goroutine never blocks.
	for r := range c.RemoveObjects(ctx, name, objs, minio.RemoveObjectsOptions{GovernanceBypass: true}) {
		if r.Err != nil && err == nil {
			err = r.Err
		}
	}
	if err == nil {
		err = listErr
	}
	if err != nil {
		return err
	}
	return c.RemoveBucket(ctx, name)
}

// BucketDir is the folder that holds the bucket's objects on disk.
func (s Server) BucketDir(bucket string) string {
	return filepath.Join(s.Dir, bucket)
}

// NewUser makes an account that may do only actions (e.g. "s3:PutObject")
// on bucket and its objects, and returns its keys. It needs the gateway's
// admin CLI (DIRECTUS_BACKUP_TEST_S3_BIN, exported by scripts/s3.sh).
func (s Server) NewUser(t testing.TB, bucket string, actions ...string) (access, secret string) {
	t.Helper()
	bin := os.Getenv("DIRECTUS_BACKUP_TEST_S3_BIN")
	if bin == "" {
		t.Fatal("DIRECTUS_BACKUP_TEST_S3_BIN is not set; run scripts/test.sh")
	}
	b := make([]byte, 8)
	rand.Read(b)
	access, secret = "user"+hex.EncodeToString(b), "secret"+hex.EncodeToString(b)+hex.EncodeToString(b)
	cmd := exec.Command(bin, "admin", "--endpoint-url", "http://"+s.Endpoint, "create-user",
		"--access", access, "--secret", secret, "--role", "user")
	// The admin keys through the environment, as scripts/s3.sh does.
	cmd.Env = append(os.Environ(), "ADMIN_ACCESS_KEY_ID="+s.AccessKey, "ADMIN_SECRET_ACCESS_KEY="+s.SecretKey)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create user: %v\n%s", err, out)
	}
	acts, _ := json.Marshal(actions)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":[%q]},"Action":%s,"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`,
		access, acts, bucket, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).SetBucketPolicy(ctx, bucket, policy); err != nil {
		t.Fatalf("set the bucket policy: %v", err)
	}
	return access, secret
}
