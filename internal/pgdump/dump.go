package pgdump

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/chunked"
	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/dumpscan"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// Errors a Dump can end with, besides the process's own error.
var (
	ErrEmpty      = errors.New("pg_dump wrote nothing")
	ErrIncomplete = errors.New("dump does not end with pg_dump's completion line")
)

// Source produces a plain SQL dump. The backup run reaches pg_dump only
// through it, so the pipeline can be tested with a stand-in that writes a
// dump text; everything after it (compression, hashing, the completion
// check, the file) is the same for both.
type Source interface {
	// Dump writes the whole dump to w and returns when it is written or
	// has failed. A write error to w must stop it.
	Dump(ctx context.Context, w io.Writer) error
}

// Options for Dump.
type Options struct {
	// Source makes the dump; nil runs pg_dump against Target with its
	// standard error copied to Stderr.
	Source      Source
	Target      pgexec.Target
	Compression string // compress.Gzip, compress.Zstd or compress.None
	Level       int    // BACKUP_GZIP_LEVEL, 1-9
	// Stderr receives pg_dump's standard error as it is written; may be nil.
	Stderr io.Writer
	// OnBytes is called with the number of raw bytes read so far; may be nil.
	OnBytes func(raw int64)
	// Previous is the previous backup's dump, whose members are copied for
	// the chunks it shares with this one; nil compresses everything.
	Previous *chunked.Previous
	// ChunkList receives the chunk list of a compressed dump; may be nil.
	ChunkList *chunked.ListWriter
	// OnDamaged is called for a member of Previous that failed its check
	// (its chunk is compressed afresh); may be nil.
	OnDamaged func(prev chunked.Chunk, err error)
	// ExcludeTableData names tables (checked by the caller: plain or
	// schema-qualified identifiers) whose rows pg_dump leaves out.
	ExcludeTableData []string
	// Want and OnRow, when set, get the rows of chosen tables as the dump
	// streams by (dumpscan.Scanner's fields of the same names): the backup
	// reads directus_files without a second pass.
	Want  func(table string) bool
	OnRow func(table string, columns []string, line []byte)
}

// Result describes a finished dump.
type Result struct {
	RawBytes  int64
	RawSHA256 string
	Bytes     int64 // size of the file written
	SHA256    string
	// TableRows counts the rows of each table's COPY block, keyed by the
	// table's name as the dump writes it.
	TableRows map[string]int64
	// Chunks is what the chunked writer did; nil for an uncompressed dump.
	Chunks *Chunks
	// Migrations are the dump's directus_migrations rows; nil when the
	// dump has no such table.
	Migrations *Migrations
	// Tables are the tables the dump defines, with or without rows.
	Tables []dumpscan.TableName
}

// Migrations are the Directus migrations a dump holds.
type Migrations struct {
	Table   string
	Applied []dumpscan.Migration // in version order
}

// Chunks describes a compressed dump's chunks.
type Chunks struct {
	chunked.Stats
	AverageBits int
	// Tables says, for each table's COPY data, how many raw bytes it holds
	// and how many of them were in chunks compressed afresh (not copied
	// from the previous dump): what the day's changes cost.
	Tables map[string]TableChunks
}

// TableChunks is one table's share of the dump's chunks.
type TableChunks struct {
	RawBytes      int64
	FreshRawBytes int64
}

// dumpArgs makes a plain SQL dump that restores both into an empty
// database and over the existing one (--clean --if-exists), and never waits
// for a password prompt (--no-password): the password comes from PGPASSWORD.
var dumpArgs = []string{"--format=plain", "--clean", "--if-exists", "--no-password"}

