package verify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/pgzip"

	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/dumpscan"
	"github.com/directus-backup/directus-backup/internal/filetable"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// directusFiles is what the scan learned of the directus_files table.
type directusFiles struct {
	seen    bool // the dump has a COPY block for it
	rows    filetable.Collector
	partial bool // the dump could not be read to its end
}

// checkDump reads the dump once and records its problems. It returns the
// directus_files rows it saw, and an error only when ctx was cancelled.
func checkDump(ctx context.Context, b repo.Backup, res *Result, c *counter) (*directusFiles, error) {
	df := &directusFiles{}
	m := b.Manifest

	path := b.DumpFile()
	if m != nil {
		if f := m.Database.File; f == "" || f != filepath.Base(f) || f == "." || f == ".." {
			res.add(KindManifest, manifest.FileName, fmt.Sprintf("database.file %q is not a file name in the backup folder", f))
			res.skip("dump: manifest.json names no usable dump file")
			return df, nil
		}
	}
	if path == "" { // legacy backups only; repo calls them incomplete otherwise
		res.add(KindMissing, repo.DumpGzip, "no dump file")
		return df, nil
	}
	rel := filepath.Base(path)

	f, err := regfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		res.add(KindMissing, rel, "the dump file is missing")
		res.skip("table rows and Directus files: no dump to read them from")
		return df, nil
	}
	if errors.Is(err, regfile.ErrNotRegular) {
		res.add(KindType, rel, err.Error())
		res.skip("table rows and Directus files: the dump is not a regular file")
		return df, nil
	}
	if err != nil {
		res.add(KindUnreadable, rel, err.Error())
		res.skip("table rows and Directus files: the dump cannot be read")
		return df, nil
	}
	defer f.Close()

	file := &hashReader{ctx: ctx, r: f, h: sha256.New(), c: c}
	raw := dumpscan.NewSummary()
	scan := dumpscan.New()
	df.rows.Hook(scan)
	migrations := scan.CollectMigrations()
	sink := io.MultiWriter(raw, scan)

	// decodeErr is a failure of the dump's own format (gzip); file.err is a
	// failure to read the file, which takes precedence.
	var decodeErr error
	codec := compress.Of(rel)
	compressed := codec != compress.None
	if compressed {
		// A big buffer so the file is read in large pieces (and the context
		// checked per piece), not in bufio's default 4 KiB.
		zr, err := compress.NewReader(bufio.NewReaderSize(file, chunk), codec)
		if err != nil {
			decodeErr = err
		} else {
			_, decodeErr = io.Copy(sink, zr)
			if cerr := zr.Close(); decodeErr == nil {
				decodeErr = cerr
			}
		}
	} else {
		buf := make([]byte, chunk)
		_, decodeErr = io.CopyBuffer(sink, onlyReader{file}, buf)
	}
	if err := ctx.Err(); err != nil {
		return df, fmt.Errorf("dump %s: %w", rel, err)
	}
	// Read what the decoder left (after a gzip error, or trailing bytes) so
	// the file checksum covers the whole file.
	if file.err == nil {
		io.CopyBuffer(io.Discard, onlyReader{file}, make([]byte, chunk))
		if err := ctx.Err(); err != nil {
			return df, fmt.Errorf("dump %s: %w", rel, err)
		}
	}
	c.flush()
	res.DumpRawBytes = raw.Bytes()
	sum, rawSum := hex.EncodeToString(file.h.Sum(nil)), raw.SHA256()

	readable := true
	switch {
	case file.err != nil:
		res.add(KindUnreadable, rel, file.err.Error())
		readable = false
	case decodeErr != nil:
		res.add(KindDumpCorrupt, rel, decodeDetail(codec, decodeErr))
		readable = false
	}

	if m != nil && file.err == nil {
		d := m.Database
		if d.Bytes > 0 && file.n != d.Bytes {
			res.add(KindDumpSize, rel, fmt.Sprintf("%d bytes, manifest says %d", file.n, d.Bytes))
		}
		if d.SHA256 != "" && sum != d.SHA256 {
			res.add(KindDumpChecksum, rel, fmt.Sprintf("SHA-256 %s, manifest says %s", sum, d.SHA256))
		}
		// For a plain dump the file is the raw stream: one comparison is
		// enough. For a damaged gzip the raw stream is cut short, which the
		// corrupt-gzip problem already says.
		if compressed && readable {
			if d.RawBytes > 0 && raw.Bytes() != d.RawBytes {
				res.add(KindDumpSize, rel, fmt.Sprintf("%d bytes decompressed, manifest says %d", raw.Bytes(), d.RawBytes))
			}
			if d.RawSHA256 != "" && rawSum != d.RawSHA256 {
				res.add(KindDumpChecksum, rel, fmt.Sprintf("decompressed SHA-256 %s, manifest says %s", rawSum, d.RawSHA256))
			}
		}
		if d.Chunks != nil {
			checkChunkList(b, d, file.n, res)
		}
	}

	if !readable {
		df.partial = true
		res.skip("dump completion and table rows: the dump could not be read to its end")
	} else {
		if raw.Bytes() == 0 {
			res.add(KindDumpIncomplete, rel, "the dump is empty")
		} else if !raw.Complete() {
			res.add(KindDumpIncomplete, rel, fmt.Sprintf("does not end with pg_dump's completion line %q: the dump was cut short", dumpscan.CompletionLine))
		}
		compareRows(res, rel, m, scan.Rows)
		if migrations.Seen() {
			if a := migrations.Applied(); len(a) > 0 {
				res.Migration = a[len(a)-1].Version
			}
		}
	}

	for _, table := range df.rows.NoColumn {
		res.skip("Directus files: %s has no filename_disk column", table)
	}
	for table := range scan.Rows {
		if filetable.IsTable(table) {
			df.seen = true
		}
	}
	return df, nil
}

