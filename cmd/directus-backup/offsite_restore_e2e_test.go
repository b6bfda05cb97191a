package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/testpg"
	"github.com/directus-backup/directus-backup/internal/tests3"
)

// offsiteFixture is a deployment whose newest backup is pushed to a fresh
// bucket of the test S3 server.
type offsiteFixture struct {
	*fixture
	s3       tests3.Server
	bucket   string
	identity string // the age identity file; "" when plain
	sealer   *seal.Sealer
	backup   string // the pushed backup's name
}

func newOffsiteRestoreFixture(t *testing.T, encrypted bool) *offsiteFixture {
	t.Helper()
	s := tests3.Get(t)
	f := &offsiteFixture{fixture: newFixture(t), s3: s}
	f.bucket = s.NewBucket(t, false)
	var recipients []string
	if encrypted {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		f.identity = filepath.Join(f.dir, "age-identity.txt")
		if err := os.WriteFile(f.identity, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		recipients = []string{id.Recipient().String()}
		f.env["BACKUP_AGE_RECIPIENTS"] = recipients[0]
	}
	for k, v := range map[string]string{
		"BACKUP_S3_ENDPOINT": "http://" + s.Endpoint, "BACKUP_S3_BUCKET": f.bucket, "BACKUP_S3_PATH_STYLE": "true",
		"BACKUP_S3_ACCESS_KEY_ID": s.AccessKey, "BACKUP_S3_SECRET_ACCESS_KEY": s.SecretKey, "BACKUP_S3_REGION": "us-east-1",
	} {
		f.env[k] = v
	}
	var err error
	if f.sealer, err = seal.New(recipients); err != nil {
		t.Fatal(err)
	}
	awkwardUploads(t, f.fixture)
	f.backup = filepath.Base(f.mustBackup())

	if r := f.run("offsite", "push", f.backup); r.code != 0 {
		t.Fatalf("offsite push: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return f
}

// objectFile is the file on the server's disk that holds the data object
// of content sum.
func (f *offsiteFixture) objectFile(sum string) string {
	name := f.sealer.Name(sum)
	return filepath.Join(f.s3.BucketDir(f.bucket), "data", name[:2], name)
}

// damage changes one byte of a stored object in place (same size).
func damage(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("object on disk: %v", err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type offsiteRestoreDoc struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Backup  string `json:"backup"`
	Offsite bool   `json:"offsite"`
	Where   string `json:"where"`
	Uploads *struct {
		Files     int64 `json:"files"`
		Linked    int64 `json:"linked"`
		Copied    int64 `json:"copied"`
		Unchanged bool  `json:"unchanged"`
		Verified  bool  `json:"verified"`
	} `json:"uploads"`
	Database *struct {
		Tables int `json:"tables"`
	} `json:"database"`
}

func (f *offsiteFixture) restoreJSON(t *testing.T, args ...string) (result, offsiteRestoreDoc) {
	t.Helper()
	r := f.run(append([]string{"restore", "--offsite", "--json"}, args...)...)
	var doc offsiteRestoreDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil && r.code == 0 {
		t.Fatalf("restore --json output: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return r, doc
}

// TestOffsiteRestore backs up a real database and uploads folder, pushes
// the backup to the bucket and restores it from there, on a machine
// without BACKUPS_DIR, into a new database and a new folder: both equal
// the source. A second restore of the unchanged folder downloads nothing.
func TestOffsiteRestore(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			f := newOffsiteRestoreFixture(t, encrypted)
			wantData := f.tableData(f.db)
			wantTree := treeState(t, f.uploads)
			if encrypted {
				f.env["BACKUP_AGE_IDENTITY_FILE"] = f.identity
			}
			// A fresh machine: no backups folder at all.
			f.env["BACKUPS_DIR"] = filepath.Join(f.dir, "no-backups-here")
			db2 := testpg.UniqueName("offsite")
			dir2 := filepath.Join(f.dir, "restored", "uploads")
			os.MkdirAll(filepath.Dir(dir2), 0o755)

			r, doc := f.restoreJSON(t, "--target-db", db2, "--create", "--target-dir", dir2)
			if r.code != 0 || !doc.OK {
				t.Fatalf("restore --offsite: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !doc.Offsite || doc.Backup != f.backup || !strings.Contains(doc.Where, f.bucket) {
				t.Errorf("report: offsite %v backup %q where %q; want true, %q, the bucket %s", doc.Offsite, doc.Backup, doc.Where, f.backup, f.bucket)
			}
			if doc.Uploads == nil || !doc.Uploads.Verified || doc.Uploads.Copied != doc.Uploads.Files || doc.Uploads.Files == 0 {
				t.Errorf("uploads report: %+v; want every file downloaded and verified", doc.Uploads)
			}
			if _, err := os.Stat(f.env["BACKUPS_DIR"]); err == nil {
				t.Errorf("the restore created BACKUPS_DIR")
			}
			compareData(t, "restored from the bucket", f.tableData(db2), wantData)
			compareTrees(t, "restored from the bucket", treeState(t, dir2), wantTree)

			// Unchanged: the quick check finds nothing to do; with
			// --checksum every live file is hashed and linked, none
			// downloaded.
			r, doc = f.restoreJSON(t, "--uploads", "--target-dir", dir2)
			if r.code != 0 || doc.Uploads == nil || !doc.Uploads.Unchanged {
				t.Fatalf("second restore: exit %d, uploads %+v; want unchanged\nstderr:\n%s", r.code, doc.Uploads, r.stderr)
			}
			r, doc = f.restoreJSON(t, "--uploads", "--checksum", "--target-dir", dir2)
			if r.code != 0 || doc.Uploads == nil || doc.Uploads.Copied != 0 || doc.Uploads.Linked != doc.Uploads.Files {
				t.Fatalf("restore --checksum over the restored folder: exit %d, uploads %+v; want all linked, none downloaded\nstderr:\n%s",
					r.code, doc.Uploads, r.stderr)
			}
			compareTrees(t, "restored from the bucket", treeState(t, dir2), wantTree)
		})
	}
}

// TestOffsiteRestoreRefusals: without a bucket, or an encrypted copy
// without the identity file, the restore says what is missing and changes
// nothing.
func TestOffsiteRestoreRefusals(t *testing.T) {
	f := newOffsiteRestoreFixture(t, true)
	db2 := testpg.UniqueName("offsite")
	dir2 := filepath.Join(f.dir, "restored")

	r := f.run("restore", "--offsite", "--target-db", db2, "--create", "--target-dir", dir2)
	if r.code != 2 || !strings.Contains(r.stderr, "BACKUP_AGE_IDENTITY_FILE") {
		t.Errorf("encrypted copy, no identity: exit %d, stderr:\n%s\nwant exit 2 naming BACKUP_AGE_IDENTITY_FILE", r.code, r.stderr)
	}
	if _, err := os.Lstat(dir2); err == nil {
		t.Errorf("the refused restore created %s", dir2)
	}
	if out := f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+db2+"'"); out != "0" {
		t.Errorf("the refused restore created the database %s", db2)
	}

	delete(f.env, "BACKUP_S3_BUCKET")
	r = f.run("restore", "--offsite", "--target-db", db2, "--create", "--target-dir", dir2)
	if r.code != 2 || !strings.Contains(r.stderr, "BACKUP_S3_BUCKET") {
		t.Errorf("no bucket: exit %d, stderr:\n%s\nwant exit 2 naming BACKUP_S3_BUCKET", r.code, r.stderr)
	}
	f.env["BACKUP_S3_BUCKET"] = f.bucket
	f.env["BACKUP_AGE_IDENTITY_FILE"] = f.identity
	r = f.run("restore", "--offsite", "backup_2000-01-01_00-00-00", "--target-db", db2, "--create", "--target-dir", dir2)
	if r.code != 2 || !strings.Contains(r.stderr, "backup_2000-01-01_00-00-00") {
		t.Errorf("unknown backup: exit %d, stderr:\n%s\nwant exit 2 naming it", r.code, r.stderr)
	}
}

// TestOffsiteRestoreDamagedObject: an object changed in the bucket fails
// the restore of what it belongs to, and the target is left as it was.
func TestOffsiteRestoreDamagedObject(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			f := newOffsiteRestoreFixture(t, encrypted)
			if encrypted {
				f.env["BACKUP_AGE_IDENTITY_FILE"] = f.identity
			}
			// The live folder and database, changed since the backup, are
			// the targets: a failed restore must leave them so.
			writeTree(t, f.uploads, map[string]string{"new since the backup.txt": "keep me", "a.jpg": "changed"})
			f.execAsUser(f.db, "INSERT INTO tags VALUES ('after the backup')")
			wantTree := treeState(t, f.uploads)
			wantData := f.tableData(f.db)

			// a.jpg changed since the backup: the restore downloads it.
			damage(t, f.objectFile(sha256Hex([]byte("jpeg bytes"))))
			r := f.run("restore", "--offsite", "--uploads", "--delete")
			if r.code != 13 || !strings.Contains(r.stderr, "left as it was") {
				t.Errorf("damaged file object: exit %d, stderr:\n%s\nwant exit 13, the folder left as it was", r.code, r.stderr)
			}
			compareTrees(t, "after the failed restore", treeState(t, f.uploads), wantTree)

			damage(t, f.objectFile(f.firstDumpPiece(t)))
			r = f.run("restore", "--offsite", "--db", "--yes")
			if r.code != 13 || !strings.Contains(r.stderr, "left as it was") {
				t.Errorf("damaged dump object: exit %d, stderr:\n%s\nwant exit 13, the database left as it was", r.code, r.stderr)
			}
			compareData(t, "after the failed restore", f.tableData(f.db), wantData)
		})
	}
}

// firstDumpPiece returns the SHA-256 of the dump's first piece, from the
// backup's objects.jsonl (read with the backup's own key when sealed).
func (f *offsiteFixture) firstDumpPiece(t *testing.T) string {
	t.Helper()
	p := filepath.Join(f.s3.BucketDir(f.bucket), "backups", f.backup, "objects.jsonl")
	data, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		sealed, err := os.ReadFile(p + ".age")
		if err != nil {
			t.Fatal(err)
		}
		o, err := seal.LoadIdentities(f.identity)
		if err != nil {
			t.Fatal(err)
		}
		r, err := o.Open(bytes.NewReader(sealed), true)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	} else if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var l struct {
			Kind string `json:"k"`
			Sum  string `json:"h"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Kind == "dump" {
			return l.Sum
		}
	}
	t.Fatalf("no dump piece in %s", p)
	return ""
}
