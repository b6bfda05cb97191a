package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

// ofsFixture is a deployment whose settings name a fresh bucket on the test
// S3 server (plain, unencrypted, unless a test sets recipients).
type ofsFixture struct {
	*fixture
	srv    tests3.Server
	bucket string
}

func newOffsiteFixture(t *testing.T, objectLock bool) *ofsFixture {
	t.Helper()
	srv := tests3.Get(t)
	f := newFixture(t)
	o := &ofsFixture{fixture: f, srv: srv, bucket: srv.NewBucket(t, objectLock)}
	f.env["BACKUP_S3_ENDPOINT"] = "http://" + srv.Endpoint
	f.env["BACKUP_S3_BUCKET"] = o.bucket
	f.env["BACKUP_S3_ACCESS_KEY_ID"] = srv.AccessKey
	f.env["BACKUP_S3_SECRET_ACCESS_KEY"] = srv.SecretKey
	f.env["BACKUP_S3_PATH_STYLE"] = "true"
	f.env["BACKUP_S3_REGION"] = "us-east-1"
	return o
}

// withEnv runs fn with settings changed: a "" value removes the setting.
func (o *ofsFixture) withEnv(over map[string]string, fn func()) {
	saved := o.env
	o.env = maps.Clone(saved)
	for k, v := range over {
		if v == "" {
			delete(o.env, k)
		} else {
			o.env[k] = v
		}
	}
	defer func() { o.env = saved }()
	fn()
}

func (o *ofsFixture) runWith(over map[string]string, args ...string) result {
	o.t.Helper()
	var r result
	o.withEnv(over, func() { r = o.run(args...) })
	return r
}

