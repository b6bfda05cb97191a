package chunked

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/restic/chunker"
)

// Previous is an earlier chunked file whose members may be copied.
type Previous struct {
	File  io.ReaderAt // the earlier file, read concurrently
	Index Index       // its chunk list
}

// maxWorkers caps the default number of workers.
const maxWorkers = 8

// Options for NewWriter.
type Options struct {
	Codec string // compress.Gzip or compress.Zstd
	Level int    // BACKUP_GZIP_LEVEL, for gzip
	// AverageBits sets the average chunk size, 2^AverageBits bytes;
	// 0 means DefaultAverageBits.
	AverageBits int
	// Previous, when set, is the file whose matching members are copied.
	Previous *Previous
	// Workers compress and check chunks; 0 means GOMAXPROCS, at most 8.
	Workers int
	// OnChunk is called for every chunk, in file order, once its member
	// has been written to the output; reused says it was copied. An error
	// stops the writer.
	OnChunk func(c Chunk, reused bool) error
	// OnDamaged is called (in file order) when a member of Previous did
	// not decompress to the chunk its list names; the chunk was compressed
	// afresh. May be nil.
	OnDamaged func(prev Chunk, err error)
}

// Stats counts what a Writer did.
type Stats struct {
	Chunks         int64
	Reused         int64 // members copied from Previous
	ReusedRawBytes int64
	FreshRawBytes  int64 // raw bytes compressed by this writer
	Refreshed      int64 // members of Previous found damaged and compressed afresh
}

// Writer cuts what is written to it into chunks and writes their members,
// in order, to the underlying writer. Compression and checks run on
// Options.Workers goroutines; at most a few chunks per worker are held in
// memory at once, and Write blocks when they are all in use.
type Writer struct {
	pw     *io.PipeWriter
	done   chan struct{}
	cancel context.CancelFunc
	mu     sync.Mutex
	err    error // the first error of the pipeline
	stats  Stats
}

type job struct {
	raw  *[]byte
	done chan result
}

type result struct {
	raw      *[]byte
	sum      [32]byte
	member   *bytes.Buffer
	reused   bool
	damaged  *Chunk // the previous chunk that failed its check
	checkErr error
	err      error
}

var memberPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// NewWriter returns a Writer that writes members to w. Close must be
// called to flush the last chunk and to release the goroutines.
func NewWriter(w io.Writer, o Options) (*Writer, error) {
	if o.AverageBits == 0 {
		o.AverageBits = DefaultAverageBits
	}
	if o.Workers < 1 {
		// Memory grows with the workers (a few MiB each); past 8, pg_dump
		// is the bottleneck, not compression.
		o.Workers = min(runtime.GOMAXPROCS(0), maxWorkers)
	}
	minSize, maxSize := Bounds(o.AverageBits)
	coders := make([]*coder, o.Workers)
	for i := range coders {
		c, err := newCoder(o.Codec, o.Level, maxSize)
		if err != nil {
			for _, c := range coders[:i] {
				c.close()
			}
			return nil, err
		}
		coders[i] = c
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	wr := &Writer{pw: pw, done: make(chan struct{}), cancel: cancel}

	// Each chunk in flight holds a raw buffer until its member is written:
	// the order channel's room bounds them (and so the memory).
	inFlight := 2*o.Workers + 2
	order := make(chan chan result, inFlight)
	jobs := make(chan job)
	bufs := make(chan *[]byte, inFlight+1)
	for range inFlight + 1 {
		b := make([]byte, 0, maxSize)
		bufs <- &b
	}

	fail := func(err error) {
		wr.mu.Lock()
		defer wr.mu.Unlock()
		if wr.err == nil {
			wr.err = err
			cancel()
			pr.CloseWithError(err)
		}
	}

	// Cut: one goroutine reads the stream and hands out chunks in order.
	go func() {
		defer close(order)
		defer close(jobs)
		ch := chunker.NewWithBoundaries(pr, Pol, uint(minSize), uint(maxSize))
		ch.SetAverageBits(o.AverageBits)
		for {
			var buf *[]byte
			select {
			case buf = <-bufs:
			case <-ctx.Done():
				return
			}
			c, err := ch.Next((*buf)[:0])
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			*buf = c.Data
			done := make(chan result, 1)
			select {
			case order <- done:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{raw: buf, done: done}:
			case <-ctx.Done():
				done <- result{raw: buf, err: ctx.Err()}
				return
			}
		}
	}()

	// Compress or check, on every worker.
	var wg sync.WaitGroup
	for _, c := range coders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			for j := range jobs {
				j.done <- process(ctx, c, o.Previous, j.raw)
			}
		}()
	}

	// Write, in order, on one goroutine.
	go func() {
		defer close(wr.done)
		defer wg.Wait()
		defer cancel()
		var off int64
		for done := range order {
			r := <-done
			if r.err == nil && wr.failed() == nil {
				if err := wr.write(w, o, &r, &off); err != nil {
					fail(err)
				}
			} else if r.err != nil {
				fail(r.err)
			}
			if r.member != nil {
				r.member.Reset()
				memberPool.Put(r.member)
			}
			bufs <- r.raw
		}
	}()
	return wr, nil
}

