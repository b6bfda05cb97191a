package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// Issue 9: the dump written as one gzip member (zstd frame) per
// content-defined chunk, members of unchanged chunks copied from the
// previous backup's dump. These tests read such dumps with every reader a
// user may have, and check what is reused, refreshed and recorded.

// activitySQL adds a table of about 2 MB of varied text, so that the dump
// (with the 2 MB row of seedSQL) is a few MB and spans a dozen chunks of
// 256 KiB on average, with boundaries found in real content.
const activitySQL = `
CREATE TABLE activity (id int PRIMARY KEY, action text, item text, comment text);
INSERT INTO activity SELECT i, CASE WHEN i % 3 = 0 THEN 'update' ELSE 'create' END,
  md5(i::text), md5((i * 7)::text) || ' ' || md5((i * 13)::text)
  FROM generate_series(1, 20000) i;
`

// dayOfChanges edits a row near the start of articles and appends
// activity: some chunks change, most do not.
const dayOfChanges = `
UPDATE articles SET title = 'edited' WHERE id = 1;
INSERT INTO activity SELECT i, 'create', md5(i::text), 'new' FROM generate_series(20001, 20100) i;
`

// newChunkFixture is newFixture with the activity table added.
func newChunkFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.execAsUser(f.db, activitySQL)
	return f
}

// chunkData is tableData plus the activity table.
func (f *fixture) chunkData(db string) map[string]string {
	f.t.Helper()
	out := f.tableData(db)
	out["activity"] = f.pg.MustExec(f.t, db, "COPY (SELECT * FROM activity ORDER BY 1) TO STDOUT")
	return out
}

// backupRun makes a backup (backup args...) and returns its folder and
// the run's output.
func (f *fixture) backupRun(args ...string) (string, result) {
	f.t.Helper()
	r := f.run(append([]string{"backup"}, args...)...)
	if r.code != 0 {
		f.t.Fatalf("backup exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return f.latest(), r
}

// summaryRE finds the summary's chunks line: count, reused, and the
// damaged members compressed afresh when there were any.
var summaryRE = regexp.MustCompile(`(?m)^  chunks     (\d+): (\d+) reused from the previous dump, [^,\n]+ compressed(?:, (\d+) damaged)?`)

// summaryCounts returns the counts of the summary's chunks line.
func summaryCounts(t *testing.T, stdout string) (chunks, reused, damaged int64) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no chunks line in the summary:\n%s", stdout)
	}
	chunks, _ = strconv.ParseInt(m[1], 10, 64)
	reused, _ = strconv.ParseInt(m[2], 10, 64)
	if m[3] != "" {
		damaged, _ = strconv.ParseInt(m[3], 10, 64)
	}
	return chunks, reused, damaged
}

// dumpPath is the backup's dump file as its manifest names it.
func dumpPath(t *testing.T, backup string) string {
	t.Helper()
	m, _ := readManifest(t, backup)
	return filepath.Join(backup, m.Database.File)
}

// testArchive checks a dump with its codec's own tool: gunzip -t or
// zstd -t.
func testArchive(t *testing.T, dump string) {
	t.Helper()
	cmd := exec.Command("gunzip", "-t", dump)
	if strings.HasSuffix(dump, ".zst") {
		cmd = exec.Command("zstd", "-q", "-t", dump)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%v: %v %s", cmd.Args, err, out)
	}
}

// listedChunk is one line of manifest.chunks.jsonl, read independently of
// internal/chunked.
type listedChunk struct {
	RawSHA256 string `json:"raw_sha256"`
	RawSize   int64  `json:"raw_size"`
	Offset    int64  `json:"offset"`
	Size      int64  `json:"size"`
}

