package offsite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

// fakeBackup writes a complete local backup, as push reads it: a dump, the
// uploads files, their entry list and manifest.json.
func fakeBackup(t *testing.T, dir string, ts int64, files map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("backup_2026-01-01_00-00-00_%d", ts)
	b := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(b, "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	dump := make([]byte, 3000)
	rand.Read(dump)
	if err := os.WriteFile(filepath.Join(b, "db_backup.sql.gz"), dump, 0o600); err != nil {
		t.Fatal(err)
	}
	dsum := sha256.Sum256(dump)
	lf, err := os.Create(filepath.Join(b, manifest.FilesListName))
	if err != nil {
		t.Fatal(err)
	}
	lw := manifest.NewListWriter(lf)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var total int64
	for _, p := range paths {
		if err := os.WriteFile(filepath.Join(b, "uploads", p), []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256([]byte(files[p]))
		lw.Add(manifest.Entry{Path: p, Type: manifest.TypeFile, Size: int64(len(files[p])), Mode: "0644", SHA256: hex.EncodeToString(s[:])})
		total += int64(len(files[p]))
	}
	lw.Close()
	lf.Close()
	m := &manifest.Manifest{Format: manifest.Format, Tool: "directus-backup", Name: name, Timestamp: ts,
		Database: manifest.Database{File: "db_backup.sql.gz", Compression: "gzip", Bytes: int64(len(dump)), SHA256: hex.EncodeToString(dsum[:])},
		Uploads:  manifest.Uploads{Files: int64(len(files)), Bytes: total, ListFile: manifest.FilesListName, ListSHA256: lw.SHA256(), Entries: lw.Count()}}
	if err := manifest.Write(b, m); err != nil {
		t.Fatal(err)
	}
	return name
}

func sumName(content string) string {
	s := sha256.Sum256([]byte(content))
	return hex.EncodeToString(s[:])
}

// A push makes sure the newest backup's objects stay under retention for
// the lock days from now, however old they are: an object the new backup
// shares with an older one gets its retention extended, an object only the
// older one holds does not; and a later push with nothing new extends the
// newest backup again. The clock is injected; the server is real.
func TestPushExtendsRetention(t *testing.T) {
	srv := tests3.Get(t)
	bucket := srv.NewBucket(t, true)
	st, err := s3store.Open(s3store.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1",
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: "true"})
	if err != nil {
		t.Fatal(err)
	}
	sl, _ := seal.New(nil)
	t0 := time.Now().UTC().Truncate(time.Second)
	now := t0
	r := &Remote{Store: st, Sealer: sl, LockDays: 1, Now: func() time.Time { return now }}
	ctx := context.Background()
	dir := t.TempDir()
	c := srv.Client(t)
	retention := func(key string) time.Time {
		t.Helper()
		info, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
		if err != nil {
			t.Fatalf("%s: retain-until %q", key, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
		}
		return u
	}
	near := func(what string, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("%s: retained until %v, want %v", what, got, want)
		}
	}
	shared, old, fresh := "shared content", "only in the first", "only in the second"
	kShared, kOld, kFresh := dataKey(sumName(shared)), dataKey(sumName(old)), dataKey(sumName(fresh))

	b1 := fakeBackup(t, dir, 1000, map[string]string{"s.txt": shared, "o.txt": old})
	if _, err := r.Push(ctx, PushRequest{BackupsDir: dir, Backup: b1}); err != nil {
		t.Fatal(err)
	}
	// 1 lock day plus a margin of max(1, days/4) days.
	near("shared object after the first push", retention(kShared), t0.Add(48*time.Hour))

	// A day and a half later, the retention of the shared object falls
	// short of a day: the push of the second backup extends it.
	now = t0.Add(36 * time.Hour)
	b2 := fakeBackup(t, dir, 2000, map[string]string{"s.txt": shared, "f.txt": fresh})
	rep, err := r.Push(ctx, PushRequest{BackupsDir: dir, Backup: b2})
	if err != nil {
		t.Fatal(err)
	}
	near("shared object after the second push", retention(kShared), now.Add(48*time.Hour))
	near("new object of the second push", retention(kFresh), now.Add(48*time.Hour))
	near("object only the first backup holds", retention(kOld), t0.Add(48*time.Hour))
	if rep.Extended < 1 {
		t.Errorf("second push reports %d objects extended; the shared one was", rep.Extended)
	}

	// Later still, a push with nothing new extends the newest backup, its
	// meta objects and index included.
	now = t0.Add(72 * time.Hour)
	rep, err = r.Push(ctx, PushRequest{BackupsDir: dir, All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kShared, kFresh, indexKey(b2), metaKey(b2, metaManifest, false)} {
		near(k+" after a push with nothing new", retention(k), now.Add(48*time.Hour))
	}
	near("object only the first backup holds", retention(kOld), t0.Add(48*time.Hour))
	if rep.Extended < 4 {
		t.Errorf("push with nothing new reports %d objects extended", rep.Extended)
	}
}