// checkChunkList holds the dump's chunk list against its manifest and the
// file. The next backup copies members by it (each checked as it is
// copied, so a wrong list costs only recompression), but a list that does
// not describe the file is damage all the same.
func checkChunkList(b repo.Backup, d manifest.Database, fileBytes int64, res *Result) {
	rel := manifest.ChunksListName
	_, totals, err := chunked.ReadListFile(repo.ChunksIn(b.Path))
	switch {
	case err != nil:
		res.add(KindManifest, rel, fmt.Sprintf("cannot read the dump's chunk list: %v", err))
	case totals.SHA256 != d.Chunks.ListSHA256:
		res.add(KindManifest, rel, fmt.Sprintf("SHA-256 %s, manifest says %s", totals.SHA256, d.Chunks.ListSHA256))
	case totals.Count != d.Chunks.Count || totals.Bytes != fileBytes || totals.RawBytes != d.RawBytes:
		res.add(KindManifest, rel, fmt.Sprintf("lists %d members of %d bytes (%d decompressed); the manifest says %d members, the dump is %d bytes (%d decompressed)",
			totals.Count, totals.Bytes, totals.RawBytes, d.Chunks.Count, fileBytes, d.RawBytes))
	}
}

// compareRows reports every table whose row count in the dump differs
// from the manifest's, or that only one of them has.
func compareRows(res *Result, rel string, m *manifest.Manifest, rows map[string]int64) {
	if m == nil || m.Database.TableRows == nil {
		return
	}
	want := m.Database.TableRows
	var tables []string
	for t := range want {
		tables = append(tables, t)
	}
	for t := range rows {
		if _, ok := want[t]; !ok {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		w, inManifest := want[t]
		g, inDump := rows[t]
		switch {
		case !inDump:
			res.add(KindTableRows, rel, fmt.Sprintf("%s: manifest says %d rows, the dump has no such table", t, w))
		case !inManifest:
			res.add(KindTableRows, rel, fmt.Sprintf("%s: the dump has %d rows, the manifest does not list the table", t, g))
		case g != w:
			res.add(KindTableRows, rel, fmt.Sprintf("%s: the dump has %d rows, manifest says %d", t, g, w))
		}
	}
}

// decodeDetail describes a decompression error for a person.
func decodeDetail(codec string, err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return codec + ": " + err.Error() + " (the file is truncated)"
	case errors.Is(err, pgzip.ErrChecksum):
		return strings.TrimPrefix(err.Error(), codec+": ") + " (" + codec + ": the decompressed data is not what was compressed)"
	}
	if strings.HasPrefix(err.Error(), codec) {
		return err.Error()
	}
	return codec + ": " + err.Error()
}

// hashReader hashes and counts what is read through it, reports progress,
// and stops when ctx is cancelled. It keeps its first read error so that a
// failure of the disk is not mistaken for a damaged gzip stream.
type hashReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	c   *counter
	n   int64
	err error // first error other than io.EOF
}

func (r *hashReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.h.Write(p[:n])
		r.n += int64(n)
		r.c.read(n)
	}
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// onlyReader hides a reader's other methods (WriteTo) so io.Copy uses the
// buffer it is given.
type onlyReader struct{ io.Reader }
