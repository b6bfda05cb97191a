package s3files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

// fixture is a bucket acting as a Directus storage location.
type fixture struct {
	t      *testing.T
	srv    tests3.Server
	c      *minio.Client
	bucket string
	loc    Location
}

func newFixture(t *testing.T, root string) *fixture {
	srv := tests3.Get(t)
	b := srv.NewBucket(t, false)
	return &fixture{t: t, srv: srv, c: srv.Client(t), bucket: b, loc: Location{
		Endpoint: "http://" + srv.Endpoint, Bucket: b, Root: root, Region: "us-east-1",
		Key: srv.AccessKey, Secret: srv.SecretKey, Settings: SettingsFor("STORAGE_S3_")}}
}

func (f *fixture) put(key string, data []byte) {
	f.t.Helper()
	_, err := f.c.PutObject(context.Background(), f.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		f.t.Fatalf("put %s: %v", key, err)
	}
}

func (f *fixture) remove(key string) {
	f.t.Helper()
	if err := f.c.RemoveObject(context.Background(), f.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		f.t.Fatalf("remove %s: %v", key, err)
	}
}

// objects reads every object of bucket under prefix: key (below prefix) -> bytes.
func objects(t *testing.T, c *minio.Client, bucket, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		obj, err := c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.Key, err)
		}
		out[strings.TrimPrefix(o.Key, prefix)] = data
	}
	return out
}

// pull runs Pull into dir/name and returns the result and the entry list.
func (f *fixture) pull(dir, name string, prev string, prevList []byte) (PullResult, []byte, error) {
	f.t.Helper()
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	opts := PullOptions{Dest: filepath.Join(dir, name), Previous: prev, PreviousName: "prev"}
	if prevList != nil {
		opts.PreviousList = bytes.NewReader(prevList)
	}
	res, err := Pull(context.Background(), f.loc, opts, lw)
	if err == nil {
		if err := lw.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	return res, buf.Bytes(), err
}

// checkCopy compares the folder with the bucket (every object's bytes,
// folders for markers) and its entry list with the folder.
func checkCopy(t *testing.T, dest string, want map[string][]byte, list []byte) {
	t.Helper()
	files := map[string]bool{}
	for k, data := range want {
		if strings.HasSuffix(k, "/") {
			if fi, err := os.Stat(filepath.Join(dest, k)); err != nil || !fi.IsDir() {
				t.Errorf("marker %s: no folder (%v)", k, err)
			}
			continue
		}
		got, err := os.ReadFile(filepath.Join(dest, k))
		if err != nil {
			t.Errorf("object %s: %v", k, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("object %s: bytes differ from the bucket's", k)
		}
		files[k] = true
	}
	r := manifest.NewReader(bytes.NewReader(list))
	seen := 0
	var last string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if last != "" && manifest.ComparePaths(last, e.Path) >= 0 {
			t.Errorf("entry %s after %s: not in walk order", e.Path, last)
		}
		last = e.Path
		if e.Type != manifest.TypeFile {
			continue
		}
		seen++
		if !files[e.Path] {
			t.Errorf("entry %s: no such object", e.Path)
			continue
		}
		sum := sha256.Sum256(want[e.Path])
		if e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(want[e.Path])) || e.ETag == "" || e.Mode != "0644" {
			t.Errorf("entry %s: %+v does not describe the object", e.Path, e)
		}
		fi, err := os.Stat(filepath.Join(dest, e.Path))
		if err == nil && manifest.TimeFromUnixNano(fi.ModTime().UnixNano()) != e.MTime {
			t.Errorf("entry %s: mtime %v, file's %v", e.Path, e.MTime, fi.ModTime())
		}
	}
	if seen != len(files) {
		t.Errorf("%d file entries, %d objects", seen, len(files))
	}
	// Nothing else in the folder (no temporary files left).
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dest, p)
		if err == nil && !d.IsDir() && !files[filepath.ToSlash(rel)] {
			t.Errorf("%s in the copy is no object", rel)
		}
		return nil
	})
}

