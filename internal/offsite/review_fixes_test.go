package offsite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

func testRemote(t *testing.T, recipients []string) (*Remote, tests3.Server, string) {
	t.Helper()
	srv := tests3.Get(t)
	bucket := srv.NewBucket(t, false)
	st, err := s3store.Open(s3store.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1",
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: "true"})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := seal.New(recipients)
	if err != nil {
		t.Fatal(err)
	}
	return &Remote{Store: st, Sealer: sl}, srv, bucket
}

// A push's lock is live for a prune whose clock runs ahead: staleness is
// judged in the server's time. And while a push runs, prune neither
// deletes unreferenced objects nor an unfinished push's objects.
func TestPruneHonoursLivePushDespiteClockSkew(t *testing.T) {
	r, _, _ := testRemote(t, nil)
	ctx := context.Background()
	dir := t.TempDir()
	b1 := fakeBackup(t, dir, 1000, map[string]string{"a.txt": "only in the first"})
	fakeBackup(t, dir, 2000, map[string]string{"b.txt": "only in the second"})
	if _, err := r.Push(ctx, PushRequest{BackupsDir: dir, All: true}); err != nil {
		t.Fatal(err)
	}
	// An unfinished push of a third backup: a meta object, no index.
	if err := r.Store.Put(ctx, metaKey("backup_2026-01-01_00-00-00_3000", metaManifest, false), strings.NewReader("{}"), 2, s3store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	push, err := r.takeLock(ctx, "push") // a push running on another host
	if err != nil {
		t.Fatal(err)
	}
	defer push.release(ctx)

	skewed := *r
	skewed.Now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	rep, err := skewed.Prune(ctx, PruneRequest{Days: 0, Count: 1, Grace: 0})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GCSkipped == "" || rep.ObjectsDeleted != 0 {
		t.Errorf("prune with a clock 16 min ahead took the running push's lock for stale: gc_skipped %q, %d objects deleted", rep.GCSkipped, rep.ObjectsDeleted)
	}
	if len(rep.PartialRemoved) != 0 {
		t.Errorf("prune removed an unfinished push (%v) while a push runs", rep.PartialRemoved)
	}
	if len(rep.Removed) != 1 || rep.Removed[0] != b1 {
		t.Errorf("retention removed %v, want %s", rep.Removed, b1)
	}
	// With the push done, the same prune deletes.
	push.release(ctx)
	rep, err = skewed.Prune(ctx, PruneRequest{Days: 0, Count: 1, Grace: 0})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GCSkipped != "" || rep.ObjectsDeleted == 0 || len(rep.PartialRemoved) != 1 {
		t.Errorf("after the push: gc_skipped %q, %d deleted, unfinished removed %v", rep.GCSkipped, rep.ObjectsDeleted, rep.PartialRemoved)
	}
}

// An object found in the bucket with the wrong size (cut short, overwritten)
// is sent again, not trusted.
func TestPushResendsStoredObjectOfWrongSize(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	r, _, _ := testRemote(t, []string{id.Recipient().String()})
	ctx := context.Background()
	dir := t.TempDir()
	shared := "shared content, stored once"
	fakeBackup(t, dir, 1000, map[string]string{"s.txt": shared})
	if _, err := r.Push(ctx, PushRequest{BackupsDir: dir, All: true}); err != nil {
		t.Fatal(err)
	}
	key := dataKey(r.Sealer.Name(sumName(shared)))
	if err := r.Store.Put(ctx, key, strings.NewReader("x"), 1, s3store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fakeBackup(t, dir, 2000, map[string]string{"s.txt": shared})
	rep, err := r.Push(ctx, PushRequest{BackupsDir: dir, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Backups[len(rep.Backups)-1].FilesSent; got != 1 {
		t.Errorf("the cut-short object was not sent again: %d files sent", got)
	}
	want, _ := r.Sealer.SealedSize(int64(len(shared)))
	if o, err := r.Store.Stat(ctx, key); err != nil || o.Size != want {
		t.Errorf("object after the push: %v, size %d, want %d", err, o.Size, want)
	}
}

// One damaged local backup does not stop --all from pushing the others,
// and the run still fails, naming it.
func TestPushAllSkipsDamagedLocalBackup(t *testing.T) {
	r, _, _ := testRemote(t, nil)
	ctx := context.Background()
	dir := t.TempDir()
	b1 := fakeBackup(t, dir, 1000, map[string]string{"gone.txt": "a file later lost"})
	b2 := fakeBackup(t, dir, 2000, map[string]string{"kept.txt": "a good file"})
	if err := os.Remove(filepath.Join(dir, b1, "uploads", "gone.txt")); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Push(ctx, PushRequest{BackupsDir: dir, All: true})
	if err == nil || !strings.Contains(err.Error(), b1) || !strings.Contains(err.Error(), "verify") {
		t.Errorf("push --all over a damaged backup: %v", err)
	}
	l, lerr := r.List(ctx)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(l.Backups) != 1 || l.Backups[0].Backup != b2 {
		t.Errorf("in the bucket: %+v, want only %s", l.Backups, b2)
	}
	if len(rep.Backups) != 2 || rep.Backups[0].Skipped == "" {
		t.Errorf("report: %+v", rep.Backups)
	}
}

// With recipients (or an identity) set, a copy stored unencrypted is not
// restored: anyone who may write the bucket could have planted it.
func TestOpenRefusesPlainCopyWhenEncryptionIsSet(t *testing.T) {
	r, _, _ := testRemote(t, nil)
	ctx := context.Background()
	dir := t.TempDir()
	b := fakeBackup(t, dir, 1000, map[string]string{"a.txt": "planted"})
	if _, err := r.Push(ctx, PushRequest{BackupsDir: dir, All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(ctx, b); err != nil {
		t.Fatalf("plain settings, plain copy: %v", err)
	}
	id, _ := age.GenerateX25519Identity()
	enc := *r
	enc.Sealer, _ = seal.New([]string{id.Recipient().String()})
	if _, err := enc.Open(ctx, b); !errors.Is(err, ErrUntrusted) {
		t.Errorf("recipients set, plain copy: %v, want ErrUntrusted", err)
	}
}
