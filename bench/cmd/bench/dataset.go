package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/directus-backup/directus-backup/bench"
)

// sizeSpec is the shape of one dataset size.
type sizeSpec struct {
	Name         string
	DumpBytes    int64 // target raw plain-dump size
	Files        int   // uploads files
	PgbenchScale int   // pgbench -i -s (0: no pgbench tables)
	Users        int64
	Reps         int // default --reps
}

var sizes = map[string]sizeSpec{
	"smoke": {Name: "smoke", DumpBytes: 5e6, Files: 300, PgbenchScale: 0, Users: 200, Reps: 1},
	"small": {Name: "small", DumpBytes: 200e6, Files: 20000, PgbenchScale: 2, Users: 2000, Reps: 3},
	"large": {Name: "large", DumpBytes: 2e9, Files: 100000, PgbenchScale: 20, Users: 10000, Reps: 3},
}

// dataSeed is the seed of every generator; change it and every byte changes.
const dataSeed = 0x6d6972726f72

// pgbenchBytesPerScale is about what one pgbench scale unit adds to a plain dump.
const pgbenchBytesPerScale = 9_800_000

// upFile is one planned uploads file.
type upFile struct {
	Rel    string
	Ext    string
	Size   int64
	Random bool // incompressible content (media, archives)
	MTime  int64
	ID     uint64 // content and directus_files identity
}

var (
	randomExts = []string{".jpg", ".jpg", ".jpg", ".png", ".webp", ".mp4", ".zip"}
	textExts   = []string{".txt", ".md", ".json", ".json", ".csv", ".csv", ".svg", ".html", ".xml", ".pdf"}
	mimes      = map[string]string{
		".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".mp4": "video/mp4", ".zip": "application/zip",
		".txt": "text/plain", ".md": "text/markdown", ".json": "application/json", ".csv": "text/csv",
		".svg": "image/svg+xml", ".html": "text/html", ".xml": "application/xml", ".pdf": "application/pdf",
	}
)

