package verify

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

const backupName = "backup_2026-01-02_03-04-05_1767322800"

const dumpHead = `--
-- PostgreSQL database dump
--

\restrict abc

-- Dumped from database version 15.8
-- Dumped by pg_dump version 15.14

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

CREATE TABLE public.directus_files (
    id uuid NOT NULL,
    filename_disk character varying(255),
    title character varying(255)
);

CREATE TABLE public.articles (
    id integer NOT NULL,
    title text
);

--
-- Data for Name: directus_files; Type: TABLE DATA; Schema: public; Owner: directus
--

COPY public.directus_files (id, filename_disk, title) FROM stdin;
0b0e6a0e-0000-4000-8000-000000000001	aaa.jpg	A picture
0b0e6a0e-0000-4000-8000-000000000002	bbb.png	Tab\there
0b0e6a0e-0000-4000-8000-000000000003	\N	Import that failed
`

const dumpMiddle = `\.


--
-- Data for Name: articles; Type: TABLE DATA; Schema: public; Owner: directus
--

COPY public.articles (id, title) FROM stdin;
1	Hello
2	World
\.


ALTER TABLE ONLY public.articles
    ADD CONSTRAINT articles_pkey PRIMARY KEY (id);

`

const dumpTrailer = `--
-- PostgreSQL database dump complete
--

\unrestrict abc

`