// Dump runs opts.Source (pg_dump by default) and writes the dump to path,
// which must not exist. On error the partial file is removed.
func Dump(ctx context.Context, opts Options, path string) (res Result, err error) {
	// Never over or through anything already there.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()

	fileHash := sha256.New()
	fileCount := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(f, fileHash, fileCount), 1<<20)

	var sink io.Writer = bw
	var cw *chunked.Writer
	var fresh freshRanges
	if opts.Compression != compress.None {
		cw, err = chunked.NewWriter(bw, fresh.options(opts))
		if err != nil {
			return res, err
		}
		// Stops the writer's goroutines on every early return.
		defer cw.Abort(errors.New("dump abandoned"))
		sink = cw
	}

	src := opts.Source
	if src == nil {
		src = Command{Target: opts.Target, Stderr: opts.Stderr, ExcludeTableData: opts.ExcludeTableData}
	}
	raw := dumpscan.NewSummary()
	scan := dumpscan.New()
	// The caller's reader first; CollectMigrations adds itself beside it.
	scan.Want, scan.OnRow = opts.Want, opts.OnRow
	migrations := scan.CollectMigrations()
	if err := src.Dump(ctx, io.MultiWriter(sink, raw, scan, &progress{onBytes: opts.OnBytes})); err != nil {
		return res, err
	}
	if raw.Bytes() == 0 {
		return res, ErrEmpty
	}
	if !raw.Complete() {
		return res, ErrIncomplete
	}
	if cw != nil {
		if err := cw.Close(); err != nil {
			return res, fmt.Errorf("compress dump: %w", err)
		}
		res.Chunks = &Chunks{Stats: cw.Stats(), AverageBits: chunked.DefaultAverageBits,
			Tables: fresh.tables(scan.Blocks)}
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("write dump: %w", err)
	}
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("sync dump: %w", err)
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("close dump: %w", err)
	}
	res.RawBytes = raw.Bytes()
	res.RawSHA256 = raw.SHA256()
	res.Bytes = fileCount.n
	res.SHA256 = hex.EncodeToString(fileHash.Sum(nil))
	res.TableRows = scan.Rows
	res.Tables = scan.Tables
	if migrations.Seen() {
		res.Migrations = &Migrations{Table: migrations.Table, Applied: migrations.Applied()}
	}
	return res, nil
}

// Command is pg_dump run against Target: the Source of every real backup.
type Command struct {
	Target pgexec.Target
	Stderr io.Writer // receives pg_dump's standard error as it is written; may be nil
	// ExcludeTableData: tables whose rows are left out (Options).
	ExcludeTableData []string
}

// Dump runs pg_dump and copies its output to w.
func (c Command) Dump(ctx context.Context, w io.Writer) error {
	// pg_dump gets its own cancel so that a write error (a full disk) stops
	// it at once instead of letting it run to the end into nowhere.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := c.Target.Command(pctx, "pg_dump", append(dumpArgs[:len(dumpArgs):len(dumpArgs)], ExcludeArgs(c.ExcludeTableData)...)...)
	name := c.Target.Program("pg_dump")
	stderr := &capbuf.Tail{Max: 64 << 10}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, c.Stderr)
	} else {
		cmd.Stderr = stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found on PATH: %w", name, err)
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	_, copyErr := io.Copy(w, stdout)
	if copyErr != nil {
		stop()
	}
	waitErr := cmd.Wait()

	if ctx.Err() != nil {
		return fmt.Errorf("pg_dump stopped: %w", ctx.Err())
	}
	if copyErr != nil {
		return fmt.Errorf("write dump (pg_dump stopped): %w", copyErr)
	}
	if waitErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no message"
		}
		return fmt.Errorf("%s failed (%v): %s", name, waitErr, capbuf.LastLines(msg, 10))
	}
	return nil
}

// ExcludeArgs returns pg_dump's arguments leaving out the rows of the
// named tables. Each part of a name is double-quoted, so pg_dump matches
// it exactly (case kept, no wildcards); an unqualified name matches the
// tables of that name on the default search_path, as pg_dump's patterns
// do. The names are checked by config (letters, digits, _ and $), and the
// arguments go to exec, never through a shell.
func ExcludeArgs(tables []string) []string {
	var args []string
	for _, t := range tables {
		parts := strings.Split(t, ".")
		for i, p := range parts {
			parts[i] = `"` + p + `"`
		}
		args = append(args, "--exclude-table-data="+strings.Join(parts, "."))
	}
	return args
}

// progress reports the raw bytes read so far.
type progress struct {
	n       int64
	onBytes func(int64)
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.onBytes != nil {
		p.onBytes(p.n)
	}
	return len(b), nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// Probe checks that pg_dump can connect with opts, the way a backup will,
// and read the schema of every table (which also takes the same share locks
// a dump takes, so missing privileges show up here), without dumping data.
// It returns the server version pg_dump reports.
func Probe(ctx context.Context, t pgexec.Target) (serverVersion string, err error) {
	cmd := t.Command(ctx, "pg_dump", "--schema-only", "--no-password")
	name := t.Program("pg_dump")
	out := &capbuf.Head{Max: 64 << 10}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errb
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s not found on PATH: %w", name, err)
		}
		return "", fmt.Errorf("%s failed (%v): %s", name, err, capbuf.LastLines(strings.TrimSpace(errb.String()), 5))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "-- Dumped from database version "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "unknown", nil
}