// checkChunkList checks the backup's chunk list against its manifest and its
// dump: the list's checksum, members that tile the file from offset 0, each
// member alone one whole member (frame) of its codec that decompresses to
// its listed raw size and SHA-256, and the chunks together the whole dump.
// It returns the list.
func checkChunkList(t *testing.T, backup string) []listedChunk {
	t.Helper()
	m, _ := readManifest(t, backup)
	c := m.Database.Chunks
	if c == nil {
		t.Fatalf("%s: manifest has no database.chunks", filepath.Base(backup))
	}
	list, err := os.ReadFile(filepath.Join(backup, c.ListFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Hex(list); got != c.ListSHA256 {
		t.Errorf("chunk list SHA-256 %s, manifest says %s", got, c.ListSHA256)
	}
	dump, err := os.ReadFile(filepath.Join(backup, m.Database.File))
	if err != nil {
		t.Fatal(err)
	}
	var zdec *zstd.Decoder
	if m.Database.Compression == "zstd" {
		zdec, _ = zstd.NewReader(nil)
		defer zdec.Close()
	}
	var chunks []listedChunk
	var next, rawTotal int64
	whole := sha256.New()
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		var ch listedChunk
		if err := json.Unmarshal(sc.Bytes(), &ch); err != nil {
			t.Fatalf("chunk list line %d: %v", len(chunks)+1, err)
		}
		chunks = append(chunks, ch)
		if ch.Offset != next || ch.Size <= 0 || ch.Offset+ch.Size > int64(len(dump)) {
			t.Fatalf("chunk %d at %d+%d does not follow the one before (ends at %d) in a file of %d bytes",
				len(chunks), ch.Offset, ch.Size, next, len(dump))
		}
		next = ch.Offset + ch.Size
		member := dump[ch.Offset:next]
		var raw []byte
		if zdec != nil {
			raw, err = zdec.DecodeAll(member, nil)
		} else {
			raw, err = gunzipOneMember(member)
		}
		if err != nil {
			t.Fatalf("chunk %d (offset %d): member does not decompress alone: %v", len(chunks), ch.Offset, err)
		}
		if int64(len(raw)) != ch.RawSize || sha256Hex(raw) != ch.RawSHA256 {
			t.Errorf("chunk %d (offset %d): decompresses to %d bytes %s, listed as %d bytes %s",
				len(chunks), ch.Offset, len(raw), sha256Hex(raw), ch.RawSize, ch.RawSHA256)
		}
		rawTotal += int64(len(raw))
		whole.Write(raw)
	}
	if next != int64(len(dump)) || next != m.Database.Bytes {
		t.Errorf("members end at %d; the file has %d bytes, the manifest says %d", next, len(dump), m.Database.Bytes)
	}
	if int64(len(chunks)) != c.Count {
		t.Errorf("%d chunks listed, manifest counts %d", len(chunks), c.Count)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); rawTotal != m.Database.RawBytes || got != m.Database.RawSHA256 {
		t.Errorf("chunks together: %d bytes %s; manifest: %d bytes %s", rawTotal, got, m.Database.RawBytes, m.Database.RawSHA256)
	}
	if c.ReusedRawBytes+c.FreshRawBytes != m.Database.RawBytes {
		t.Errorf("reused %d + fresh %d raw bytes, dump has %d", c.ReusedRawBytes, c.FreshRawBytes, m.Database.RawBytes)
	}
	return chunks
}

// gunzipOneMember decompresses member with the standard library's reader,
// and fails unless it is exactly one gzip member.
func gunzipOneMember(member []byte) ([]byte, error) {
	br := bytes.NewReader(member)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the first member", br.Len())
	}
	return raw, nil
}

// gzipMembers reads a gzip file with the standard library, member by
// member, and returns how many members it has and the SHA-256 of the
// whole content.
func gzipMembers(t *testing.T, path string) (int, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f) // a ByteReader: the reader stops at each member's end
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n := 0
	for {
		zr.Multistream(false)
		if _, err := io.Copy(h, zr); err != nil {
			t.Fatalf("gzip member %d: %v", n+1, err)
		}
		n++
		if err := zr.Reset(br); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("gzip member %d header: %v", n+1, err)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

// shellSHA256 runs a shell pipeline that writes the dump's content to
// stdout and returns the SHA-256 of what it wrote.
func shellSHA256(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"-c", "set -o pipefail; " + script, "x"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return sha256Hex(out)
}

// dumpedRE finds the run's "database dumped" log line.
var dumpedRE = regexp.MustCompile(`database dumped .* chunks=(\d+) reused=(\d+)`)

// dumpedCounts returns the chunks= and reused= counts of the run's log.
func dumpedCounts(t *testing.T, log string) (chunks, reused int64) {
	t.Helper()
	m := dumpedRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no \"database dumped ... chunks=N reused=N\" line in the log:\n%s", log)
	}
	chunks, _ = strconv.ParseInt(m[1], 10, 64)
	reused, _ = strconv.ParseInt(m[2], 10, 64)
	return chunks, reused
}