// dumpSQL is the plain dump of the fixture; extraRows are more
// directus_files rows.
func dumpSQL(extraRows string, complete bool) string {
	s := dumpHead + extraRows + dumpMiddle
	if complete {
		s += dumpTrailer
	}
	return s
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture makes BACKUPS_DIR with one complete backup and returns
// BACKUPS_DIR and the backup's folder.
func fixture(t *testing.T) (dir, bdir string) {
	t.Helper()
	dir = t.TempDir()
	bdir = filepath.Join(dir, backupName)
	up := filepath.Join(bdir, repo.BackupUploadsName)
	writeFile(t, filepath.Join(up, "aaa.jpg"), strings.Repeat("jpeg data ", 300))
	writeFile(t, filepath.Join(up, "bbb.png"), "png data")
	writeFile(t, filepath.Join(up, "nested", "deep", "c.txt"), "a nested file\n")
	if err := os.Mkdir(filepath.Join(up, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("aaa.jpg", filepath.Join(up, "link")); err != nil {
		t.Fatal(err)
	}
	writeList(t, bdir)
	writeDump(t, bdir, dumpSQL("", true))
	if err := repo.SetLatest(dir, backupName); err != nil {
		t.Fatal(err)
	}
	return dir, bdir
}

// writeList lists uploads/ as it is now into manifest.files.jsonl (in walk
// order, which filepath.WalkDir follows) and records the list in
// manifest.json.
func writeList(t *testing.T, bdir string) {
	t.Helper()
	up := filepath.Join(bdir, repo.BackupUploadsName)
	f, err := os.Create(filepath.Join(bdir, manifest.FilesListName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := manifest.NewListWriter(f)
	var u manifest.Uploads
	err = filepath.WalkDir(up, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(up, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := manifest.Entry{Path: filepath.ToSlash(rel), Mode: fmt.Sprintf("%04o", st.Mode&0o7777), MTime: manifest.TimeOf(st.Mtim), UID: int(st.Uid), GID: int(st.Gid)}
		switch {
		case fi.IsDir():
			e.Type = manifest.TypeDir
			u.Dirs++
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = manifest.TypeSymlink
			e.Target, _ = os.Readlink(p)
			u.Symlinks++
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Type, e.Size, e.SHA256 = manifest.TypeFile, int64(len(data)), sha(data)
			u.Files++
			u.Bytes += e.Size
		}
		return lw.Add(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	u.ListFile, u.ListSHA256, u.Entries = manifest.FilesListName, lw.SHA256(), lw.Count()
	editManifest(t, bdir, func(m *manifest.Manifest) { m.Uploads = u })
}

// writeDump stores sql as db_backup.sql.gz and records it in manifest.json.
func writeDump(t *testing.T, bdir, sql string) {
	t.Helper()
	gz := gzipBytes(t, []byte(sql))
	if err := os.WriteFile(filepath.Join(bdir, repo.DumpGzip), gz, 0o600); err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{
		"public.directus_files": int64(strings.Count(sql, "\n0b0e6a0e-")),
		"public.articles":       2,
	}
	editManifest(t, bdir, func(m *manifest.Manifest) {
		m.Database = manifest.Database{
			File: repo.DumpGzip, Compression: "gzip", Level: 6, Method: "local", Name: "directus",
			RawBytes: int64(len(sql)), RawSHA256: sha([]byte(sql)),
			Bytes: int64(len(gz)), SHA256: sha(gz),
			TableRows: rows,
		}
	})
}

// editManifest loads manifest.json (or starts one), changes it and writes
// it back.
func editManifest(t *testing.T, bdir string, edit func(*manifest.Manifest)) {
	t.Helper()
	m, err := manifest.Load(bdir)
	if errors.Is(err, manifest.ErrNotFound) {
		m, err = &manifest.Manifest{Format: manifest.Format, Tool: "directus-backup", Name: backupName, Timestamp: 1767322800}, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if err := manifest.Write(bdir, m); err != nil {
		t.Fatal(err)
	}
}

// load returns the backup as repo sees it.
func load(t *testing.T, dir string) repo.Backup {
	t.Helper()
	bs, err := repo.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Name == backupName {
			return b
		}
	}
	t.Fatalf("backup %s not listed", backupName)
	return repo.Backup{}
}

func check(t *testing.T, dir string) Result {
	t.Helper()
	res, err := Backup(context.Background(), load(t, dir), Options{})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	return res
}

// wantProblems fails unless the problems are exactly the given kind+path
// pairs ("kind path"), in any order.
func wantProblems(t *testing.T, res Result, want ...string) {
	t.Helper()
	got := map[string]int{}
	for _, p := range res.Problems {
		got[p.Kind+" "+p.Path]++
	}
	w := map[string]int{}
	for _, s := range want {
		w[s]++
	}
	ok := len(got) == len(w)
	for k, n := range w {
		if got[k] != n {
			ok = false
		}
	}
	if !ok {
		t.Errorf("problems:\n%s\nwant: %q", listProblems(res), want)
	}
}

func listProblems(res Result) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func problem(res Result, kind string) (Problem, bool) {
	for _, p := range res.Problems {
		if p.Kind == kind {
			return p, true
		}
	}
	return Problem{}, false
}

func TestCleanBackupPasses(t *testing.T) {
	dir, _ := fixture(t)
	var progress []int64
	res, err := Backup(context.Background(), load(t, dir), Options{Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Problems) != 0 {
		t.Fatalf("clean backup has problems:\n%s", listProblems(res))
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped: %q", res.Skipped)
	}
	if res.Backup != backupName || res.State != repo.Complete {
		t.Errorf("backup %q state %q", res.Backup, res.State)
	}
	if res.Files != 3 {
		t.Errorf("files checked = %d, want 3", res.Files)
	}
	if res.DirectusFiles != 2 {
		t.Errorf("Directus files checked = %d, want 2 (one row has a NULL filename_disk)", res.DirectusFiles)
	}
	if want := int64(len(dumpSQL("", true))); res.DumpRawBytes != want {
		t.Errorf("DumpRawBytes = %d, want %d", res.DumpRawBytes, want)
	}
	gz, _ := os.Stat(filepath.Join(dir, backupName, repo.DumpGzip))
	if want := gz.Size() + 3000 + 8 + 14; res.Bytes != want {
		t.Errorf("Bytes = %d, want %d", res.Bytes, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != res.Bytes {
		t.Errorf("progress reports %v, want the last to be %d", progress, res.Bytes)
	}
}

func TestPlainDumpPasses(t *testing.T) {
	dir, bdir := fixture(t)
	sql := dumpSQL("", true)
	os.Remove(filepath.Join(bdir, repo.DumpGzip))
	writeFile(t, filepath.Join(bdir, repo.DumpPlain), sql)
	editManifest(t, bdir, func(m *manifest.Manifest) {
		m.Database.File, m.Database.Compression = repo.DumpPlain, "none"
		m.Database.Bytes, m.Database.SHA256 = int64(len(sql)), sha([]byte(sql))
	})
	res := check(t, dir)
	wantProblems(t, res)
	if res.DumpRawBytes != int64(len(sql)) || res.DirectusFiles != 2 {
		t.Errorf("raw %d, Directus files %d", res.DumpRawBytes, res.DirectusFiles)
	}

	// A flipped byte in a plain dump shows only in the checksum.
	data := []byte(sql)
	data[100] ^= 0x20
	os.WriteFile(filepath.Join(bdir, repo.DumpPlain), data, 0o600)
	wantProblems(t, check(t, dir), KindDumpChecksum+" "+repo.DumpPlain)
}

func TestFlippedByteInUpload(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, "uploads", "aaa.jpg")
	data, _ := os.ReadFile(p)
	data[1234] ^= 0x01
	os.WriteFile(p, data, 0o644)
	res := check(t, dir)
	wantProblems(t, res, KindContent+" uploads/aaa.jpg")
	if p, _ := problem(res, KindContent); !strings.Contains(p.Detail, sha(data)) {
		t.Errorf("detail does not give the file's SHA-256: %s", p.Detail)
	}
}

func TestTruncatedUpload(t *testing.T) {
	dir, bdir := fixture(t)
	os.Truncate(filepath.Join(bdir, "uploads", "nested", "deep", "c.txt"), 3)
	res := check(t, dir)
	wantProblems(t, res, KindSize+" uploads/nested/deep/c.txt")
	if p, _ := problem(res, KindSize); !strings.Contains(p.Detail, "3 bytes, manifest says 14") {
		t.Errorf("detail: %s", p.Detail)
	}
}

func TestDeletedUpload(t *testing.T) {
	dir, bdir := fixture(t)
	os.Remove(filepath.Join(bdir, "uploads", "nested", "deep", "c.txt"))
	wantProblems(t, check(t, dir), KindMissing+" uploads/nested/deep/c.txt")
}

func TestDeletedFolderIsOneProblem(t *testing.T) {
	dir, bdir := fixture(t)
	os.RemoveAll(filepath.Join(bdir, "uploads", "nested"))
	res := check(t, dir)
	wantProblems(t, res, KindMissing+" uploads/nested")
	if p, _ := problem(res, KindMissing); !strings.Contains(p.Detail, "2 items") {
		t.Errorf("detail: %s", p.Detail)
	}
}

func TestExtraFile(t *testing.T) {
	dir, bdir := fixture(t)
	writeFile(t, filepath.Join(bdir, "uploads", "nested", "new.txt"), "not backed up")
	// A name sorting between listed ones checks the merge order too.
	writeFile(t, filepath.Join(bdir, "uploads", "b.txt"), "x")
	wantProblems(t, check(t, dir), KindExtra+" uploads/nested/new.txt", KindExtra+" uploads/b.txt")
}

func TestChangedSymlink(t *testing.T) {
	dir, bdir := fixture(t)
	link := filepath.Join(bdir, "uploads", "link")
	os.Remove(link)
	os.Symlink("bbb.png", link)
	res := check(t, dir)
	wantProblems(t, res, KindSymlink+" uploads/link")
	if p, _ := problem(res, KindSymlink); !strings.Contains(p.Detail, `"bbb.png"`) || !strings.Contains(p.Detail, `"aaa.jpg"`) {
		t.Errorf("detail: %s", p.Detail)
	}
}

func TestFileReplacedByFolder(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, "uploads", "nested", "deep", "c.txt")
	os.Remove(p)
	writeFile(t, filepath.Join(p, "inside"), "x")
	wantProblems(t, check(t, dir), KindType+" uploads/nested/deep/c.txt")
}

func TestTruncatedDump(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, repo.DumpGzip)
	fi, _ := os.Stat(p)
	os.Truncate(p, fi.Size()/2)
	res := check(t, dir)
	wantProblems(t, res,
		KindDumpCorrupt+" "+repo.DumpGzip,
		KindDumpChecksum+" "+repo.DumpGzip,
		KindDumpSize+" "+repo.DumpGzip)
	if len(res.Skipped) == 0 {
		t.Error("no note that the dump's end could not be checked")
	}
}

func TestFlippedByteInDump(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, repo.DumpGzip)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 0x10
	os.WriteFile(p, data, 0o600)
	res := check(t, dir)
	wantProblems(t, res, KindDumpChecksum+" "+repo.DumpGzip, KindDumpCorrupt+" "+repo.DumpGzip)
	if c, _ := problem(res, KindDumpCorrupt); !strings.Contains(c.Detail, "gzip") {
		t.Errorf("corrupt detail: %s", c.Detail)
	}
}

func TestDumpWithoutCompletionLine(t *testing.T) {
	dir, bdir := fixture(t)
	writeDump(t, bdir, dumpSQL("", false)) // checksums in the manifest match
	res := check(t, dir)
	wantProblems(t, res, KindDumpIncomplete+" "+repo.DumpGzip)
}

func TestDumpTrailerVariants(t *testing.T) {
	for _, tc := range []struct {
		tail string
		ok   bool
	}{
		{"-- PostgreSQL database dump complete\n--\n\n", true},
		{"-- PostgreSQL database dump complete\n", true},
		{"-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n", true},
		{"-- PostgreSQL database dump complete\n--\n\nSELECT 1;\n", false},
		{"-- PostgreSQL database dump\n", false},
		{"", false},
	} {
		if got := dumpscan.EndsComplete([]byte("COPY x;\n\\.\n" + tc.tail)); got != tc.ok {
			t.Errorf("endsComplete(%q) = %v, want %v", tc.tail, got, tc.ok)
		}
	}
}

func TestTableRowsMismatch(t *testing.T) {
	dir, bdir := fixture(t)
	editManifest(t, bdir, func(m *manifest.Manifest) {
		m.Database.TableRows["public.articles"] = 5
		m.Database.TableRows["public.gone"] = 1
	})
	res := check(t, dir)
	wantProblems(t, res, KindTableRows+" "+repo.DumpGzip, KindTableRows+" "+repo.DumpGzip)
	var details []string
	for _, p := range res.Problems {
		details = append(details, p.Detail)
	}
	all := strings.Join(details, "\n")
	if !strings.Contains(all, "public.articles: the dump has 2 rows, manifest says 5") || !strings.Contains(all, "public.gone") {
		t.Errorf("details:\n%s", all)
	}
}

func TestDirectusFileMissingFromUploads(t *testing.T) {
	dir, bdir := fixture(t)
	writeDump(t, bdir, dumpSQL("0b0e6a0e-0000-4000-8000-000000000004\tsub/ghost.jpg\tGone\n", true))
	res := check(t, dir)
	wantProblems(t, res, KindDirectusMissingFile+" uploads/sub/ghost.jpg")
	if res.DirectusFiles != 3 {
		t.Errorf("DirectusFiles = %d, want 3", res.DirectusFiles)
	}
}

func TestDirectusUnsafeNameAndOtherStorage(t *testing.T) {
	dir, bdir := fixture(t)
	// A storage column: files on S3 are not expected in uploads/.
	sql := strings.Replace(dumpSQL("", true),
		"COPY public.directus_files (id, filename_disk, title) FROM stdin;\n"+
			"0b0e6a0e-0000-4000-8000-000000000001\taaa.jpg\tA picture\n"+
			"0b0e6a0e-0000-4000-8000-000000000002\tbbb.png\tTab\\there\n"+
			"0b0e6a0e-0000-4000-8000-000000000003\t\\N\tImport that failed\n",
		"COPY public.directus_files (id, storage, filename_disk, title) FROM stdin;\n"+
			"0b0e6a0e-0000-4000-8000-000000000001\tlocal\taaa.jpg\tA picture\n"+
			"0b0e6a0e-0000-4000-8000-000000000002\tlocal\t../../etc/passwd\tescape\n"+
			"0b0e6a0e-0000-4000-8000-000000000003\ts3\tonly-on-s3.jpg\tremote\n", 1)
	if !strings.Contains(sql, "storage") {
		t.Fatal("fixture replacement failed")
	}
	writeDump(t, bdir, sql)
	res := check(t, dir)
	wantProblems(t, res, KindDirectusBadPath+" uploads")
	if !strings.Contains(strings.Join(res.Skipped, "\n"), `1 files on storage location "s3", which this backup does not hold`) {
		t.Errorf("skipped: %q", res.Skipped)
	}
}

func TestTamperedList(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, manifest.FilesListName)
	data, _ := os.ReadFile(p)
	// An edited entry: the list checksum notices the edit, and the file
	// no longer matches what the list now says.
	changed := bytes.Replace(data, []byte(`"mode":"0644"`), []byte(`"mode":"0666"`), 1)
	if bytes.Equal(changed, data) {
		t.Fatal("fixture list has no 0644 entry")
	}
	os.WriteFile(p, changed, 0o600)
	wantProblems(t, check(t, dir), KindAttributes+" uploads/aaa.jpg", KindListChecksum+" "+manifest.FilesListName)
}

// The backup's files are never changed after the backup: a chmod or a
// touch on one is reported (restore would refuse the item).
func TestChangedAttributes(t *testing.T) {
	dir, bdir := fixture(t)
	os.Chmod(filepath.Join(bdir, "uploads", "aaa.jpg"), 0o600)
	wantProblems(t, check(t, dir), KindAttributes+" uploads/aaa.jpg")
	os.Chmod(filepath.Join(bdir, "uploads", "aaa.jpg"), 0o644)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(bdir, "uploads", "aaa.jpg"), old, old)
	wantProblems(t, check(t, dir), KindAttributes+" uploads/aaa.jpg")
}

func TestUnreadableList(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, manifest.FilesListName)
	data, _ := os.ReadFile(p)
	lines := strings.SplitAfter(string(data), "\n")
	lines[2] = "{not json\n"
	os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600)
	res := check(t, dir)
	wantProblems(t, res, KindListUnreadable+" "+manifest.FilesListName, KindListChecksum+" "+manifest.FilesListName)
}

func TestLegacyBackup(t *testing.T) {
	dir, bdir := fixture(t)
	os.Remove(filepath.Join(bdir, manifest.FileName))
	os.Remove(filepath.Join(bdir, manifest.FilesListName))
	res := check(t, dir)
	if res.State != repo.Legacy {
		t.Fatalf("state %q", res.State)
	}
	wantProblems(t, res)
	if !strings.Contains(strings.Join(res.Skipped, "\n"), "file checksums") {
		t.Errorf("skipped: %q", res.Skipped)
	}
	if res.DirectusFiles != 2 || res.Files != 0 {
		t.Errorf("Directus files %d, files %d", res.DirectusFiles, res.Files)
	}

	// The dump and the Directus files are still checked.
	os.Remove(filepath.Join(bdir, "uploads", "bbb.png"))
	p := filepath.Join(bdir, repo.DumpGzip)
	fi, _ := os.Stat(p)
	os.Truncate(p, fi.Size()-10)
	wantProblems(t, check(t, dir), KindDumpCorrupt+" "+repo.DumpGzip, KindDirectusMissingFile+" uploads/bbb.png")
}

func TestLegacyDumpWithoutCompletionLine(t *testing.T) {
	dir, bdir := fixture(t)
	os.Remove(filepath.Join(bdir, manifest.FileName))
	os.WriteFile(filepath.Join(bdir, repo.DumpGzip), gzipBytes(t, []byte(dumpSQL("", false))), 0o600)
	wantProblems(t, check(t, dir), KindDumpIncomplete+" "+repo.DumpGzip)
}

func TestMissingDump(t *testing.T) {
	dir, bdir := fixture(t)
	os.Remove(filepath.Join(bdir, repo.DumpGzip))
	wantProblems(t, check(t, dir), KindMissing+" "+repo.DumpGzip)
}

func TestIncompleteAndDamaged(t *testing.T) {
	dir, bdir := fixture(t)
	os.Remove(filepath.Join(bdir, manifest.FileName))
	os.Remove(filepath.Join(bdir, repo.DumpGzip))
	res := check(t, dir)
	if res.State != repo.Incomplete {
		t.Fatalf("state %q", res.State)
	}
	wantProblems(t, res, KindMissing+" ")

	os.WriteFile(filepath.Join(bdir, manifest.FileName), []byte("{truncated"), 0o600)
	res = check(t, dir)
	if res.State != repo.Damaged {
		t.Fatalf("state %q", res.State)
	}
	wantProblems(t, res, KindManifest+" "+manifest.FileName)
}

func TestLatest(t *testing.T) {
	dir, bdir := fixture(t)
	if p := Latest(dir); p != nil {
		t.Errorf("good link: %v", p)
	}
	link := filepath.Join(dir, repo.LatestLink)

	os.Remove(link)
	if p := Latest(dir); p == nil || p.Kind != KindLatest {
		t.Errorf("no link: %v", p)
	}

	os.Symlink("backup_2020-01-01_00-00-00_1577836800", link)
	if p := Latest(dir); p == nil || !strings.Contains(p.Detail, "cannot be reached") {
		t.Errorf("dangling link: %v", p)
	}

	// A link to a folder that is not a usable backup.
	os.Remove(filepath.Join(bdir, manifest.FileName))
	os.Remove(filepath.Join(bdir, repo.DumpGzip))
	os.Remove(link)
	os.Symlink(backupName, link)
	if p := Latest(dir); p == nil || !strings.Contains(p.Detail, string(repo.Incomplete)) {
		t.Errorf("link to an incomplete backup: %v", p)
	}
}

func TestCancelledContext(t *testing.T) {
	dir, _ := fixture(t)
	b := load(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Backup(ctx, b, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: %v", err)
	}

	// Cancelled once the run is under way (progress is first reported
	// after the dump).
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err := Backup(ctx, b, Options{Progress: func(int64) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during the run: %v", err)
	}
}

func TestUnreadableFolderIsAnError(t *testing.T) {
	dir, _ := fixture(t)
	b := load(t, dir)
	b.Path = filepath.Join(dir, "backup_gone_1")
	if _, err := Backup(context.Background(), b, Options{}); err == nil {
		t.Error("no error for a folder that does not exist")
	}
}