// localBackup makes a backup without pushing it (no bucket set).
func (o *ofsFixture) localBackup() string {
	o.t.Helper()
	r := o.runWith(map[string]string{"BACKUP_S3_BUCKET": ""}, "backup")
	if r.code != 0 {
		o.t.Fatalf("backup exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return filepath.Base(o.latest())
}

// push runs offsite push --json and returns its report; it must succeed.
func (o *ofsFixture) push(over map[string]string, args ...string) offsite.PushReport {
	o.t.Helper()
	r := o.runWith(over, append([]string{"offsite", "push", "--json"}, args...)...)
	if r.code != 0 {
		o.t.Fatalf("offsite push exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var rep offsite.PushReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		o.t.Fatalf("offsite push --json: %v\n%s", err, r.stdout)
	}
	return rep
}

func (o *ofsFixture) prune(over map[string]string, args ...string) offsite.PruneReport {
	o.t.Helper()
	r := o.runWith(over, append([]string{"offsite", "prune", "--json"}, args...)...)
	if r.code != 0 {
		o.t.Fatalf("offsite prune exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var rep offsite.PruneReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		o.t.Fatalf("offsite prune --json: %v\n%s", err, r.stdout)
	}
	return rep
}

func (o *ofsFixture) list() offsite.ListReport {
	o.t.Helper()
	r := o.run("offsite", "list", "--json")
	if r.code != 0 {
		o.t.Fatalf("offsite list exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var rep offsite.ListReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		o.t.Fatalf("offsite list --json: %v\n%s", err, r.stdout)
	}
	return rep
}

// verifyOK runs offsite verify with args and fails the test unless it passes.
func (o *ofsFixture) verifyOK(over map[string]string, args ...string) {
	o.t.Helper()
	r := o.runWith(over, append([]string{"offsite", "verify"}, args...)...)
	if r.code != 0 {
		o.t.Fatalf("offsite verify %v exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
}

// objectFiles maps the key of every object file under the bucket's folder
// (prefix "" for all) to its size.
func (o *ofsFixture) objectFiles(prefix string) map[string]int64 {
	o.t.Helper()
	root := o.srv.BucketDir(o.bucket)
	out := map[string]int64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // the gateway's own temporary files
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[key] = fi.Size()
		return nil
	})
	if err != nil {
		o.t.Fatal(err)
	}
	return out
}

// index reads a backup's index.json from the bucket's folder on disk.
func (o *ofsFixture) index(backup string) offsite.Index {
	o.t.Helper()
	data, err := os.ReadFile(filepath.Join(o.srv.BucketDir(o.bucket), "backups", backup, "index.json"))
	if err != nil {
		o.t.Fatal(err)
	}
	var ix offsite.Index
	if err := json.Unmarshal(data, &ix); err != nil {
		o.t.Fatal(err)
	}
	return ix
}

func dataKeyOf(name string) string { return "data/" + name[:2] + "/" + name }

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newIdentity makes an age key pair: the recipient, and the identity file.
func newIdentity(t *testing.T) (recipient, identityFile string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), p
}

// 1. A second push of unchanged uploads sends no file object: only the
// dump pieces that changed, the meta objects and the index, and the
// bucket grows by exactly what the report says.
func TestOffsitePushDedup(t *testing.T) {
	o := newOffsiteFixture(t, false)
	b1 := o.localBackup()
	r1 := o.push(nil)
	if len(r1.Backups) != 1 || r1.Backups[0].Backup != b1 {
		t.Fatalf("first push: %+v", r1.Backups)
	}
	p1 := r1.Backups[0]
	if p1.FilesSent == 0 || p1.ObjectsSkipped != 0 || p1.ObjectsSent != p1.Objects {
		t.Fatalf("first push into an empty bucket: %+v", p1)
	}
	if got := len(o.objectFiles("data/")); int64(got) != p1.ObjectsSent {
		t.Fatalf("first push: %d data objects on disk, report says %d sent", got, p1.ObjectsSent)
	}

	o.execAsUser(o.db, "UPDATE articles SET title = 'changed between backups' WHERE id = 1500")
	b2 := o.localBackup()
	before := o.objectFiles("")
	r2 := o.push(nil)
	after := o.objectFiles("")
	if len(r2.Backups) != 1 || r2.Backups[0].Backup != b2 {
		t.Fatalf("second push: %+v", r2.Backups)
	}
	p2 := r2.Backups[0]
	t.Logf("second push: %d of %d objects sent (%d bytes), dump %d of %d pieces, files %d of %d, meta %d bytes",
		p2.ObjectsSent, p2.Objects, p2.BytesSent, p2.DumpPiecesSent, p2.DumpPieces, p2.FilesSent, p2.Files, p2.MetaBytes)
	if p2.FilesSent != 0 || p2.FileBytesSent != 0 {
		t.Errorf("second push sent %d files (%d bytes); the uploads did not change", p2.FilesSent, p2.FileBytesSent)
	}
	if p2.Files != p1.Files {
		t.Errorf("second backup has %d files, first %d", p2.Files, p1.Files)
	}
	if p2.ObjectsSent != p2.DumpPiecesSent {
		t.Errorf("objects sent %d, but dump pieces sent %d: something else was sent", p2.ObjectsSent, p2.DumpPiecesSent)
	}
	if p2.DumpPiecesSent > p2.DumpPieces || p2.ObjectsSkipped != p2.Objects-p2.ObjectsSent || p2.ObjectsSkipped == 0 {
		t.Errorf("inconsistent counts: %+v", p2)
	}
	// What appeared on disk is exactly what the report says was sent.
	var newData, newMeta, other []string
	var dataBytes, metaBytes int64
	for k, size := range after {
		if _, ok := before[k]; ok {
			continue
		}
		switch {
		case strings.HasPrefix(k, "data/"):
			newData = append(newData, k)
			dataBytes += size
		case strings.HasPrefix(k, "backups/"+b2+"/"):
			newMeta = append(newMeta, k)
			metaBytes += size
		default:
			other = append(other, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s disappeared during the second push", k)
		}
	}
	if int64(len(newData)) != p2.ObjectsSent || dataBytes != p2.BytesSent-p2.MetaBytes {
		t.Errorf("new data objects on disk: %d (%d bytes); report: %d objects, %d bytes", len(newData), dataBytes,
			p2.ObjectsSent, p2.BytesSent-p2.MetaBytes)
	}
	ix := o.index(b2)
	if len(newMeta) != len(ix.Meta)+1 || metaBytes != p2.MetaBytes {
		t.Errorf("new meta objects on disk: %v (%d bytes); index names %d meta objects, report %d meta bytes", newMeta, metaBytes, len(ix.Meta), p2.MetaBytes)
	}
	if len(other) != 1 || !strings.HasPrefix(other[0], "locks/push-") {
		t.Errorf("other new objects: %v; want only the push's lock", other)
	}
	// A third push has nothing to do.
	r3 := o.push(nil)
	if r3.ObjectsSent != 0 || r3.BytesSent != 0 || len(r3.Backups) != 1 || !r3.Backups[0].Already {
		t.Errorf("push of a backup already in the bucket: %+v", r3)
	}
	o.verifyOK(nil, "--all", "--read-data")
}

// 2. With recipients, nothing in the bucket's files reveals a file's
// contents, name, or the database's tables and rows; without them, the same
// search finds all of it (so the search can fail).
func TestOffsiteEncryptedBucketHoldsNoPlaintext(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			o := newOffsiteFixture(t, false)
			var identity string
			if encrypted {
				var rcp string
				rcp, identity = newIdentity(t)
				o.env["BACKUP_AGE_RECIPIENTS"] = rcp
			}
			mark := "zq" + randHex(t, 8) // lower case: PostgreSQL folds table names
			fileContent := "filecontent-" + mark + " " + strings.Repeat("payload ", 1000)
			fileName := "secretname-" + mark + ".txt"
			// A file past the size sealed in memory takes the streaming path.
			bigContent := "bigcontent-" + mark + strings.Repeat("B", 9<<20)
			writeTree(t, o.uploads, map[string]string{fileName: fileContent, "big-" + mark + ".bin": bigContent})
			o.execAsUser(o.db, fmt.Sprintf("CREATE TABLE tbl_%s (v text); INSERT INTO tbl_%s VALUES ('rowval-%s');", mark, mark, mark))
			o.localBackup()
			rep := o.push(nil)
			if rep.Encrypted != encrypted {
				t.Fatalf("push says encrypted=%v", rep.Encrypted)
			}

			needles := []string{"filecontent-" + mark, "bigcontent-" + mark, "secretname-" + mark, "tbl_" + mark, "rowval-" + mark}
			sum := sha256.Sum256([]byte(fileContent))
			fileSHA := hex.EncodeToString(sum[:])
			found := map[string][]string{}
			root := o.srv.BucketDir(o.bucket)
			keys := o.objectFiles("")
			for key := range keys {
				data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
				if err != nil {
					t.Fatal(err)
				}
				texts := [][]byte{data, []byte(key)}
				// Dump pieces are compressed: search their plaintext too.
				if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
					if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
						plain, _ := io.ReadAll(zr)
						texts = append(texts, plain)
					}
				}
				for _, n := range append(needles, fileSHA) {
					for _, txt := range texts {
						if bytes.Contains(txt, []byte(n)) {
							found[n] = append(found[n], key)
							break
						}
					}
				}
				if strings.HasSuffix(key, "/index.json") {
					for _, n := range []string{"secretname-", "big-", "a.jpg", "tbl_"} {
						if bytes.Contains(data, []byte(n)) {
							t.Errorf("%s holds %q: the index must name no file or table", key, n)
						}
					}
				} else if encrypted && (strings.HasPrefix(key, "data/") || strings.HasPrefix(key, "backups/")) &&
					!bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) {
					t.Errorf("%s is not sealed with age", key)
				}
			}
			if encrypted {
				for n, where := range found {
					t.Errorf("the encrypted bucket reveals %q in %v", n, where)
				}
				o.verifyOK(map[string]string{"BACKUP_AGE_IDENTITY_FILE": identity}, "--read-data")
				return
			}
			for _, n := range append(needles, fileSHA) {
				if len(found[n]) == 0 {
					t.Errorf("the plain bucket does not show %q: the search cannot tell", n)
				}
			}
			if _, ok := keys[dataKeyOf(fileSHA)]; !ok {
				t.Errorf("the plain bucket has no object named by the file's SHA-256")
			}
		})
	}
}

