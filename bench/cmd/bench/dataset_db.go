package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/bench"
	"github.com/directus-backup/directus-backup/internal/capbuf"
)

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
	Kind                      string // changeDay, changeDayDB, changeAppend or changeAppendDB
	InsertedRows, EditedRows  int64  // append-mostly day: rows added (activity, revisions) and articles edited
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
// Without withFiles, only the database part is applied (the tables' changes;
// directus_files follows the uploads folder, so it is left alone too).
func applyChanges(d *db, root string, spec sizeSpec, k int, withFiles bool) (changeStats, error) {
	start := time.Now()
	cs := changeStats{K: k}
	files, err := listFiles(root)
	if err != nil {
		return cs, err
	}
	n := len(files)
	r := rand.New(rand.NewPCG(dataSeed^0xc4a55e7, uint64(k)))
	nMod, nDel, nAdd := max(1, n/100), max(1, n/200), max(1, n/200)
	if !withFiles {
		nMod, nDel, nAdd = 0, 0, 0
	}
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
	if nAdd > 0 {
		if err := addUploads(&sql, root, spec, &cs, bench.NewText(dataSeed^uint64(k), 8), 1<<40+uint64(k)<<20, day, nAdd); err != nil {
			return cs, err
		}
	}
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

// addUploads writes n new uploads files (ids from base on, mtimes from day
// on) and their directus_files rows, as one COPY block, into sql.
func addUploads(sql io.Writer, root string, spec sizeSpec, cs *changeStats, t *bench.Text, base uint64, day int64, n int) error {
	fmt.Fprintf(sql, "COPY directus_files (%s) FROM STDIN;\n", bench.FilesColumns)
	var buf []byte
	var err error
	for j := 0; j < n; j++ {
		f := planFile(base + uint64(j))
		f.MTime = day + int64(j)
		if buf, err = writeUpload(root, f, 0, buf); err != nil {
			return err
		}
		cs.Added++
		cs.AddedBytes += f.Size
		if _, err := sql.Write(bench.AppendFileRow(nil, t, f.ID, f.Rel, mimes[f.Ext], f.Size, f.MTime, spec.Users)); err != nil {
			return err
		}
	}
	_, err = io.WriteString(sql, "\\.\n")
	return err
}
