package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/directus-backup/directus-backup/internal/tests3"
)

// The offsite baseline copies a backup folder to the bucket and back: every
// file one object under the prefix (a file over 8 MiB in parts), and the
// download gives the same tree.
func TestS3CopyRoundTrip(t *testing.T) {
	srv := tests3.Get(t)
	bucket := srv.NewBucket(t, false)
	c, err := s3ClientFrom(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	want := map[string][]byte{
		"db_backup.sql.gz":          make([]byte, 9<<20+17),
		"manifest.json":             []byte(`{"x":1}`),
		"uploads/2026/01/a.txt":     []byte("hello"),
		"uploads/2026/01/thumbs/b":  make([]byte, 70000),
		"uploads/2026/02/empty.txt": nil,
	}
	var total int64
	for rel, data := range want {
		if len(data) > 100 {
			rand.Read(data)
		}
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
	}
	ctx := context.Background()
	put, err := putTree(ctx, c, src, bucket, "backup_x/", 8)
	if err != nil {
		t.Fatal(err)
	}
	if put.Objects != int64(len(want)) || put.Bytes != total {
		t.Fatalf("put %+v, want %d objects, %d bytes", put, len(want), total)
	}
	// Another prefix in the same bucket must not be fetched.
	if _, err := putTree(ctx, c, filepath.Join(src, "uploads"), bucket, "other/", 2); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	got, err := getTree(ctx, c, bucket, "backup_x/", dest, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got != put {
		t.Fatalf("get %+v, put %+v", got, put)
	}
	files := 0
	err = filepath.WalkDir(dest, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != len(want) {
		t.Fatalf("downloaded %d files, want %d", files, len(want))
	}
	for rel, data := range want {
		b, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Errorf("%s: %d bytes downloaded differ from the %d sent", rel, len(b), len(data))
		}
	}
}