// stallProxy forwards requests to the S3 server; once limit uploads of data
// objects have gone through, it holds every further one until released.
type stallProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	passed  int
	limit   int
	holding chan struct{} // closed when the first upload is held
	release chan struct{}
	dropped atomic.Bool // held uploads fail instead of going through
	once    sync.Once
	relOnce sync.Once
}

func newStallProxy(t *testing.T, target string, limit int) *stallProxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the Host header: signatures stay valid
	rp.ErrorLog = log.New(io.Discard, "", 0)    // requests of a killed client fail: expected
	p := &stallProxy{limit: limit, holding: make(chan struct{}), release: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/data/") {
			p.mu.Lock()
			hold := p.passed >= p.limit
			if !hold {
				p.passed++
			}
			p.mu.Unlock()
			if hold {
				p.once.Do(func() { close(p.holding) })
				select {
				case <-p.release:
				case <-r.Context().Done():
					return
				}
				if p.dropped.Load() {
					http.Error(w, "dropped by the test", http.StatusServiceUnavailable)
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.Release(); p.srv.Close() })
	return p
}

func (p *stallProxy) Endpoint() string { return p.srv.URL }

func (p *stallProxy) Release() { p.relOnce.Do(func() { close(p.release) }) }

// Drop fails the held uploads and waits until every request has ended.
func (p *stallProxy) Drop() {
	p.dropped.Store(true)
	p.Release()
	p.srv.Close()
}