// The incremental copy: a second pull downloads only the changed and new
// objects and links the rest to the first pull's files.
func TestPullIncremental(t *testing.T) {
	f := newFixture(t, "/uploads/")
	for i := range 20 {
		key := fmt.Sprintf("uploads/%02d.jpg", i)
		switch {
		case i%5 == 1:
			key = fmt.Sprintf("uploads/folder/%02d.png", i)
		case i%5 == 2:
			key = fmt.Sprintf("uploads/folder/deep/%02d.txt", i)
		}
		f.put(key, bytes.Repeat([]byte{byte(i)}, 1000+i*37))
	}
	f.put("uploads/empty/", nil)               // a folder marker
	f.put("elsewhere/x.jpg", []byte("not me")) // outside the root: not copied
	dir := t.TempDir()

	res1, list1, err := f.pull(dir, "one", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res1.Objects != 20 || res1.Downloaded != 20 || res1.Linked != 0 || res1.Dirs != 4 {
		t.Fatalf("first pull: %+v, want 20 objects downloaded and 4 folders", res1)
	}
	checkCopy(t, filepath.Join(dir, "one"), objects(t, f.c, f.bucket, "uploads/"), list1)

	f.put("uploads/00.jpg", bytes.Repeat([]byte{'x'}, 1000)) // same size, other bytes: the ETag tells
	f.put("uploads/folder/deep/07.txt", bytes.Repeat([]byte{7}, 1000+7*37+1))
	f.remove("uploads/folder/01.png")
	f.put("uploads/folder/new.webp", []byte("new object"))

	res2, list2, err := f.pull(dir, "two", filepath.Join(dir, "one"), list1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second pull: %+v", res2)
	if res2.Objects != 20 || res2.Downloaded != 3 || res2.Linked != 17 {
		t.Fatalf("second pull: %+v, want 20 objects, 3 downloaded, 17 linked", res2)
	}
	checkCopy(t, filepath.Join(dir, "two"), objects(t, f.c, f.bucket, "uploads/"), list2)
	a, _ := os.Stat(filepath.Join(dir, "one", "folder", "06.png"))
	b, _ := os.Stat(filepath.Join(dir, "two", "folder", "06.png"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("an unchanged object is not a link to the previous copy")
	}
	if _, err := os.Stat(filepath.Join(dir, "two", "folder", "01.png")); !os.IsNotExist(err) {
		t.Errorf("the deleted object is in the second copy: %v", err)
	}

	// A previous copy that lost its file, or holds one of another size,
	// is not linked to: downloaded.
	os.Remove(filepath.Join(dir, "two", "03.jpg"))
	if err := os.Truncate(filepath.Join(dir, "two", "04.jpg"), 10); err != nil {
		t.Fatal(err)
	}
	res3, list3, err := f.pull(dir, "three", filepath.Join(dir, "two"), list2)
	if err != nil {
		t.Fatal(err)
	}
	if res3.Downloaded != 2 || res3.Linked != 18 {
		t.Errorf("third pull: %+v, want 2 downloaded (the missing and the truncated previous file), 18 linked", res3)
	}
	checkCopy(t, filepath.Join(dir, "three"), objects(t, f.c, f.bucket, "uploads/"), list3)
}

// Push restores a copy into an empty bucket under another prefix, then
// skips everything when run again; Delete removes what the copy lacks.
func TestPush(t *testing.T) {
	f := newFixture(t, "")
	for i := range 12 {
		f.put(fmt.Sprintf("f%d/%02d.bin", i%3, i), bytes.Repeat([]byte{byte(i)}, 500+i))
	}
	f.put("marker/", nil)
	// Uploaded in 5 MiB parts: its ETag ("...-3") is not the one Push's
	// upload gets, so the second push must compute that one to skip it.
	big := bytes.Repeat([]byte("0123456789abcdef"), 11<<16)
	if info, err := f.c.PutObject(context.Background(), f.bucket, "big.bin", bytes.NewReader(big), int64(len(big)),
		minio.PutObjectOptions{PartSize: 5 << 20}); err != nil || !strings.HasSuffix(info.ETag, "-3") {
		t.Fatalf("multipart upload: %v, ETag %q", err, info.ETag)
	}
	dir := t.TempDir()
	_, list, err := f.pull(dir, "copy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := objects(t, f.c, f.bucket, "")

	to := f.loc
	to.Bucket = f.srv.NewBucket(t, false)
	to.Root = "restored"
	push := func(del bool) PushResult {
		t.Helper()
		res, err := Push(context.Background(), to, PushOptions{Source: filepath.Join(dir, "copy"), List: bytes.NewReader(list), Delete: del})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := push(false)
	if res.Objects != 14 || res.Uploaded != 14 || res.Skipped != 0 {
		t.Errorf("push into an empty bucket: %+v, want 14 objects uploaded", res)
	}
	got := objects(t, f.c, to.Bucket, "restored/")
	if len(got) != len(want) {
		t.Errorf("%d objects restored, the source has %d", len(got), len(want))
	}
	for k, data := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, data) {
			t.Errorf("object %s: not restored with its bytes (present %v)", k, ok)
		}
	}

	if res := push(false); res.Skipped != 14 || res.Uploaded != 0 {
		t.Errorf("second push: %+v, want all 14 skipped", res)
	}

	// A changed object is uploaded again; an extra one is kept, or
	// deleted with Delete.
	ctx := context.Background()
	if _, err := f.c.PutObject(ctx, to.Bucket, "restored/f0/00.bin", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.PutObject(ctx, to.Bucket, "restored/extra.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := push(false); res.Uploaded != 1 || res.Skipped != 13 || res.Extra != 1 || res.Deleted != 0 {
		t.Errorf("push after a change: %+v, want 1 uploaded, 13 skipped, 1 extra kept", res)
	}
	if res := push(true); res.Uploaded != 0 || res.Deleted != 1 {
		t.Errorf("push with delete: %+v, want 1 deleted", res)
	}
	got = objects(t, f.c, to.Bucket, "restored/")
	if _, ok := got["extra.txt"]; ok || len(got) != len(want) || !bytes.Equal(got["f0/00.bin"], want["f0/00.bin"]) {
		t.Errorf("after push with delete the bucket differs from the copy: %d objects", len(got))
	}

	// An object the bucket holds with its recorded size and ETag is
	// skipped without reading the backup's file; a damaged backup file is
	// never uploaded.
	p := filepath.Join(dir, "copy", "f1", "01.bin")
	if err := os.WriteFile(p, bytes.Repeat([]byte{9}, 501), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := push(false); res.Skipped != 14 {
		t.Errorf("push with the object in place: %+v, want all skipped unread", res)
	}
	if err := f.c.RemoveObject(ctx, to.Bucket, "restored/f1/01.bin", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Push(ctx, to, PushOptions{Source: filepath.Join(dir, "copy"), List: bytes.NewReader(list)})
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("push of a damaged file: %v, want ErrDamaged", err)
	}
	if _, err := f.c.StatObject(ctx, to.Bucket, "restored/f1/01.bin", minio.StatObjectOptions{}); err == nil {
		t.Error("the damaged file was uploaded")
	}
}

// Wrong credentials, a missing bucket and a dead endpoint name the
// settings to fix, and leave no copy and no entry.
func TestPullErrorsNameSettings(t *testing.T) {
	f := newFixture(t, "")
	f.put("a.jpg", []byte("a"))
	dir := t.TempDir()
	check := func(name string, loc Location, kind error, settings ...string) {
		t.Helper()
		var buf bytes.Buffer
		lw := manifest.NewListWriter(&buf)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := Pull(ctx, loc, PullOptions{Dest: filepath.Join(dir, name)}, lw)
		lw.Close()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !errors.Is(err, kind) {
			t.Errorf("%s: %v does not match %v", name, err, kind)
		}
		for _, s := range settings {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not name %s", name, err, s)
			}
		}
		if strings.Contains(err.Error(), f.srv.SecretKey) || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("%s: the secret leaks: %v", name, err)
		}
		if lw.Count() != 0 || buf.Len() != 0 {
			t.Errorf("%s: %d entries written", name, lw.Count())
		}
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: the copy's folder exists (%v)", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	loc := f.loc
	loc.Secret = "wrong-secret"
	check("secret", loc, s3store.ErrDenied, "STORAGE_S3_KEY", "STORAGE_S3_SECRET")
	loc = f.loc
	loc.Key = "nosuchkey"
	check("key", loc, s3store.ErrDenied, "STORAGE_S3_KEY", "STORAGE_S3_SECRET")
	loc = f.loc
	loc.Bucket = "no-such-bucket-here"
	check("bucket", loc, s3store.ErrNoBucket, "STORAGE_S3_BUCKET")
	loc = f.loc
	loc.Endpoint = "http://127.0.0.1:1"
	check("endpoint", loc, s3store.ErrUnreachable, "STORAGE_S3_ENDPOINT")
}

// A cancelled pull stops: not every object is fetched, and no entry is
// written.
func TestPullCancelled(t *testing.T) {
	f := newFixture(t, "")
	const n = 64
	for i := range n {
		f.put(fmt.Sprintf("%02d.bin", i), bytes.Repeat([]byte{byte(i)}, 64<<10))
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	_, err := Pull(ctx, f.loc, PullOptions{Dest: filepath.Join(dir, "c"), Workers: 2, OnFile: func(int64) { cancel() }}, lw)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: %v, want context.Canceled", err)
	}
	if lw.Count() != 0 {
		t.Errorf("%d entries written by a cancelled pull", lw.Count())
	}
	des, _ := os.ReadDir(filepath.Join(dir, "c"))
	if len(des) >= n/2 {
		t.Errorf("%d of %d objects fetched after the cancel", len(des), n)
	}
}

// Keys that cannot be paths are all reported, and fail the plan.
func TestItemsOfBadKeys(t *testing.T) {
	objs := []s3store.Object{{Key: "ok.jpg"}, {Key: "a//b"}, {Key: "../up"}, {Key: "x/./y"}, {Key: "nul\x00"},
		{Key: strings.Repeat("n", 256)}, {Key: "file"}, {Key: "file/"}, {Key: "f2"}, {Key: "f2/child"},
		{Key: "dir/"}, {Key: "dir/x"}, {Key: "/lead"}}
	items, bad := itemsOf(objs)
	var keys []string
	for _, b := range bad {
		keys = append(keys, b.Key)
	}
	want := []string{"../up", "/lead", "a//b", "f2", "file/", strings.Repeat("n", 256), "nul\x00", "x/./y"}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("bad keys %q, want %q", keys, want)
	}
	err := (&BadKeysError{Where: "b", Keys: bad}).Error()
	if !strings.Contains(err, "8 objects") || !strings.Contains(err, `"a//b"`) {
		t.Errorf("error %q", err)
	}
	var rels []string
	for _, it := range items {
		rels = append(rels, it.rel)
	}
	// dir's marker and implied folders are folders; "ok.jpg" a file.
	if got := fmt.Sprint(rels); !strings.Contains(got, "dir dir/x") || !strings.Contains(got, "ok.jpg") {
		t.Errorf("items %s", got)
	}
}

// Check tells a readable location from one whose key may list but not
// read, and names the settings when the credentials are wrong.
func TestCheck(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	res, err := Check(ctx, f.loc)
	if err != nil || !res.Empty {
		t.Fatalf("empty bucket: %+v, %v", res, err)
	}
	f.put("a.jpg", []byte("a"))
	if res, err := Check(ctx, f.loc); err != nil || res.Empty || res.Read != "a.jpg" {
		t.Errorf("readable bucket: %+v, %v", res, err)
	}
	listOnly := f.loc
	listOnly.Key, listOnly.Secret = f.srv.NewUser(t, f.bucket, "s3:ListBucket")
	if _, err := Check(ctx, listOnly); !errors.Is(err, s3store.ErrDenied) {
		t.Errorf("key that may only list: %v, want access denied", err)
	}
	wrong := f.loc
	wrong.Secret = "wrong"
	if _, err := Check(ctx, wrong); !errors.Is(err, s3store.ErrDenied) || !strings.Contains(err.Error(), "STORAGE_S3_SECRET") {
		t.Errorf("wrong secret: %v", err)
	}
}