func (wr *Writer) failed() error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.err
}

// write writes r's member to w and accounts for it.
func (wr *Writer) write(w io.Writer, o Options, r *result, off *int64) error {
	if r.damaged != nil && o.OnDamaged != nil {
		o.OnDamaged(*r.damaged, r.checkErr)
	}
	if r.damaged != nil {
		wr.stats.Refreshed++
	}
	if _, err := w.Write(r.member.Bytes()); err != nil {
		return err
	}
	c := Chunk{RawSHA256: hex.EncodeToString(r.sum[:]), RawSize: int64(len(*r.raw)),
		Offset: *off, Size: int64(r.member.Len())}
	*off += c.Size
	wr.stats.Chunks++
	if r.reused {
		wr.stats.Reused++
		wr.stats.ReusedRawBytes += c.RawSize
	} else {
		wr.stats.FreshRawBytes += c.RawSize
	}
	if o.OnChunk != nil {
		return o.OnChunk(c, r.reused)
	}
	return nil
}

// process makes the member of one chunk: the previous file's, when it has
// the chunk and its member checks out, else a fresh one.
func process(ctx context.Context, c *coder, prev *Previous, raw *[]byte) result {
	r := result{raw: raw, sum: sha256.Sum256(*raw), member: memberPool.Get().(*bytes.Buffer)}
	if ctx.Err() != nil {
		r.err = ctx.Err()
		return r
	}
	if prev != nil {
		if pc, ok := prev.Index[r.sum]; ok && pc.RawSize == int64(len(*raw)) {
			err := readMember(r.member, prev.File, pc)
			if err == nil {
				err = c.check(r.member.Bytes(), r.sum, pc.RawSize)
			}
			if err == nil {
				r.reused = true
				return r
			}
			r.damaged, r.checkErr = &pc, err
			r.member.Reset()
		}
	}
	r.err = c.encode(r.member, *raw)
	return r
}

// readMember reads the member of pc from f into dst.
func readMember(dst *bytes.Buffer, f io.ReaderAt, pc Chunk) error {
	// Neither codec makes a member much larger than its chunk: a size
	// beyond that is a damaged list, not a reason to allocate it.
	if pc.Size > pc.RawSize+pc.RawSize/8+4096 {
		return errMismatch
	}
	dst.Grow(int(pc.Size))
	b := dst.AvailableBuffer()[:pc.Size]
	n, err := f.ReadAt(b, pc.Offset)
	if n == len(b) {
		err = nil // io.EOF with a full read is the file's end, not an error
	}
	if err != nil {
		return err
	}
	dst.Write(b)
	return nil
}

// Write hands p to the chunker. It returns an error once the writer has
// failed (a write to the underlying writer, an OnChunk error).
func (wr *Writer) Write(p []byte) (int, error) { return wr.pw.Write(p) }

// Close flushes the last chunk, waits for every member to be written and
// returns the first error of the pipeline.
func (wr *Writer) Close() error {
	wr.pw.Close()
	<-wr.done
	return wr.failed()
}

// Abort stops the writer without finishing the file: what was written is
// incomplete. It returns when every goroutine has stopped.
func (wr *Writer) Abort(err error) {
	wr.pw.CloseWithError(err)
	wr.cancel()
	<-wr.done
}

// Stats returns what the writer did; call it after Close.
func (wr *Writer) Stats() Stats { return wr.stats }
