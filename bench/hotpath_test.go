package bench

// Micro-benchmarks of the hot paths of a backup run. They only run with
// -bench, for example:
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/
//
// BenchmarkSnapshotIncremental  tree comparison and linking (2,000 unchanged files)
// BenchmarkSHA256               hashing (64 MiB)
// BenchmarkGzipLevels           pgzip levels 6-9 (and stdlib gzip -9) over SQL-like text
// BenchmarkManifestListWrite    writing manifest.files.jsonl entries

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// BenchmarkSnapshotIncremental: an incremental snapshot of 2,000 unchanged
// files (4 KiB each, 20 folders), every one a hard link to the previous
// backup, with the previous entry list supplied.
func BenchmarkSnapshotIncremental(b *testing.B) {
	const files = 2000
	root := b.TempDir()
	src := filepath.Join(root, "src")
	data := bytes.Repeat([]byte("directus upload content\n"), 4096/24)
	for i := 0; i < files; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%20))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.bin", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	prev := filepath.Join(root, "prev")
	var prevList bytes.Buffer
	lw := manifest.NewListWriter(&prevList)
	if _, err := snapshot.Take(context.Background(), snapshot.Options{Source: src, Dest: prev, PreserveOwner: os.Geteuid() == 0}, lw); err != nil {
		b.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(root, fmt.Sprintf("next%d", i))
		list := manifest.NewListWriter(io.Discard)
		res, err := snapshot.Take(context.Background(), snapshot.Options{
			Source: src, Dest: dest, Previous: prev,
			PreviousList: bytes.NewReader(prevList.Bytes()), PreserveOwner: os.Geteuid() == 0,
		}, list)
		if err != nil {
			b.Fatal(err)
		}
		list.Close()
		if res.Linked != files {
			b.Fatalf("linked %d of %d files", res.Linked, files)
		}
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkSHA256 hashes 64 MiB.
func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 64<<20)
	t := NewText(1, 1)
	for i := 0; i < len(buf); i += 8 {
		v := t.R.Uint64()
		for j := 0; j < 8 && i+j < len(buf); j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := sha256.New()
		h.Write(buf)
		h.Sum(nil)
	}
}

var (
	sqlOnce sync.Once
	sqlText []byte
)

// sqlLike returns about 32 MiB of text shaped like a plain pg_dump: COPY
// blocks of the benchmark tables, in the proportions of the harness's
// dataset (the same generator, the same seed).
func sqlLike() []byte {
	sqlOnce.Do(func() {
		const total = 32 << 20
		var b []byte
		for i, tb := range Tables(2000) {
			b = append(b, "\n--\n-- Data for Name: "+tb.Name+"; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"...)
			b = append(b, "COPY public."+tb.Name+" ("+tb.Columns+") FROM stdin;\n"...)
			t := NewText(0x5e1, uint64(100+i))
			start := len(b)
			for id := int64(1); ; id++ {
				if tb.Share == 0 && id > tb.Rows || tb.Share > 0 && len(b)-start >= int(tb.Share*total) {
					break
				}
				b = tb.Row(t, id, b)
			}
			b = append(b, "\\.\n\n"...)
		}
		sqlText = b
	})
	return sqlText
}

// BenchmarkGzipLevels compresses the SQL-like text with pgzip at levels 6
// to 9 (GOMAXPROCS blocks in flight, as the tool streams a dump) and with
// the standard library's single-threaded gzip -9 for reference. Reports
// MB/s (of input) and the output's size relative to stdlib gzip -9
// ("vs-stdlib9-%") and the compression ratio.
func BenchmarkGzipLevels(b *testing.B) {
	in := sqlLike()
	ref := func() int {
		var out countWriter
		w, _ := gzip.NewWriterLevel(&out, 9)
		w.Write(in)
		w.Close()
		return out.n
	}()
	run := func(b *testing.B, newW func(io.Writer) io.WriteCloser) {
		b.SetBytes(int64(len(in)))
		var n int
		start := time.Now()
		for i := 0; i < b.N; i++ {
			var out countWriter
			w := newW(&out)
			if _, err := w.Write(in); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			n = out.n
		}
		b.ReportMetric(float64(len(in))*float64(b.N)/1e6/time.Since(start).Seconds(), "MB/s")
		b.ReportMetric(float64(len(in))/float64(n), "ratio")
		b.ReportMetric((float64(n)/float64(ref)-1)*100, "vs-stdlib9-%")
	}
	for level := 6; level <= 9; level++ {
		b.Run(fmt.Sprintf("pgzip-%d", level), func(b *testing.B) {
			run(b, func(w io.Writer) io.WriteCloser {
				zw, err := pgzip.NewWriterLevel(w, level)
				if err != nil {
					b.Fatal(err)
				}
				zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0))
				return zw
			})
		})
	}
	b.Run("stdlib-9", func(b *testing.B) {
		run(b, func(w io.Writer) io.WriteCloser {
			zw, _ := gzip.NewWriterLevel(w, 9)
			return zw
		})
	})
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// BenchmarkManifestListWrite writes 10,000 manifest entries (one
// manifest.files.jsonl of a 10,000-file uploads folder) per iteration.
func BenchmarkManifestListWrite(b *testing.B) {
	const entries = 10000
	es := make([]manifest.Entry, entries)
	t := NewText(2, 2)
	for i := range es {
		sum := t.AppendHex(nil, 64)
		es[i] = manifest.Entry{
			Path: fmt.Sprintf("2024/%02d/%s.jpg", i%12+1, AppendUUIDFrom(nil, t.R.Uint64(), t.R.Uint64())),
			Type: manifest.TypeFile, Size: int64(1000 + i), Mode: "0644",
			MTime: manifest.TimeFromUnixNano(Epoch.UnixNano() + int64(i)*1e9), UID: 1000, GID: 1000, SHA256: string(sum),
		}
	}
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		var out countWriter
		w := manifest.NewListWriter(&out)
		for _, e := range es {
			if err := w.Add(e); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		n = out.n
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