// restoreChecks restores backup with the tool (restore --db --create)
// into a new database and compares its tables with want; verify must pass
// on it first.
func (f *fixture) restoreChecks(backup string, want map[string]string) {
	f.t.Helper()
	name := filepath.Base(backup)
	if r := f.run("verify", name); r.code != 0 {
		f.t.Errorf("verify %s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
	}
	db := testpg.UniqueName("restored")
	f.t.Cleanup(func() { f.pg.Exec("postgres", `DROP DATABASE IF EXISTS "`+db+`" WITH (FORCE)`) })
	if r := f.run("restore", "--db", "--create", "--target-db", db, name); r.code != 0 {
		f.t.Fatalf("restore --db %s: exit %d\n%s", name, r.code, r.stderr)
	}
	compareData(f.t, "restore --db of "+name, f.chunkData(db), want)
}

// Two backups with a day of changes between them: the second one's dump is
// several members, some copied from the first dump, some compressed afresh,
// and every reader reads it as one file; the reuse is counted the same in
// the manifest and in the run's log.
func TestChunkedDumpTwoBackups(t *testing.T) {
	for _, codec := range []string{"gzip", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			f := newChunkFixture(t)
			f.env["BACKUP_COMPRESSION"] = codec
			first, _ := f.backupRun()
			f.execAsUser(f.db, dayOfChanges)
			want := f.chunkData(f.db)
			second, r := f.backupRun("--json")

			m, _ := readManifest(t, second)
			c := m.Database.Chunks
			if c == nil {
				t.Fatal("second backup's manifest has no database.chunks")
			}
			chunks := checkChunkList(t, second)
			checkChunkList(t, first)
			if len(chunks) < 4 {
				t.Fatalf("dump of %d bytes in %d chunks; the test needs several", m.Database.RawBytes, len(chunks))
			}
			if c.Reused <= 0 || c.Reused >= c.Count || c.Refreshed != 0 || c.Previous != filepath.Base(first) {
				t.Errorf("chunks %+v: want some but not all reused from %s, none refreshed", *c, filepath.Base(first))
			}
			if n, re := dumpedCounts(t, r.stderr); n != c.Count || re != c.Reused {
				t.Errorf("log says chunks=%d reused=%d, manifest %d and %d", n, re, c.Count, c.Reused)
			}
			var doc struct {
				Database struct {
					Chunks struct {
						Count, Reused, Refreshed int64
						FreshRaw                 int64 `json:"fresh_raw_bytes"`
					}
				}
			}
			mustJSON(t, "backup --json", r, &doc)
			if j := doc.Database.Chunks; j.Count != c.Count || j.Reused != c.Reused || j.Refreshed != 0 || j.FreshRaw != c.FreshRawBytes {
				t.Errorf("backup --json: database.chunks %+v; manifest %+v\n%s", j, *c, r.stdout)
			}
			// The changes were in articles (and at activity's end); a
			// table's bytes are either fresh or reused, never more.
			if a := c.Tables["public.articles"]; a.FreshRawBytes == 0 || a.FreshRawBytes > a.RawBytes {
				t.Errorf("articles, where a row was edited: %+v; tables %v", a, c.Tables)
			}
			if a := c.Tables["public.activity"]; a.RawBytes == 0 || a.FreshRawBytes >= a.RawBytes {
				t.Errorf("activity, which only grew: %+v; want most of it reused", a)
			}

			dump := dumpPath(t, second)
			if codec == "gzip" {
				testArchive(t, dump)
				members, goSum := gzipMembers(t, dump)
				if members != len(chunks) {
					t.Errorf("Go's gzip reader finds %d members, the list %d", members, len(chunks))
				}
				readers := map[string]string{
					"Go's compress/gzip": goSum,
					"gunzip -c":          shellSHA256(t, `gunzip -c "$1"`, dump),
					"zcat":               shellSHA256(t, `zcat < "$1"`, dump),
					"python3 gzip": shellSHA256(t,
						`python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())' "$1"`, dump),
				}
				for reader, sum := range readers {
					if sum != m.Database.RawSHA256 {
						t.Errorf("%s reads %s, the manifest's raw SHA-256 is %s", reader, sum, m.Database.RawSHA256)
					}
				}
				fresh := f.db + "_gunzip"
				f.pg.CreateDB(t, fresh, f.user)
				f.specRestore(dump, fresh)
				compareData(t, "gunzip -c | psql", f.chunkData(fresh), want)
			} else {
				testArchive(t, dump)
				zf, err := os.Open(dump)
				if err != nil {
					t.Fatal(err)
				}
				defer zf.Close()
				zr, err := zstd.NewReader(zf)
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				h := sha256.New()
				if _, err := io.Copy(h, zr); err != nil {
					t.Fatalf("Go's zstd reader: %v", err)
				}
				readers := map[string]string{
					"Go's zstd reader": hex.EncodeToString(h.Sum(nil)),
					"zstd -d -c":       shellSHA256(t, `zstd -q -d -c "$1"`, dump),
				}
				for reader, sum := range readers {
					if sum != m.Database.RawSHA256 {
						t.Errorf("%s reads %s, the manifest's raw SHA-256 is %s", reader, sum, m.Database.RawSHA256)
					}
				}
				fresh := f.db + "_zstdcat"
				f.pg.CreateDB(t, fresh, f.user)
				cmd := exec.Command("bash", "-c", `set -o pipefail; zstd -q -d -c "$1" | psql -X -q -v ON_ERROR_STOP=1 "$2"`, "x", dump, fresh)
				cmd.Env = f.userEnv()
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("zstd -d -c | psql: %v\n%s", err, out)
				}
				compareData(t, "zstd -d -c | psql", f.chunkData(fresh), want)
			}
			f.restoreChecks(second, want)
		})
	}
}