func (p *stallProxy) waitHolding(t *testing.T) {
	t.Helper()
	select {
	case <-p.holding:
	case <-time.After(2 * time.Minute):
		t.Fatal("the push never reached the held uploads")
	}
}

// start starts the binary with settings changed; the caller waits.
func (o *ofsFixture) start(over map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	o.t.Helper()
	var cmd *exec.Cmd
	var stdout, stderr *bytes.Buffer
	o.withEnv(over, func() { cmd, stdout, stderr = o.command(args...) })
	if err := cmd.Start(); err != nil {
		o.t.Fatal(err)
	}
	return cmd, stdout, stderr
}

// manyFiles adds n uploads files of distinct content.
func manyFiles(t *testing.T, root, prefix string, n, size int) {
	t.Helper()
	files := map[string]string{}
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		files[fmt.Sprintf("%s/%03d.bin", prefix, i)] = string(b)
	}
	writeTree(t, root, files)
}

// 3. A push killed mid-way leaves no complete backup in the bucket; the next
// push sends only what is missing, and the copy reads back whole.
func TestOffsitePushKilledResumes(t *testing.T) {
	o := newOffsiteFixture(t, false)
	rcp, identity := newIdentity(t)
	o.env["BACKUP_AGE_RECIPIENTS"] = rcp
	manyFiles(t, o.uploads, "many", 40, 64<<10)
	b := o.localBackup()

	const through = 6
	p := newStallProxy(t, o.srv.Endpoint, through)
	cmd, stdout, stderr := o.start(map[string]string{"BACKUP_S3_ENDPOINT": p.Endpoint()}, "offsite", "push", "--json")
	p.waitHolding(t)
	// The uploads let through are on disk before the kill.
	deadline := time.Now().Add(time.Minute)
	for len(o.objectFiles("data/")) < through {
		if time.Now().After(deadline) {
			t.Fatalf("only %d data objects on disk", len(o.objectFiles("data/")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the push finished before it was killed\n%s\n%s", stdout, stderr)
	}
	p.Drop()
	stored := len(o.objectFiles("data/"))

	l := o.list()
	if len(l.Backups) != 0 {
		t.Fatalf("offsite list after a killed push shows complete backups: %+v", l.Backups)
	}
	if _, err := os.Stat(filepath.Join(o.srv.BucketDir(o.bucket), "backups", b, "index.json")); err == nil {
		t.Fatal("the killed push wrote the index")
	}

	rep := o.push(nil)
	bp := rep.Backups[0]
	t.Logf("resumed push: %d objects sent, %d skipped (%d stored before)", bp.ObjectsSent, bp.ObjectsSkipped, stored)
	if bp.Backup != b || bp.Already || bp.ObjectsSkipped != int64(stored) || bp.ObjectsSent != bp.Objects-int64(stored) {
		t.Fatalf("resumed push: %+v; %d objects were stored before", bp, stored)
	}
	if l := o.list(); len(l.Backups) != 1 || l.Backups[0].Backup != b {
		t.Fatalf("offsite list after the resumed push: %+v", l.Backups)
	}
	o.verifyOK(map[string]string{"BACKUP_AGE_IDENTITY_FILE": identity}, "--read-data")
}

// referenced is the set of data keys the indexes of backups name.
func (o *ofsFixture) referenced(backups ...string) map[string]bool {
	out := map[string]bool{}
	for _, b := range backups {
		for _, r := range o.index(b).Objects {
			out[dataKeyOf(r.Name)] = true
		}
	}
	return out
}

// 4. Prune removes the backups the policy drops, never the newest, then
// exactly the data objects no remaining index references; --dry-run deletes
// nothing and says the same; the default grace keeps young objects.
func TestOffsitePrune(t *testing.T) {
	o := newOffsiteFixture(t, false)
	var names []string
	for i := range 3 {
		os.RemoveAll(filepath.Join(o.uploads, "changing"))
		writeTree(t, o.uploads, map[string]string{fmt.Sprintf("changing/f%d.txt", i): fmt.Sprintf("content of backup %d %s", i, randHex(t, 8))})
		o.execAsUser(o.db, fmt.Sprintf("UPDATE articles SET title = 'round %d' WHERE id = %d", i, 100+i*900))
		names = append(names, o.localBackup())
	}
	if rep := o.push(nil, "--all"); len(rep.Backups) != 3 {
		t.Fatalf("push --all: %+v", rep.Backups)
	}
	newest := names[2]
	dataBefore := o.objectFiles("data/")
	keep := o.referenced(newest)
	want := map[string]bool{}
	var wantBytes int64
	for k, size := range dataBefore {
		if !keep[k] {
			want[k] = true
			wantBytes += size
		}
	}
	if len(want) < 2 {
		t.Fatalf("only %d unreferenced objects expected; the test needs some", len(want))
	}
	policy := map[string]string{"BACKUP_OFFSITE_RETENTION_COUNT": "1", "BACKUP_OFFSITE_RETENTION_DAYS": "0"}
	all := o.objectFiles("")

	dry := o.prune(policy, "--dry-run", "--grace", "0s")
	if !maps.Equal(all, o.objectFiles("")) {
		t.Fatal("prune --dry-run changed the bucket")
	}
	sort.Strings(dry.Removed)
	if !dry.DryRun || fmt.Sprint(dry.Removed) != fmt.Sprint(names[:2]) || dry.ObjectsDeleted != int64(len(want)) || dry.BytesDeleted != wantBytes {
		t.Fatalf("dry run: removed %v, %d objects (%d bytes); want %v, %d objects (%d bytes)", dry.Removed, dry.ObjectsDeleted,
			dry.BytesDeleted, names[:2], len(want), wantBytes)
	}

	young := o.prune(policy)
	if young.ObjectsDeleted != 0 || young.ObjectsYoung != int64(len(want)) {
		t.Fatalf("prune with the default grace: %d objects deleted, %d young; want 0 and %d", young.ObjectsDeleted, young.ObjectsYoung, len(want))
	}
	if !maps.Equal(dataBefore, o.objectFiles("data/")) {
		t.Fatal("prune with the default grace deleted data objects")
	}
	if l := o.list(); len(l.Backups) != 1 || l.Backups[0].Backup != newest {
		t.Fatalf("after prune the bucket lists %+v; want only %s", l.Backups, newest)
	}
	for _, b := range names[:2] {
		if _, err := os.Stat(filepath.Join(o.srv.BucketDir(o.bucket), "backups", b)); err == nil {
			if left := o.objectFiles("backups/" + b + "/"); len(left) > 0 {
				t.Errorf("pruned backup %s left %v", b, left)
			}
		}
	}

	rep := o.prune(policy, "--grace", "0s")
	if rep.ObjectsDeleted != dry.ObjectsDeleted || rep.BytesDeleted != dry.BytesDeleted {
		t.Errorf("prune deleted %d objects (%d bytes), the dry run said %d (%d bytes)", rep.ObjectsDeleted, rep.BytesDeleted,
			dry.ObjectsDeleted, dry.BytesDeleted)
	}
	after := o.objectFiles("data/")
	for k := range dataBefore {
		_, still := after[k]
		switch {
		case want[k] && still:
			t.Errorf("unreferenced %s was kept", k)
		case !want[k] && !still:
			t.Errorf("referenced %s was deleted", k)
		}
	}
	if len(after) != len(keep) {
		t.Errorf("%d data objects left, the newest backup references %d", len(after), len(keep))
	}
	o.verifyOK(nil, "--all", "--read-data")
}

// 5. A prune that runs while a push is uploading deletes no data object
// (it says why), so the push's backup, which relies on an object only a
// pruned backup referenced, is whole.
func TestOffsitePruneDuringPush(t *testing.T) {
	o := newOffsiteFixture(t, false)
	writeTree(t, o.uploads, map[string]string{"shared/x.txt": "only in the first and third backup " + randHex(t, 8)})
	b0 := o.localBackup()
	o.push(nil)
	xSum := sha256.Sum256(must(os.ReadFile(filepath.Join(o.uploads, "shared/x.txt"))))
	xKey := dataKeyOf(hex.EncodeToString(xSum[:]))
	os.Rename(filepath.Join(o.uploads, "shared/x.txt"), filepath.Join(o.dir, "x.txt"))
	b1 := o.localBackup()
	o.push(nil)
	if o.referenced(b1)[xKey] || !o.referenced(b0)[xKey] {
		t.Fatal("set-up: x must be referenced by the first backup only")
	}
	os.Rename(filepath.Join(o.dir, "x.txt"), filepath.Join(o.uploads, "shared/x.txt"))
	manyFiles(t, o.uploads, "many", 30, 32<<10)
	b2 := o.localBackup()

	p := newStallProxy(t, o.srv.Endpoint, 2)
	cmd, stdout, stderr := o.start(map[string]string{"BACKUP_S3_ENDPOINT": p.Endpoint()}, "offsite", "push", "--json")
	p.waitHolding(t)
	rep := o.prune(map[string]string{"BACKUP_OFFSITE_RETENTION_COUNT": "1", "BACKUP_OFFSITE_RETENTION_DAYS": "0"}, "--grace", "0s")
	t.Logf("prune during the push: removed %v, gc_skipped %q, %d objects deleted", rep.Removed, rep.GCSkipped, rep.ObjectsDeleted)
	if rep.GCSkipped == "" || !strings.Contains(rep.GCSkipped, "push") || rep.ObjectsDeleted != 0 {
		t.Errorf("prune during a push: gc_skipped %q, %d objects deleted; want it to see the push and delete none", rep.GCSkipped, rep.ObjectsDeleted)
	}
	if _, ok := o.objectFiles("data/")[xKey]; !ok {
		t.Error("prune deleted x, which the running push found stored and did not send")
	}
	p.Release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("push during prune: %v\n%s\n%s", err, stdout, stderr)
	}
	if !o.referenced(b2)[xKey] {
		t.Fatal("the third backup does not reference x")
	}
	o.verifyOK(nil, "--all", "--read-data")
	// Once the push is done, prune collects what nothing references.
	rep = o.prune(map[string]string{"BACKUP_OFFSITE_RETENTION_COUNT": "1", "BACKUP_OFFSITE_RETENTION_DAYS": "0"}, "--grace", "0s")
	if rep.GCSkipped != "" {
		t.Errorf("prune after the push: gc_skipped %q", rep.GCSkipped)
	}
	o.verifyOK(nil, "--all", "--read-data")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// freeAddr returns a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// 6. A backup whose push fails (wrong secret key, nothing listening) exits
// 14 with a complete local backup, an error folder for step offsite, a
// message naming the setting to fix, and no secret anywhere; the next good
// run pushes every backup the bucket lacks.
func TestOffsiteBackupPushFailures(t *testing.T) {
	o := newOffsiteFixture(t, false)
	wrongSecret := "wrongSecret" + randHex(t, 12)
	cases := []struct {
		name    string
		over    map[string]string
		setting string
	}{
		{"wrong secret key", map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": wrongSecret}, "BACKUP_S3_SECRET_ACCESS_KEY"},
		{"nothing listening", map[string]string{"BACKUP_S3_ENDPOINT": "http://" + freeAddr(t)}, "BACKUP_S3_ENDPOINT"},
	}
	secrets := []string{wrongSecret, o.srv.SecretKey}
	noSecret := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret key", what)
			}
		}
	}
	var local []string
	for _, c := range cases {
		errBefore := len(o.errorDirs())
		start := time.Now()
		r := o.runWith(c.over, "backup")
		t.Logf("%s: backup exit %d after %s", c.name, r.code, time.Since(start).Round(time.Millisecond))
		if r.code != 14 {
			t.Fatalf("%s: backup exit %d, want 14\nstdout:\n%s\nstderr:\n%s", c.name, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, c.setting) {
			t.Errorf("%s: the message does not name %s:\n%s", c.name, c.setting, r.stderr)
		}
		noSecret(c.name+": stdout", r.stdout)
		noSecret(c.name+": stderr", r.stderr)
		b := o.latest()
		local = append(local, filepath.Base(b))
		if v := o.run("verify", filepath.Base(b)); v.code != 0 {
			t.Errorf("%s: the local backup does not verify: exit %d\n%s%s", c.name, v.code, v.stdout, v.stderr)
		}
		dirs := o.errorDirs()
		if len(dirs) != errBefore+1 {
			t.Fatalf("%s: %d error folders, want %d", c.name, len(dirs), errBefore+1)
		}
		var all strings.Builder
		filepath.WalkDir(dirs[len(dirs)-1], func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				all.Write(must(os.ReadFile(p)))
			}
			return nil
		})
		if !strings.Contains(all.String(), "offsite") || !strings.Contains(all.String(), c.setting) {
			t.Errorf("%s: the error folder does not name step offsite and %s:\n%s", c.name, c.setting, all.String())
		}
		noSecret(c.name+": the error folder", all.String())
	}

	r := o.runWith(map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": wrongSecret}, "offsite", "push")
	if r.code != 14 || !strings.Contains(r.stderr+r.stdout, "check BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY") {
		t.Errorf("offsite push with a wrong key: exit %d, want 14 and the hint about the credentials\n%s%s", r.code, r.stdout, r.stderr)
	}
	noSecret("offsite push", r.stdout+r.stderr)

	r = o.run("backup")
	if r.code != 0 {
		t.Fatalf("backup with good settings: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	noSecret("a good backup", r.stdout+r.stderr)
	local = append(local, filepath.Base(o.latest()))
	var got []string
	for _, b := range o.list().Backups {
		got = append(got, b.Backup)
	}
	sort.Strings(got)
	sort.Strings(local)
	if fmt.Sprint(got) != fmt.Sprint(local) {
		t.Errorf("the bucket holds %v after a good run; want every backup %v", got, local)
	}
	o.verifyOK(nil, "--all")
}

// 7. offsite verify finds a missing object; a damaged one only with
// --read-data, which needs the identity.
func TestOffsiteVerifyFindsDamage(t *testing.T) {
	o := newOffsiteFixture(t, false)
	rcp, identity := newIdentity(t)
	o.env["BACKUP_AGE_RECIPIENTS"] = rcp
	withID := map[string]string{"BACKUP_AGE_IDENTITY_FILE": identity}
	b := o.localBackup()
	o.push(nil)
	o.verifyOK(withID, "--read-data")
	ix := o.index(b)
	refs := append([]offsite.Ref(nil), ix.Objects...)
	sort.Slice(refs, func(i, j int) bool { return refs[i].Size > refs[j].Size })
	root := o.srv.BucketDir(o.bucket)
	missing, damaged := refs[1], refs[0]

	// Missing: moved away on disk.
	mp := filepath.Join(root, filepath.FromSlash(dataKeyOf(missing.Name)))
	aside := filepath.Join(o.dir, "aside")
	if err := os.Rename(mp, aside); err != nil {
		t.Fatal(err)
	}
	r := o.run("offsite", "verify", "--json")
	if r.code != 9 || !strings.Contains(r.stdout, missing.Name) || !strings.Contains(r.stdout, "missing") {
		t.Errorf("verify with a missing object: exit %d, want 9 naming %s\n%s%s", r.code, missing.Name, r.stdout, r.stderr)
	}
	if err := os.Rename(aside, mp); err != nil {
		t.Fatal(err)
	}
	o.verifyOK(nil)

	// Damaged: one byte flipped in place (same size).
	dp := filepath.Join(root, filepath.FromSlash(dataKeyOf(damaged.Name)))
	fh, err := os.OpenFile(dp, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	at := damaged.Size / 2
	fh.ReadAt(one, at)
	one[0] ^= 0x01
	if _, err := fh.WriteAt(one, at); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	o.verifyOK(nil) // sizes only: cannot see it
	r = o.runWith(withID, "offsite", "verify", "--read-data", "--json")
	if r.code != 9 || !strings.Contains(r.stdout, damaged.Name) {
		t.Errorf("verify --read-data with a damaged object: exit %d, want 9 naming %s\n%s%s", r.code, damaged.Name, r.stdout, r.stderr)
	}
	r = o.run("offsite", "verify", "--read-data")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "BACKUP_AGE_IDENTITY_FILE") {
		t.Errorf("verify --read-data without the identity: exit %d, want a failure naming BACKUP_AGE_IDENTITY_FILE\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// 8. Object lock: objects carry a retention date, a delete of a retained
// version is refused, prune copes; a bucket without object lock is refused
// before anything is sent.
func TestOffsiteObjectLock(t *testing.T) {
	o := newOffsiteFixture(t, true)
	o.env["BACKUP_S3_OBJECT_LOCK_DAYS"] = "1"
	writeTree(t, o.uploads, map[string]string{"changing/one.txt": "first " + randHex(t, 8)})
	b1 := o.localBackup()
	start := time.Now()
	o.push(nil)
	ix := o.index(b1)
	if ix.RetainUntil.Before(start.Add(24 * time.Hour)) {
		t.Errorf("index retain_until %v, want at least a day from now", ix.RetainUntil)
	}
	c := o.srv.Client(t)
	ctx := context.Background()
	var firstVersion minio.ObjectInfo
	keys := []string{indexKeyOf(b1)}
	for _, r := range ix.Objects {
		keys = append(keys, dataKeyOf(r.Name))
	}
	for _, k := range keys {
		st, err := c.StatObject(ctx, o.bucket, k, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		until, err := time.Parse(time.RFC3339, st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
		if err != nil || until.Before(start.Add(24*time.Hour)) {
			t.Errorf("%s: retain-until %q, want at least a day from now", k, st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
		}
		if firstVersion.Key == "" && strings.HasPrefix(k, "data/") {
			firstVersion = st
		}
	}
	if err := c.RemoveObject(ctx, o.bucket, firstVersion.Key, minio.RemoveObjectOptions{VersionID: firstVersion.VersionID}); err == nil {
		t.Fatalf("deleting the retained version of %s succeeded", firstVersion.Key)
	}

	// Prune with objects under retention. The bucket is versioned (object
	// lock needs it): a delete without a version id would only hide an
	// object behind a delete marker, freeing nothing and never refused.
	// Prune must keep what is retained (and say so) and really delete what
	// is no longer retained.
	os.RemoveAll(filepath.Join(o.uploads, "changing"))
	writeTree(t, o.uploads, map[string]string{"changing/two.txt": "second " + randHex(t, 8)})
	b2 := o.localBackup()
	o.push(nil)
	// Two unreferenced objects, as a killed push leaves them: one retained
	// for a day, one whose retention ends in a moment.
	orphanLocked, orphanFree := dataKeyOf(randHex(t, 32)), dataKeyOf(randHex(t, 32))
	freeUntil := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	for k, until := range map[string]time.Time{orphanLocked: time.Now().Add(24 * time.Hour), orphanFree: freeUntil} {
		if _, err := c.PutObject(ctx, o.bucket, k, strings.NewReader("orphan"), 6,
			minio.PutObjectOptions{Mode: minio.Governance, RetainUntilDate: until.UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(freeUntil) + time.Second)
	versions := func(key string) (live int) {
		t.Helper()
		for v := range c.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
			if v.Err != nil {
				t.Fatal(v.Err)
			}
			if v.Key == key && !v.IsDeleteMarker {
				live++
			}
		}
		return live
	}
	rep := o.prune(map[string]string{"BACKUP_OFFSITE_RETENTION_COUNT": "1", "BACKUP_OFFSITE_RETENTION_DAYS": "0"}, "--grace", "0s")
	t.Logf("prune under object lock: removed %v, %d objects deleted, %d locked", rep.Removed, rep.ObjectsDeleted, rep.ObjectsLocked)
	if len(rep.Removed) != 0 || rep.ObjectsLocked != 1 || rep.ObjectsDeleted != 1 {
		t.Errorf("prune: removed %v, %d objects locked, %d deleted; want the retained first backup kept, 1 locked, 1 deleted",
			rep.Removed, rep.ObjectsLocked, rep.ObjectsDeleted)
	}
	for _, d := range rep.Decisions {
		if d.Backup == b1 && (!d.Keep || !strings.Contains(d.Reason, "object lock")) {
			t.Errorf("prune reports the retained first backup as %+v; want kept, under object lock", d)
		}
	}
	if n := versions(orphanFree); n != 0 {
		t.Errorf("the unreferenced object past its retention still has %d versions: prune freed nothing", n)
	}
	if n := versions(orphanLocked); n != 1 {
		t.Errorf("the retained unreferenced object has %d versions, want 1", n)
	}
	var listed []string
	for _, b := range o.list().Backups {
		listed = append(listed, b.Backup)
	}
	sort.Strings(listed)
	if fmt.Sprint(listed) != fmt.Sprint([]string{b1, b2}) {
		t.Errorf("after prune the bucket lists %v; want both backups (the first is retained)", listed)
	}
	o.verifyOK(nil, "--all", "--read-data")

	// A bucket without object lock: refused before anything is sent.
	plain := o.srv.NewBucket(t, false)
	o.localBackup()
	r := o.runWith(map[string]string{"BACKUP_S3_BUCKET": plain}, "offsite", "push")
	if r.code == 0 || !strings.Contains(r.stderr, "BACKUP_S3_OBJECT_LOCK_DAYS") || !strings.Contains(r.stderr, "object lock") {
		t.Errorf("push with object lock days to a bucket without object lock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ents, _ := os.ReadDir(o.srv.BucketDir(plain))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("the refused push wrote %s", e.Name())
		}
	}
}

func indexKeyOf(backup string) string { return "backups/" + backup + "/index.json" }
