package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/directus-backup/directus-backup/bench"
	"github.com/directus-backup/directus-backup/internal/capbuf"
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

// db is the connection to the benchmark database through psql.
type db struct {
	env  []string // PGHOST, PGPORT, PGUSER, PGPASSWORD and the base environment
	name string
}

// psql runs SQL from r against database name (or the db's database).
func (d *db) psql(database string, r io.Reader, args ...string) (string, error) {
	if database == "" {
		database = d.name
	}
	argv := append([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = d.env
	cmd.Stdin = r
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := runTracked(cmd); err != nil {
		return out.String(), fmt.Errorf("psql %s: %w: %s", strings.Join(args, " "), err, capbuf.LastLines(out.String(), 15))
	}
	return out.String(), nil
}

func (d *db) exec(database, sql string) error {
	_, err := d.psql(database, nil, "-c", sql)
	return err
}

func (d *db) query(database, sql string) (string, error) {
	out, err := d.psql(database, nil, "-tA", "-c", sql)
	return strings.TrimSpace(out), err
}

// copyIn streams rows produced by gen into "COPY table (cols) FROM STDIN".
func (d *db) copyIn(table, cols string, gen func(w *bufio.Writer) error) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := gen(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	_, err := d.psql("", pr, "-c", fmt.Sprintf("COPY %s (%s) FROM STDIN", table, cols))
	pr.CloseWithError(io.ErrClosedPipe)
	if gerr := <-errc; err == nil && gerr != nil && gerr != io.ErrClosedPipe {
		err = gerr
	}
	return err
}

// datasetInfo describes the generated data for the report.
type datasetInfo struct {
	TableBytes   map[string]int64 // COPY text bytes generated per table
	TableRows    map[string]int64
	Files        int64
	FileBytes    int64
	RandomFiles  int64
	RandomBytes  int64
	PgbenchScale int
	GenSeconds   float64
}

// generateDatabase creates and loads the benchmark database.
func generateDatabase(d *db, spec sizeSpec, plan []upFile) (datasetInfo, error) {
	info := datasetInfo{TableBytes: map[string]int64{}, TableRows: map[string]int64{}, PgbenchScale: spec.PgbenchScale}
	if err := d.exec("postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s", d.name)); err != nil {
		return info, err
	}
	if err := d.exec("postgres", fmt.Sprintf("CREATE DATABASE %s", d.name)); err != nil {
		return info, err
	}
	tables := bench.Tables(spec.Users)
	var ddl strings.Builder
	for _, t := range tables {
		ddl.WriteString(t.Create + ";\n")
	}
	ddl.WriteString(bench.FilesTable + ";\n")
	if _, err := d.psql("", strings.NewReader(ddl.String())); err != nil {
		return info, err
	}

	// directus_files: one row per uploads file.
	var filesBytes int64
	err := d.copyIn("directus_files", bench.FilesColumns, func(w *bufio.Writer) error {
		t := bench.NewText(dataSeed, 7)
		var b []byte
		for _, f := range plan {
			b = bench.AppendFileRow(b[:0], t, f.ID, f.Rel, mimes[f.Ext], f.Size, f.MTime, spec.Users)
			filesBytes += int64(len(b))
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	info.TableBytes["directus_files"] = filesBytes
	info.TableRows["directus_files"] = int64(len(plan))

	budget := spec.DumpBytes - int64(spec.PgbenchScale)*pgbenchBytesPerScale - filesBytes
	for i, tb := range tables {
		tb := tb
		var n, rows int64
		err := d.copyIn(tb.Name, tb.Columns, func(w *bufio.Writer) error {
			t := bench.NewText(dataSeed, uint64(100+i))
			var b []byte
			for id := int64(1); ; id++ {
				if tb.Share == 0 && id > tb.Rows {
					return nil
				}
				if tb.Share > 0 && n >= int64(tb.Share*float64(budget)) {
					return nil
				}
				b = tb.Row(t, id, b[:0])
				n += int64(len(b))
				rows++
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return info, fmt.Errorf("load %s: %w", tb.Name, err)
		}
		info.TableBytes[tb.Name] = n
		info.TableRows[tb.Name] = rows
	}

	var post strings.Builder
	for _, t := range tables {
		for _, s := range t.Post {
			post.WriteString(s + ";\n")
		}
	}
	for _, s := range bench.FilesPost {
		post.WriteString(s + ";\n")
	}
	if _, err := d.psql("", strings.NewReader(post.String())); err != nil {
		return info, err
	}
	if spec.PgbenchScale > 0 {
		if _, err := run(d.env, "", pgbenchPath(), "-i", "-q", "-s", fmt.Sprint(spec.PgbenchScale), d.name); err != nil {
			return info, err
		}
	}
	if err := d.exec("", "VACUUM (FREEZE, ANALYZE)"); err != nil {
		return info, err
	}
	return info, d.exec("", "CHECKPOINT")
}

var pgBin string

func pgbenchPath() string {
	if pgBin != "" {
		if p := filepath.Join(pgBin, "pgbench"); fileExists(p) {
			return p
		}
	}
	return "pgbench"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// changeStats describes one applied change set.
type changeStats struct {
	K                         int
	Modified, Added, Deleted  int
	ModifiedBytes, AddedBytes int64
	Seconds                   float64
}

// listFiles returns the regular files under root, relative, sorted.
func listFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// applyChanges applies change set k, "one day of changes": about 1% of the
// uploads files rewritten (new content, size and mtime), 0.5% added, 0.5%
// deleted, directus_files kept in step, and about 1% of the rows of every
// table updated. The same k on the same state gives the same changes.
func applyChanges(d *db, root string, spec sizeSpec, k int) (changeStats, error) {
	start := time.Now()
	cs := changeStats{K: k}
	files, err := listFiles(root)
	if err != nil {
		return cs, err
	}
	n := len(files)
	r := rand.New(rand.NewPCG(dataSeed^0xc4a55e7, uint64(k)))
	nMod, nDel, nAdd := max(1, n/100), max(1, n/200), max(1, n/200)
	perm := r.Perm(n)
	day := bench.Epoch.Unix() + int64(k)*86400
	var sql strings.Builder
	sql.WriteString("BEGIN;\n")
	var buf []byte

	for j, idx := range perm[:nMod] {
		rel := files[idx]
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Stat(p)
		if err != nil {
			return cs, err
		}
		ext := filepath.Ext(rel)
		f := upFile{Rel: rel, Ext: ext, ID: fileIDFromRel(rel) ^ uint64(k)<<48, MTime: day + int64(j),
			Random: slices.Contains(randomExts, ext)}
		f.Size = max(1024, int64(float64(fi.Size())*(0.8+0.4*r.Float64())))
		if buf, err = writeUpload(root, f, k+1, buf); err != nil {
			return cs, err
		}
		cs.Modified++
		cs.ModifiedBytes += f.Size
		fmt.Fprintf(&sql, "UPDATE directus_files SET filesize = %d, modified_on = '%s' WHERE filename_disk = '%s';\n",
			f.Size, time.Unix(f.MTime, 0).UTC().Format("2006-01-02 15:04:05+00"), rel)
	}
	var deleted []string
	for _, idx := range perm[nMod : nMod+nDel] {
		rel := files[idx]
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			return cs, err
		}
		deleted = append(deleted, "'"+rel+"'")
		cs.Deleted++
	}
	if len(deleted) > 0 {
		fmt.Fprintf(&sql, "DELETE FROM directus_files WHERE filename_disk IN (%s);\n", strings.Join(deleted, ","))
	}
	fmt.Fprintf(&sql, "COPY directus_files (%s) FROM STDIN;\n", bench.FilesColumns)
	t := bench.NewText(dataSeed^uint64(k), 8)
	for j := 0; j < nAdd; j++ {
		f := planFile(1<<40 + uint64(k)<<20 + uint64(j))
		f.MTime = day + int64(j)
		if buf, err = writeUpload(root, f, 0, buf); err != nil {
			return cs, err
		}
		cs.Added++
		cs.AddedBytes += f.Size
		sql.Write(bench.AppendFileRow(nil, t, f.ID, f.Rel, mimes[f.Ext], f.Size, f.MTime, spec.Users))
	}
	sql.WriteString("\\.\n")
	for _, tb := range bench.Tables(spec.Users) {
		for _, s := range tb.Changes(k) {
			sql.WriteString(s + ";\n")
		}
	}
	if spec.PgbenchScale > 0 {
		fmt.Fprintf(&sql, "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid %% 100 = %d;\n", k+1, k%100)
	}
	sql.WriteString("COMMIT;\nCHECKPOINT;\n")
	if _, err := d.psql("", strings.NewReader(sql.String())); err != nil {
		return cs, fmt.Errorf("change set %d: %w", k, err)
	}
	cs.Seconds = time.Since(start).Seconds()
	return cs, nil
}
