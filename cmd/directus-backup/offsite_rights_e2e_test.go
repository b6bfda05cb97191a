package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/directus-backup/directus-backup/internal/tests3"
)

// What a stolen backup host can do with its own key, as docs/offsite.md
// describes it: with a key that may put, get and list (no delete), and with
// only public keys on the host, backups are pushed, but the copies can be
// neither deleted nor read.
func TestOffsiteHostKeyCannotDeleteOrRead(t *testing.T) {
	s3 := tests3.Get(t)
	f := newFixture(t)
	bucket := s3.NewBucket(t, false)
	access, secret := s3.NewUser(t, bucket, "s3:ListBucket", "s3:GetObject", "s3:PutObject")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	f.env["BACKUP_S3_ENDPOINT"] = "http://" + s3.Endpoint
	f.env["BACKUP_S3_BUCKET"] = bucket
	f.env["BACKUP_S3_ACCESS_KEY_ID"] = access
	f.env["BACKUP_S3_SECRET_ACCESS_KEY"] = secret
	f.env["BACKUP_AGE_RECIPIENTS"] = id.Recipient().String()

	// The host pushes (backup does it by itself).
	f.mustBackup()
	r := f.run("offsite", "list", "--json")
	if r.code != 0 {
		t.Fatalf("offsite list: exit %d\n%s", r.code, r.stderr)
	}
	var list struct {
		Backups []struct{ Backup string } `json:"backups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Backups) != 1 {
		t.Fatalf("offsite list: %v %s", err, r.stdout)
	}
	before := bucketFiles(t, s3.BucketDir(bucket))

	// doctor says this key cannot delete.
	r = f.run("doctor", "--json")
	if !strings.Contains(r.stdout, "these credentials cannot delete") {
		t.Errorf("doctor does not say the key cannot delete:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Error("doctor printed the S3 secret")
	}

	// prune with the host's key: refused, nothing deleted.
	f.env["BACKUP_OFFSITE_RETENTION_COUNT"] = "1"
	f.env["BACKUP_OFFSITE_RETENTION_DAYS"] = "0"
	f.mustBackup() // a second backup, so prune has one to remove
	before = bucketFiles(t, s3.BucketDir(bucket))
	r = f.run("offsite", "prune", "--grace", "0s")
	if r.code != 14 {
		t.Errorf("offsite prune with a key that may not delete: exit %d, want 14\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "lack the right") {
		t.Errorf("prune's error does not say the key lacks the right:\n%s", r.stderr)
	}
	after := bucketFiles(t, s3.BucketDir(bucket))
	for p := range before {
		if !after[p] {
			t.Errorf("%s was deleted with the host's key", p)
		}
	}

	// Reading data back needs the private key, which the host does not have.
	r = f.run("offsite", "verify", "--read-data")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "BACKUP_AGE_IDENTITY_FILE") {
		t.Errorf("verify --read-data without the private key: exit %d, want a message naming BACKUP_AGE_IDENTITY_FILE\n%s%s", r.code, r.stdout, r.stderr)
	}
	// With it (brought from elsewhere) the copy reads back.
	keyFile := filepath.Join(t.TempDir(), "offsite.key")
	os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600)
	f.env["BACKUP_AGE_IDENTITY_FILE"] = keyFile
	if r = f.run("offsite", "verify", "--all", "--read-data"); r.code != 0 {
		t.Errorf("verify --read-data with the private key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	delete(f.env, "BACKUP_AGE_IDENTITY_FILE")

	// A key that may delete prunes.
	f.env["BACKUP_S3_ACCESS_KEY_ID"] = s3.AccessKey
	f.env["BACKUP_S3_SECRET_ACCESS_KEY"] = s3.SecretKey
	if r = f.run("offsite", "prune", "--grace", "0s", "--json"); r.code != 0 {
		t.Fatalf("offsite prune with a key that may delete: exit %d\n%s", r.code, r.stderr)
	}
	var pr struct {
		Removed []string `json:"removed"`
	}
	json.Unmarshal([]byte(r.stdout), &pr)
	if len(pr.Removed) != 1 {
		t.Errorf("prune removed %v, want the older of two backups", pr.Removed)
	}
}

// bucketFiles lists the files under a bucket's folder on the server's disk.
func bucketFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out[rel] = true
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no file under %s", dir)
	}
	return out
}