// logUniform returns a size between lo and hi, log-uniformly.
func logUniform(r *rand.Rand, lo, hi float64) int64 {
	return int64(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
}

// planFile decides everything about file number id: folder, name, size,
// kind and time. 92% are 1-64 KiB, 7.6% 64 KiB-1 MiB, 0.4% 1-8 MiB (mean
// about 54 KiB); 20% are incompressible.
func planFile(id uint64) upFile {
	r := rand.New(rand.NewPCG(dataSeed, id))
	f := upFile{ID: id}
	switch x := r.Float64(); {
	case x < 0.004:
		f.Size = logUniform(r, 1<<20, 8<<20)
	case x < 0.08:
		f.Size = logUniform(r, 64<<10, 1<<20)
	default:
		f.Size = logUniform(r, 1<<10, 64<<10)
	}
	f.Random = r.Float64() < 0.20
	if f.Random {
		f.Ext = randomExts[r.IntN(len(randomExts))]
	} else {
		f.Ext = textExts[r.IntN(len(textExts))]
	}
	year := 2020 + r.IntN(6)
	month := 1 + r.IntN(12)
	dir := fmt.Sprintf("%d/%02d", year, month)
	if r.IntN(10) == 0 {
		dir += "/thumbs"
	}
	t := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
	f.MTime = t.Unix() + r.Int64N(28*86400)
	name := bench.AppendUUIDFrom(nil, r.Uint64(), r.Uint64())
	f.Rel = dir + "/" + string(name) + f.Ext
	return f
}

// contentSeed makes version v of file id's content.
func contentSeed(id uint64, v int) (uint64, uint64) { return dataSeed ^ id, uint64(v)*0x9e37 + 17 }

// writeUpload writes f (content version v) under root with mode 0644 and
// its mtime. buf is scratch space.
func writeUpload(root string, f upFile, v int, buf []byte) ([]byte, error) {
	p := filepath.Join(root, filepath.FromSlash(f.Rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return buf, err
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return buf, err
	}
	s1, s2 := contentSeed(f.ID, v)
	left := f.Size
	if f.Random {
		c := rand.NewChaCha8(seed32(s1, s2))
		if cap(buf) < 1<<20 {
			buf = make([]byte, 1<<20)
		}
		for left > 0 {
			n := min(left, int64(cap(buf)))
			b := buf[:n]
			c.Read(b)
			if _, err := out.Write(b); err != nil {
				out.Close()
				return buf, err
			}
			left -= n
		}
	} else {
		t := bench.NewText(s1, s2)
		for left > 0 {
			buf = textChunk(t, f.Ext, buf[:0])
			n := min(left, int64(len(buf)))
			if _, err := out.Write(buf[:n]); err != nil {
				out.Close()
				return buf, err
			}
			left -= n
		}
	}
	if err := out.Close(); err != nil {
		return buf, err
	}
	if err := os.Chmod(p, 0o644); err != nil {
		return buf, err
	}
	mt := time.Unix(f.MTime, 0)
	return buf, os.Chtimes(p, mt, mt)
}

func seed32(a, b uint64) (s [32]byte) {
	for i := 0; i < 8; i++ {
		s[i] = byte(a >> (8 * i))
		s[8+i] = byte(b >> (8 * i))
		s[16+i] = byte((a ^ 0xa5a5a5a5a5a5a5a5) >> (8 * i))
		s[24+i] = byte((b ^ 0x5a5a5a5a5a5a5a5a) >> (8 * i))
	}
	return s
}

// textChunk appends about 64 KiB of content shaped like the file type.
func textChunk(t *bench.Text, ext string, b []byte) []byte {
	for len(b) < 64<<10 {
		switch ext {
		case ".json":
			b = append(b, `{"id":`...)
			b = bench.AppendInt(b, t.R.Int64N(1e6))
			b = append(b, `,"title":"`...)
			b = t.AppendTitle(b, 3+t.R.IntN(5))
			b = append(b, `","body":"`...)
			b = t.AppendParagraph(b, 1+t.R.IntN(4))
			b = append(b, `","score":`...)
			b = bench.AppendFloat(b, t.R.Float64()*100, 3)
			b = append(b, `,"tags":["`...)
			b = append(b, t.Word()...)
			b = append(b, `","`...)
			b = append(b, t.Word()...)
			b = append(b, "\"]}\n"...)
		case ".csv":
			b = bench.AppendInt(b, t.R.Int64N(1e7))
			b = append(b, ',')
			b = append(b, t.Word()...)
			b = append(b, ',')
			b = bench.AppendFloat(b, t.R.Float64()*1000, 2)
			b = append(b, ',')
			b = bench.AppendInt(b, t.R.Int64N(500))
			b = append(b, ',')
			b = t.AppendTime(b, t.RandomTime())
			b = append(b, '\n')
		case ".svg", ".html", ".xml":
			b = append(b, `<g class="`...)
			b = append(b, t.Word()...)
			b = append(b, `"><path d="M`...)
			for i := 0; i < 6; i++ {
				b = bench.AppendInt(b, t.R.Int64N(1000))
				b = append(b, ' ')
			}
			b = append(b, `"/><text>`...)
			b = t.AppendSentence(b)
			b = append(b, "</text></g>\n"...)
		case ".pdf": // text with binary-ish streams mixed in
			b = append(b, "stream\n"...)
			b = t.AppendB64(b, 200+t.R.IntN(600))
			b = append(b, "\nendstream\n"...)
			b = t.AppendParagraph(b, 2)
			b = append(b, '\n')
		default:
			b = t.AppendParagraph(b, 3+t.R.IntN(6))
			b = append(b, "\n\n"...)
		}
	}
	return b
}

// generateUploads writes the initial uploads tree and returns its plan.
func generateUploads(root string, n int) ([]upFile, error) {
	plan := make([]upFile, n)
	for i := range plan {
		plan[i] = planFile(uint64(i))
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < max(2, runtime.NumCPU()); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range next {
				var err error
				buf, err = writeUpload(root, plan[i], 0, buf)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range plan {
		next <- i
	}
	close(next)
	wg.Wait()
	return plan, firstErr
}

// fileIDFromRel gives a stable id for an existing file (used for new
// content versions of changed files).
func fileIDFromRel(rel string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(rel); i++ {
		h ^= uint64(rel[i])
		h *= 1099511628211
	}
	return h
}
