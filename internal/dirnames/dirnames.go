// Package dirnames lists a folder's names in byte order, the order of
// filepath.WalkDir and of the manifest, with memory that does not grow with
// the folder's size. Directus keeps all uploads in one flat folder, which
// can hold a million files: their names alone would take tens of MiB. Up to
// MaxInMemory names are sorted in memory; beyond that, sorted runs are
// spilled to unlinked temporary files and merged.
package dirnames

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
)

// DefaultMax is how many names Open holds at once before it spills a run:
// about 4 MiB of Directus file names.
const DefaultMax = 1 << 16

// Iter yields the names of one folder in byte order.
type Iter struct {
	mem   []string // names when nothing was spilled
	runs  runHeap  // spilled runs, when there are several
	files []*os.File
	err   error
}

// Open reads every name in d (an open folder; the caller closes it) and
// prepares them in order, holding at most max names at once. spillDir is
// where runs are spilled, on disk: each spill file is removed as soon as it
// is created, so nothing is left behind even after a crash.
func Open(d *os.File, spillDir string, max int) (*Iter, error) {
	it := &Iter{}
	var batch []string
	for {
		names, err := d.Readdirnames(4096)
		batch = append(batch, names...)
		if len(batch) >= max {
			if err := it.spill(batch, spillDir); err != nil {
				it.Close()
				return nil, err
			}
			batch = batch[:0]
		}
		if err == io.EOF || (err == nil && len(names) == 0) {
			break
		}
		if err != nil {
			it.Close()
			return nil, err
		}
	}
	if len(it.files) == 0 {
		sort.Strings(batch)
		it.mem = batch
		return it, nil
	}
	if len(batch) > 0 {
		if err := it.spill(batch, spillDir); err != nil {
			it.Close()
			return nil, err
		}
	}
	for _, f := range it.files {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			it.Close()
			return nil, err
		}
		r := &run{r: bufio.NewReaderSize(f, 64<<10)}
		if r.advance() {
			it.runs = append(it.runs, r)
		} else if r.err != nil {
			it.Close()
			return nil, r.err
		}
	}
	heap.Init(&it.runs)
	return it, nil
}

// spill writes a sorted run of names, NUL-separated (a name may hold any
// byte but '/' and NUL).
func (it *Iter) spill(names []string, dir string) error {
	sort.Strings(names)
	f, err := fsmeta.UnnamedFile(dir, ".directus-backup-names-", true)
	if err != nil {
		return fmt.Errorf("spill folder names: %w", err)
	}
	it.files = append(it.files, f)
	w := bufio.NewWriterSize(f, 64<<10)
	for _, n := range names {
		w.WriteString(n)
		w.WriteByte(0)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spill folder names: %w", err)
	}
	return nil
}

// Next returns the next name, or false at the end (or on an error: see Err).
func (it *Iter) Next() (string, bool) {
	if it.err != nil {
		return "", false
	}
	if it.files == nil {
		if len(it.mem) == 0 {
			return "", false
		}
		n := it.mem[0]
		it.mem = it.mem[1:]
		return n, true
	}
	if len(it.runs) == 0 {
		return "", false
	}
	r := it.runs[0]
	n := r.cur
	if r.advance() {
		heap.Fix(&it.runs, 0)
	} else {
		if r.err != nil {
			it.err = r.err
		}
		heap.Pop(&it.runs)
	}
	return n, true
}

// Batch returns up to n next names (fewer at the end; none when done).
func (it *Iter) Batch(n int) []string {
	var out []string
	for len(out) < n {
		name, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, name)
	}
	return out
}

// Err is the error that ended the names early, if any.
func (it *Iter) Err() error { return it.err }

// Close releases the spill files.
func (it *Iter) Close() error {
	for _, f := range it.files {
		f.Close()
	}
	it.files, it.runs = nil, nil
	return nil
}

// All reads every name of the folder at path in order into memory. For
// callers that hold a small folder anyway.
func All(path string) ([]string, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

type run struct {
	r   *bufio.Reader
	cur string
	err error
}

func (r *run) advance() bool {
	s, err := r.r.ReadString(0)
	if err == io.EOF && s == "" {
		return false
	}
	if err != nil && err != io.EOF {
		r.err = fmt.Errorf("read spilled folder names: %w", err)
		return false
	}
	r.cur = s[:len(s)-1]
	if err == io.EOF { // no trailing NUL: cannot happen with spill's output
		r.cur = s
	}
	return true
}

type runHeap []*run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].cur < h[j].cur }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