// damageMember overwrites 16 bytes in the middle of one member of a dump
// in place (size, mode and the other members unchanged) and returns the
// file's bytes after the damage.
func damageMember(t *testing.T, dump string, ch listedChunk) []byte {
	t.Helper()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	at := ch.Offset + ch.Size/2
	for i := at; i < at+16; i++ {
		data[i] ^= 0xff
	}
	fh, err := os.OpenFile(dump, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt(data[at:at+16], at); err != nil {
		t.Fatal(err)
	}
	return data
}

// fileSums returns the SHA-256 of every regular file in the backup's top
// folder (manifest, lists, dump).
func fileSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if e.Type().IsRegular() {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = sha256Hex(data)
		}
	}
	return out
}

// A member of the previous dump damaged in place (same size, so only its
// decompression can tell): the next backup compresses that chunk afresh,
// warns naming the previous backup, and is whole; the previous backup is
// left as it was.
func TestChunkedDumpDamagedPreviousNotCarried(t *testing.T) {
	for _, codec := range []string{"gzip", "zstd"} {
		t.Run(codec, func(t *testing.T) { damagedPreviousNotCarried(t, codec) })
	}
}

func damagedPreviousNotCarried(t *testing.T, codec string) {
	f := newChunkFixture(t)
	f.env["BACKUP_COMPRESSION"] = codec
	want := f.chunkData(f.db)
	first, _ := f.backupRun()
	chunks := checkChunkList(t, first)
	if len(chunks) < 4 {
		t.Fatalf("%d chunks; the test needs several", len(chunks))
	}
	hit := chunks[len(chunks)/2]
	dump := dumpPath(t, first)
	damaged := damageMember(t, dump, hit)
	before := fileSums(t, first)

	second, r := f.backupRun()
	log := r.stderr
	m2, _ := readManifest(t, second)
	c := m2.Database.Chunks
	if c == nil {
		t.Fatal("second backup's manifest has no database.chunks")
	}
	// Nothing changed in the database: every other chunk is reused but
	// the first and the last, which hold pg_dump's random \restrict key.
	if c.Refreshed != 1 || c.Reused < c.Count-3 || c.Previous != filepath.Base(first) {
		t.Errorf("chunks %+v: want 1 refreshed and all but the first and last others reused from %s", *c, filepath.Base(first))
	}
	warn := regexp.MustCompile(`WARN: a member of the previous backup's dump is damaged.* previous=` +
		regexp.QuoteMeta(filepath.Base(first)) + fmt.Sprintf(` offset=%d size=%d`, hit.Offset, hit.Size))
	if !warn.MatchString(log) {
		t.Errorf("no warning naming %s and the damaged member at %d:\n%s", filepath.Base(first), hit.Offset, log)
	}
	if n, re, d := summaryCounts(t, r.stdout); n != c.Count || re != c.Reused || d != 1 {
		t.Errorf("summary says %d chunks, %d reused, %d damaged; manifest %d, %d, 1\n%s", n, re, d, c.Count, c.Reused, r.stdout)
	}
	if !regexp.MustCompile(`WARN: the previous backup's dump is damaged.* previous=` + regexp.QuoteMeta(filepath.Base(first))).MatchString(log) {
		t.Errorf("no warning to verify %s:\n%s", filepath.Base(first), log)
	}
	checkChunkList(t, second)
	testArchive(t, dumpPath(t, second))
	f.restoreChecks(second, want)

	// The damaged backup is as it was, and verify still finds its damage.
	if after := fileSums(t, first); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("files of %s changed:\n before %v\n after  %v", filepath.Base(first), before, after)
	}
	if data, _ := os.ReadFile(dump); !bytes.Equal(data, damaged) {
		t.Errorf("%s's dump changed", filepath.Base(first))
	}
	if r := f.run("verify", filepath.Base(first)); r.code != exitProblems {
		t.Errorf("verify of the damaged %s: exit %d, want %d\n%s", filepath.Base(first), r.code, exitProblems, r.stdout)
	}
}

