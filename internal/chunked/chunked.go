// Package chunked writes a stream (the dump) as a sequence of independent
// compressed members, one per content-defined chunk, and copies the members
// of chunks that an earlier file already holds instead of compressing them
// again.
//
// The output stays one valid file of its codec: a gzip file may hold any
// number of members (RFC 1952 2.2; gunzip, zcat, Go's and Python's readers
// read them as one stream), a zstd file any number of frames. Chunk
// boundaries are found from the content (restic's Rabin chunker), so a row
// inserted or removed moves only the boundaries near it, and the rest of
// tomorrow's dump cuts into the same chunks as today's.
//
// A member is copied only after it has been decompressed and its raw
// SHA-256 found equal to the chunk's: damage in the earlier file is never
// carried into the new one (the chunk is compressed afresh instead).
package chunked

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/restic/chunker"

	"github.com/directus-backup/directus-backup/internal/regfile"
)

// Pol is the chunker's polynomial. It is fixed, not random per repository
// as restic's: boundaries must fall in the same places in every backup of
// every installation, and nothing secret depends on them (the dump is not
// deduplicated against anyone else's data).
const Pol = chunker.Pol(0x3DA3358B4DC173)

// DefaultAverageBits makes chunks of 256 KiB on average (2^18), chosen by
// measurement (docs/internals.md, "The chunked dump"): smaller chunks
// found little more to reuse on a day of changes and cost compression
// ratio; larger ones recompressed more around each changed row.
const DefaultAverageBits = 18

// Bounds returns the smallest and largest chunk the chunker makes for an
// average of 2^bits bytes: a quarter and four times the average.
func Bounds(bits int) (minSize, maxSize int) {
	avg := 1 << bits
	return avg / 4, avg * 4
}

// Chunk is one member of a chunked file, as the chunk list records it.
type Chunk struct {
	RawSHA256 string `json:"raw_sha256"` // of the chunk's uncompressed bytes
	RawSize   int64  `json:"raw_size"`
	Offset    int64  `json:"offset"` // where its member starts in the file
	Size      int64  `json:"size"`   // the member's compressed size
}

// Index finds an earlier file's chunks by their raw SHA-256.
type Index map[[32]byte]Chunk

// ListTotals sums a chunk list.
type ListTotals struct {
	Count    int64
	Bytes    int64 // the file's size the members add up to
	RawBytes int64
	SHA256   string // of the list itself, hex (ReadListFile only)
}

// ReadList reads a chunk list (JSON Lines, one Chunk each, in file order)
// and sums it. It checks that the members tile the file from offset 0
// without gaps or overlaps, so that a list that does not describe the file
// is refused rather than trusted.
func ReadList(r io.Reader) (Index, ListTotals, error) {
	idx := Index{}
	t, err := EachInList(r, func(c Chunk) error {
		sum, _ := hex.DecodeString(c.RawSHA256)
		idx[[32]byte(sum)] = c
		return nil
	})
	if err != nil {
		return nil, t, err
	}
	return idx, t, nil
}

// EachInList calls fn for each chunk of a chunk list, in file order, after
// checking that it follows the one before (the list tiles the file).
func EachInList(r io.Reader, fn func(Chunk) error) (ListTotals, error) {
	var t ListTotals
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var next int64
	for line := 1; sc.Scan(); line++ {
		var c Chunk
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return t, fmt.Errorf("chunk list line %d: %w", line, err)
		}
		sum, err := hex.DecodeString(c.RawSHA256)
		if err != nil || len(sum) != 32 || c.RawSize <= 0 || c.Size <= 0 || c.Offset != next {
			return t, fmt.Errorf("chunk list line %d: not a chunk that follows the one before", line)
		}
		next = c.Offset + c.Size
		if err := fn(c); err != nil {
			return t, err
		}
		t.Count++
		t.RawBytes += c.RawSize
	}
	if err := sc.Err(); err != nil {
		return t, fmt.Errorf("read chunk list: %w", err)
	}
	t.Bytes = next
	return t, nil
}

// ReadListFile is ReadList of the file at path (never through a symlink
// or from a FIFO); the totals carry the list's SHA-256, for the caller to
// hold against its manifest.
func ReadListFile(path string) (Index, ListTotals, error) {
	f, err := regfile.Open(path)
	if err != nil {
		return nil, ListTotals{}, err
	}
	defer f.Close()
	h := sha256.New()
	idx, t, err := ReadList(io.TeeReader(f, h))
	t.SHA256 = hex.EncodeToString(h.Sum(nil))
	return idx, t, err
}

// ListWriter writes a chunk list and hashes what it writes, so the
// manifest can record its SHA-256 without reading it back.
type ListWriter struct {
	bw  *bufio.Writer
	h   hash.Hash
	enc *json.Encoder
}

// NewListWriter writes chunks to w, one JSON object a line.
func NewListWriter(w io.Writer) *ListWriter {
	h := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(w, h))
	return &ListWriter{bw: bw, h: h, enc: json.NewEncoder(bw)}
}

// Add writes c.
func (l *ListWriter) Add(c Chunk) error { return l.enc.Encode(c) }

// Close flushes what is buffered. It does not close the underlying writer.
func (l *ListWriter) Close() error { return l.bw.Flush() }

// SHA256 is the hex SHA-256 of everything written; call it after Close.
func (l *ListWriter) SHA256() string { return hex.EncodeToString(l.h.Sum(nil)) }
