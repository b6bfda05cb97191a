package pgdump

import (
	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/dumpscan"
)

// freshRanges collects the raw byte ranges of the chunks compressed
// afresh, in stream order, merging neighbours, and writes the chunk list.
type freshRanges struct {
	off    int64 // raw offset of the next chunk
	ranges [][2]int64
	list   *chunked.ListWriter
}

// options are the chunked writer's options for opts, reporting to r.
func (r *freshRanges) options(opts Options) chunked.Options {
	r.list = opts.ChunkList
	return chunked.Options{
		Codec:     opts.Compression,
		Level:     opts.Level,
		Previous:  opts.Previous,
		OnDamaged: opts.OnDamaged,
		OnChunk:   r.add,
	}
}

func (r *freshRanges) add(c chunked.Chunk, reused bool) error {
	start := r.off
	r.off += c.RawSize
	if !reused {
		if n := len(r.ranges); n > 0 && r.ranges[n-1][1] == start {
			r.ranges[n-1][1] = r.off
		} else {
			r.ranges = append(r.ranges, [2]int64{start, r.off})
		}
	}
	if r.list != nil {
		return r.list.Add(c)
	}
	return nil
}

// tables attributes the fresh bytes to the COPY blocks they fall in. Both
// lists are in stream order, so one pass over each does it.
func (r *freshRanges) tables(blocks []dumpscan.Block) map[string]TableChunks {
	out := make(map[string]TableChunks, len(blocks))
	i := 0
	for _, b := range blocks {
		t := out[b.Table]
		t.RawBytes += b.End - b.Start
		for i < len(r.ranges) && r.ranges[i][1] <= b.Start {
			i++
		}
		for j := i; j < len(r.ranges) && r.ranges[j][0] < b.End; j++ {
			t.FreshRawBytes += min(r.ranges[j][1], b.End) - max(r.ranges[j][0], b.Start)
		}
		out[b.Table] = t
	}
	return out
}
