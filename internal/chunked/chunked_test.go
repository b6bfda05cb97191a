package chunked

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/directus-backup/directus-backup/internal/compress"
)

// text makes n bytes of dump-like lines from seed: compressible, and
// different enough everywhere for the chunker to find boundaries.
func text(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over lazy dog directus files users roles activity revisions " +
		"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor")
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d\t%08x", i, r.Uint32())
		for range 5 + r.IntN(20) {
			b.WriteByte(' ')
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

type written struct {
	out    bytes.Buffer
	chunks []Chunk
	reused []bool
	stats  Stats
	damage []Chunk
}

// write runs data through a Writer, in writes of odd sizes.
func write(t *testing.T, codec string, data []byte, prev *Previous) *written {
	t.Helper()
	w := &written{}
	cw, err := NewWriter(&w.out, Options{Codec: codec, Level: 6, AverageBits: 14, Previous: prev,
		OnChunk: func(c Chunk, reused bool) error {
			w.chunks = append(w.chunks, c)
			w.reused = append(w.reused, reused)
			return nil
		},
		OnDamaged: func(c Chunk, err error) { w.damage = append(w.damage, c) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%7777)
		if _, err := cw.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	w.stats = cw.Stats()
	return w
}

func (w *written) previous(t *testing.T) *Previous {
	t.Helper()
	var list bytes.Buffer
	lw := NewListWriter(&list)
	for _, c := range w.chunks {
		if err := lw.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	idx, _, err := ReadList(&list)
	if err != nil {
		t.Fatal(err)
	}
	return &Previous{File: bytes.NewReader(w.out.Bytes()), Index: idx}
}

func decompress(t *testing.T, codec string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch codec {
	case compress.Gzip:
		// The standard library's reader, not ours: what other tools see.
		gr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = gr
	default:
		d, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The output is one valid file of its codec whose members are the listed
// chunks, each on its own.
func TestMembersMakeOneFile(t *testing.T) {
	data := text(1, 1<<20)
	for _, codec := range []string{compress.Gzip, compress.Zstd} {
		w := write(t, codec, data, nil)
		if len(w.chunks) < 20 {
			t.Fatalf("%s: %d chunks for 1 MiB at 16 KiB average", codec, len(w.chunks))
		}
		if got := decompress(t, codec, w.out.Bytes()); !bytes.Equal(got, data) {
			t.Fatalf("%s: decompressed file differs from the input", codec)
		}
		var off, raw int64
		for _, c := range w.chunks {
			if c.Offset != off {
				t.Fatalf("%s: chunk at %d, want %d", codec, c.Offset, off)
			}
			member := w.out.Bytes()[c.Offset : c.Offset+c.Size]
			got := decompress(t, codec, member)
			if !bytes.Equal(got, data[raw:raw+c.RawSize]) {
				t.Fatalf("%s: member at %d is not its chunk", codec, c.Offset)
			}
			off += c.Size
			raw += c.RawSize
		}
		if off != int64(w.out.Len()) || raw != int64(len(data)) {
			t.Fatalf("%s: chunks cover %d of %d bytes, %d of %d raw", codec, off, w.out.Len(), raw, len(data))
		}
		if w.stats.Chunks != int64(len(w.chunks)) || w.stats.FreshRawBytes != int64(len(data)) || w.stats.Reused != 0 {
			t.Fatalf("%s: stats %+v", codec, w.stats)
		}
	}
}

// A change in the middle of the stream leaves the chunks away from it
// alone: their members are copied, and the file is the very file a fresh
// compression makes.
func TestUnchangedChunksReused(t *testing.T) {
	day1 := text(2, 1<<20)
	day2 := append(append(append([]byte{}, day1[:500_000]...), []byte("1\tan inserted row\n")...), day1[500_000:]...)
	for _, codec := range []string{compress.Gzip, compress.Zstd} {
		first := write(t, codec, day1, nil)
		fresh := write(t, codec, day2, nil)
		next := write(t, codec, day2, first.previous(t))
		if !bytes.Equal(next.out.Bytes(), fresh.out.Bytes()) {
			t.Fatalf("%s: the file with reused members differs from a fresh one", codec)
		}
		if next.stats.Reused == 0 || next.stats.Chunks-next.stats.Reused > 3 {
			t.Fatalf("%s: %d of %d chunks reused, want all but the one or two around the change", codec, next.stats.Reused, next.stats.Chunks)
		}
		if next.stats.ReusedRawBytes+next.stats.FreshRawBytes != int64(len(day2)) || len(next.damage) != 0 {
			t.Fatalf("%s: stats %+v, damage %d", codec, next.stats, len(next.damage))
		}
	}
}

// A damaged member of the previous file is never copied: its chunk is
// compressed afresh, reported, and the new file is whole.
func TestDamagedPreviousMemberNotCarried(t *testing.T) {
	data := text(3, 512<<10)
	for _, codec := range []string{compress.Gzip, compress.Zstd} {
		first := write(t, codec, data, nil)
		prev := first.previous(t)
		damaged := bytes.Clone(first.out.Bytes())
		c := first.chunks[len(first.chunks)/2]
		damaged[c.Offset+c.Size/2] ^= 0x55
		prev.File = bytes.NewReader(damaged)

		next := write(t, codec, data, prev)
		if !bytes.Equal(next.out.Bytes(), first.out.Bytes()) {
			t.Fatalf("%s: new file differs from a clean compression", codec)
		}
		if len(next.damage) != 1 || next.damage[0] != c || next.stats.Refreshed != 1 {
			t.Fatalf("%s: damage reported %v (refreshed %d), want the member at %d", codec, next.damage, next.stats.Refreshed, c.Offset)
		}
		if next.stats.Reused != next.stats.Chunks-1 {
			t.Fatalf("%s: %d of %d reused", codec, next.stats.Reused, next.stats.Chunks)
		}
	}
}

// A list entry that names the wrong member (another chunk's, or a range
// holding two members) is caught by the check, not copied.
func TestListNamingWrongMember(t *testing.T) {
	data := text(4, 256<<10)
	first := write(t, compress.Gzip, data, nil)
	prev := first.previous(t)
	a, b := first.chunks[1], first.chunks[2]
	sa, _ := hex.DecodeString(a.RawSHA256)
	wrong := b
	wrong.RawSize = a.RawSize
	prev.Index[[32]byte(sa)] = wrong // a's hash, b's member
	two := a
	two.Size += b.Size
	sb, _ := hex.DecodeString(b.RawSHA256)
	two.RawSize = b.RawSize
	prev.Index[[32]byte(sb)] = two // b's hash, a's and b's members
	next := write(t, compress.Gzip, data, prev)
	if !bytes.Equal(next.out.Bytes(), first.out.Bytes()) || next.stats.Refreshed != 2 {
		t.Fatalf("refreshed %d, want 2, file equal %v", next.stats.Refreshed, bytes.Equal(next.out.Bytes(), first.out.Bytes()))
	}
}

type failAfter struct{ n int }

var errFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errFull
	}
	return len(p), nil
}

// A failing output stops the writer: Write or Close returns the error, and
// Close returns (no goroutine left waiting).
func TestWriteErrorStops(t *testing.T) {
	cw, err := NewWriter(&failAfter{n: 10000}, Options{Codec: compress.Gzip, Level: 6, AverageBits: 12})
	if err != nil {
		t.Fatal(err)
	}
	data := text(5, 4<<20)
	var werr error
	for i := 0; i < len(data) && werr == nil; i += 4096 {
		_, werr = cw.Write(data[i : i+4096])
	}
	cerr := cw.Close()
	if !errors.Is(werr, errFull) && !errors.Is(cerr, errFull) {
		t.Fatalf("write error %v, close error %v, want %v", werr, cerr, errFull)
	}
	if werr == nil {
		t.Fatal("all 4 MiB were accepted by a writer whose output failed after 10 kB")
	}
}

func TestReadListRefusesGaps(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for name, list := range map[string]string{
		"gap":     `{"raw_sha256":"` + sum + `","raw_size":5,"offset":0,"size":3}` + "\n" + `{"raw_sha256":"` + sum + `","raw_size":5,"offset":4,"size":3}`,
		"late":    `{"raw_sha256":"` + sum + `","raw_size":5,"offset":1,"size":3}`,
		"no hash": `{"raw_sha256":"xyz","raw_size":5,"offset":0,"size":3}`,
		"junk":    `{"raw_sha256":`,
	} {
		if _, _, err := ReadList(strings.NewReader(list)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