// Backups with a single-member dump stay verifiable and restorable, and
// the first backup after one compresses every chunk: a backup of the
// original backup.sh (pg_dump | gzip -9, no manifest), and one of an
// earlier version of this tool (a manifest without database.chunks; its
// dump is what it is, so only the field is taken away).
func TestChunkedDumpAfterSingleMemberBackups(t *testing.T) {
	f := newChunkFixture(t)
	want := f.chunkData(f.db)

	f.ts++
	legacy := makeLegacyBackup(t, f, f.ts, true)
	cmd := exec.Command("bash", "-c", `set -o pipefail; pg_dump -U "$1" "$2" | gzip -9 > "$3"`,
		"x", f.user, f.db, filepath.Join(f.backups, legacy, "db_backup.sql.gz"))
	cmd.Env = f.userEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump | gzip -9: %v\n%s", err, out)
	}
	if n, _ := gzipMembers(t, filepath.Join(f.backups, legacy, "db_backup.sql.gz")); n != 1 {
		t.Fatalf("gzip -9 wrote %d members", n)
	}
	os.Symlink(legacy, filepath.Join(f.backups, "backup_latest")) // as backup.sh left it
	f.restoreChecks(filepath.Join(f.backups, legacy), want)

	afterLegacy := f.mustFirstChunked(legacy)

	// As an earlier version wrote it: no database.chunks.
	stripChunks(t, afterLegacy)
	f.restoreChecks(afterLegacy, want)
	f.mustFirstChunked(filepath.Base(afterLegacy))

	if r := f.run("verify", "--all"); r.code != 0 {
		t.Errorf("verify --all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// mustFirstChunked makes a backup after prev, whose dump cannot be reused:
// it must compress every chunk, link its uploads to prev, and be whole.
func (f *fixture) mustFirstChunked(prev string) string {
	t := f.t
	t.Helper()
	b, r := f.backupRun()
	m, _ := readManifest(t, b)
	c := m.Database.Chunks
	if c == nil {
		t.Fatalf("backup after %s: no database.chunks", prev)
	}
	if c.Reused != 0 || c.Refreshed != 0 || c.Previous != "" || c.Count < 4 || c.FreshRawBytes != m.Database.RawBytes {
		t.Errorf("backup after %s: chunks %+v; want every chunk compressed, nothing reused", prev, *c)
	}
	if n, re := dumpedCounts(t, r.stderr); n != c.Count || re != 0 {
		t.Errorf("backup after %s: log says chunks=%d reused=%d", prev, n, re)
	}
	if n, re, d := summaryCounts(t, r.stdout); n != c.Count || re != 0 || d != 0 {
		t.Errorf("backup after %s: summary says %d chunks, %d reused, %d damaged\n%s", prev, n, re, d, r.stdout)
	}
	if m.Uploads.Previous != prev {
		t.Errorf("backup after %s: uploads linked to %q", prev, m.Uploads.Previous)
	}
	checkChunkList(t, b)
	if r := f.run("verify", filepath.Base(b)); r.code != 0 {
		t.Errorf("verify %s: exit %d\n%s%s", filepath.Base(b), r.code, r.stdout, r.stderr)
	}
	return b
}

// stripChunks removes database.chunks from the backup's manifest.json,
// leaving every other field (and the chunk list file) as it is.
func stripChunks(t *testing.T, backup string) {
	t.Helper()
	p := filepath.Join(backup, manifest.FileName)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	db := m["database"].(map[string]any)
	if _, ok := db["chunks"]; !ok {
		t.Fatal("no database.chunks to strip")
	}
	delete(db, "chunks")
	if data, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Another gzip level than the previous dump's: nothing is reused (the
// members would not be what this level writes), the dump is whole, and
// the next backup at the new level reuses again.
func TestChunkedDumpLevelChange(t *testing.T) {
	f := newChunkFixture(t)
	f.env["BACKUP_GZIP_LEVEL"] = "9"
	first, _ := f.backupRun()
	f.env["BACKUP_GZIP_LEVEL"] = "6"
	second, r := f.backupRun()
	log := r.stderr
	m, _ := readManifest(t, second)
	c := m.Database.Chunks
	if c == nil || m.Database.Level != 6 {
		t.Fatalf("backup at level 6: level %d, chunks %v", m.Database.Level, c)
	}
	if c.Reused != 0 || c.Previous != "" || c.Refreshed != 0 {
		t.Errorf("after a level-9 dump, at level 6: chunks %+v; want nothing reused", *c)
	}
	if !strings.Contains(log, "previous dump was compressed otherwise") || !strings.Contains(log, filepath.Base(first)) {
		t.Errorf("the log does not say why nothing was reused:\n%s", log)
	}
	checkChunkList(t, second)
	testArchive(t, dumpPath(t, second))
	if r := f.run("verify", filepath.Base(second)); r.code != 0 {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// All but the first and last chunks, which hold pg_dump's random
	// \restrict key.
	third, _ := f.backupRun()
	if m, _ := readManifest(t, third); m.Database.Chunks == nil || m.Database.Chunks.Reused < m.Database.Chunks.Count-2 {
		t.Errorf("again at level 6, nothing changed: chunks %+v; want all but two reused", m.Database.Chunks)
	}
}

// A chunk list that is not the one its manifest's checksum names (here
// cut short by its last line, which still reads as a valid list) is not
// used: the next backup says so, compresses every chunk, and is whole;
// verify finds the damage.
func TestChunkedDumpDamagedListNotTrusted(t *testing.T) {
	f := newChunkFixture(t)
	first, _ := f.backupRun()
	p := filepath.Join(first, manifest.ChunksListName)
	list, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(list, []byte("\n")), []byte("\n"))
	if err := os.WriteFile(p, bytes.Join(lines[:len(lines)-1], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	second, r := f.backupRun()
	m, _ := readManifest(t, second)
	if c := m.Database.Chunks; c == nil || c.Reused != 0 || c.Previous != "" {
		t.Errorf("after a damaged chunk list: chunks %+v; want nothing reused", c)
	}
	if !regexp.MustCompile(`WARN: cannot reuse the previous dump's chunks.* previous=` + regexp.QuoteMeta(filepath.Base(first))).MatchString(r.stderr) {
		t.Errorf("no warning naming %s:\n%s", filepath.Base(first), r.stderr)
	}
	checkChunkList(t, second)
	if r := f.run("verify", filepath.Base(second)); r.code != 0 {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := f.run("verify", filepath.Base(first)); r.code != exitProblems || !strings.Contains(r.stdout, manifest.ChunksListName) {
		t.Errorf("verify of %s with its chunk list cut short: exit %d, want %d naming the list\n%s",
			filepath.Base(first), r.code, exitProblems, r.stdout)
	}
}
