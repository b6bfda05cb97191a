package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// writeChunkedDump stores sql as a dump of many members with its chunk
// list, as a backup of this version does.
func writeChunkedDump(t *testing.T, bdir, sql string) {
	t.Helper()
	var out, list bytes.Buffer
	lw := chunked.NewListWriter(&list)
	var count int64
	cw, err := chunked.NewWriter(&out, chunked.Options{Codec: "gzip", Level: 6, AverageBits: 10,
		OnChunk: func(c chunked.Chunk, _ bool) error { count++; return lw.Add(c) }})
	if err != nil {
		t.Fatal(err)
	}
	cw.Write([]byte(sql))
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if count < 3 {
		t.Fatalf("only %d chunks", count)
	}
	writeFile(t, filepath.Join(bdir, repo.DumpGzip), out.String())
	writeFile(t, repo.ChunksIn(bdir), list.String())
	ls := sha256.Sum256(list.Bytes())
	editManifest(t, bdir, func(m *manifest.Manifest) {
		m.Database.Bytes, m.Database.SHA256 = int64(out.Len()), sha(out.Bytes())
		m.Database.Chunks = &manifest.Chunks{ListFile: manifest.ChunksListName, ListSHA256: hex.EncodeToString(ls[:]), Count: count}
	})
}

func TestChunkedDump(t *testing.T) {
	dir, bdir := fixture(t)
	// Comments make the dump span several chunks of 1 KiB on average.
	var pad strings.Builder
	for i := range 400 {
		pad.WriteString("-- padding line " + strings.Repeat(string(rune('a'+i%26)), i%40) + "\n")
	}
	big := strings.Replace(dumpSQL("", true), "--\n\n\\restrict", "--\n"+pad.String()+"\n\\restrict", 1)
	if len(big) < 10000 {
		t.Fatalf("dump of %d bytes", len(big))
	}
	writeDump(t, bdir, big)
	writeChunkedDump(t, bdir, big)
	if res := check(t, dir); len(res.Problems) != 0 {
		t.Fatalf("clean chunked dump: %s", listProblems(res))
	}

	// A list edited after the backup no longer matches its manifest.
	p := repo.ChunksIn(bdir)
	orig, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(orig, []byte(`"offset":0`), []byte(`"offset":1`), 1), 0o600)
	wantProblems(t, check(t, dir), KindManifest+" "+manifest.ChunksListName)

	// A list that does not add up to the file, though its checksum is the
	// one recorded.
	cut := orig[:bytes.LastIndexByte(orig[:len(orig)-1], '\n')+1]
	os.WriteFile(p, cut, 0o600)
	s := sha256.Sum256(cut)
	editManifest(t, bdir, func(m *manifest.Manifest) { m.Database.Chunks.ListSHA256 = hex.EncodeToString(s[:]) })
	res := check(t, dir)
	wantProblems(t, res, KindManifest+" "+manifest.ChunksListName)
	if c, _ := problem(res, KindManifest); !strings.Contains(c.Detail, "members") {
		t.Errorf("detail: %s", c.Detail)
	}

	os.Remove(p)
	wantProblems(t, check(t, dir), KindManifest+" "+manifest.ChunksListName)
}
