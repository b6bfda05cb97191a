package restore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/dumpscan"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// Errors of a database restore.
var (
	// ErrNotEmpty: the target database has tables and Force was not given.
	ErrNotEmpty = errors.New("the target database is not empty")
	// ErrNoDatabase: the target database does not exist and Create was not given.
	ErrNoDatabase = errors.New("the target database does not exist")
	// ErrDumpInvalid: the dump failed its checksum, gzip or completeness
	// check; nothing was committed.
	ErrDumpInvalid = errors.New("the dump is damaged")
)

// DBOptions for DB.
type DBOptions struct {
	Target pgexec.Target // Target.Database is the database restored into
	Dump   string        // db_backup.sql.gz, .sql.zst or .sql
	// Open, when set, reads the dump instead of the file Dump (an offsite
	// copy); Dump then only names it, for its codec and for messages.
	Open   func() (io.ReadCloser, error)
	SHA256 string // expected SHA-256 of the Dump file; "" skips the check (old-script backups)
	Force  bool   // restore over a database that has tables
	Create bool   // create the database when it does not exist
	Owner  string // owner of a created database (DB_USER)
	// Confirm, when not nil, is asked before restoring over a database that
	// has tables and Force is not set (an interactive "yes").
	Confirm func(question string) bool
	Stderr  io.Writer       // receives psql's standard error; may be nil
	OnBytes func(raw int64) // progress; may be nil
	// CheckMigrations compares Migrations (the backup's; nil: it records
	// none) with the target's directus_migrations before a database with
	// tables is replaced; a difference is part of the question asked.
	CheckMigrations bool
	Migrations      *manifest.Migrations
}

// DBResult describes a finished database restore.
type DBResult struct {
	Database string
	Created  bool
	// HadTables counts the ordinary tables the database held before (-1:
	// not counted, with Force); HadOther its views, sequences and other
	// relations. "Tables" means the same everywhere: the ordinary tables,
	// which are also what the dump carries rows for (DBResult.TableRows)
	// and what a restore test counts.
	HadTables, HadOther int
	RawBytes            int64
	// TableRows counts the rows the dump carried for each table.
	TableRows map[string]int64
	Duration  time.Duration
	// Migrations compares the backup's Directus migrations with the
	// target's; nil when not checked (empty target, or not asked for).
	Migrations *MigrationCheck
}

// DB restores a plain pg_dump file into opts.Target.Database. The whole
// restore is one transaction that stops at the first error, and it commits
// only on an explicit COMMIT that is sent after the file's checksum and
// completion line have been checked. Whatever else ends psql's input (a
// damaged dump, a failed statement, this process killed or hung up) ends
// the session without a commit, so the server rolls the transaction back
// and the database is exactly as it was.
func DB(ctx context.Context, opts DBOptions) (DBResult, error) {
	start := time.Now()
	res := DBResult{Database: opts.Target.Database}
	t := opts.Target

	if opts.Force && !opts.Create {
		// Nothing to decide: the tables are not counted. A missing
		// database shows up as psql's own error.
		res.HadTables = -1
		if opts.CheckMigrations {
			// Only reported (--yes asks nothing), so a failure to read
			// them is reported too, not fatal.
			mc, err := checkMigrations(ctx, t, opts.Migrations)
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("database %q does not exist", t.Database)) {
				mc = &MigrationCheck{Skipped: err.Error()}
			}
			res.Migrations = mc
		}
		raw, scan, err := runRestore(ctx, opts)
		res.RawBytes, res.TableRows, res.Duration = raw, scan.Rows, time.Since(start)
		if err != nil && strings.Contains(err.Error(), fmt.Sprintf("database %q does not exist", t.Database)) {
			err = fmt.Errorf("%w: %s (use --create to create it)", ErrNoDatabase, t.Database)
		}
		return res, err
	}

	n, other, err := countRelations(ctx, t)
	if errors.Is(err, ErrNoDatabase) {
		if !opts.Create {
			return res, fmt.Errorf("%w: %s (use --create to create it)", ErrNoDatabase, t.Database)
		}
		if err := createDatabase(ctx, t, opts.Owner); err != nil {
			return res, err
		}
		res.Created = true
		n, other, err = countRelations(ctx, t)
	}
	if err != nil {
		return res, err
	}
	res.HadTables, res.HadOther = n, other
	if opts.CheckMigrations && n+other > 0 {
		// An empty target has no Directus to speak of: nothing to compare.
		if res.Migrations, err = checkMigrations(ctx, t, opts.Migrations); err != nil {
			return res, err
		}
	}
	if n+other > 0 && !opts.Force {
		has := fmt.Sprintf("%d tables (and %d views, sequences and other relations)", n, other)
		q := fmt.Sprintf("Database %q has %s.", t.Database, has)
		explain := res.Migrations.Explain()
		if explain != "" {
			q += "\n" + explain + "\n"
		} else {
			q += " "
		}
		q += "Replace them with the backup?"
		if opts.Confirm == nil || !opts.Confirm(q) {
			err := fmt.Errorf("%w: %s has %s (use --yes to restore over it)", ErrNotEmpty, t.Database, has)
			if explain != "" {
				err = fmt.Errorf("%w\n%s", err, explain)
			}
			return res, err
		}
	}

	raw, scan, err := runRestore(ctx, opts)
	res.RawBytes, res.TableRows = raw, scan.Rows
	if err != nil && res.Created {
		// Leave things as they were: no empty database of our making.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if dropErr := DropDatabase(dctx, t, t.Database); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("remove the database created for the restore: %w", dropErr))
		}
	}
	res.Duration = time.Since(start)
	return res, err
}

// runRestore streams the dump into psql. It returns the raw bytes sent and
// the scan of what the dump carried.
func runRestore(ctx context.Context, opts DBOptions) (int64, *dumpscan.Scanner, error) {
	scan := dumpscan.New()
	var f io.ReadCloser
	var err error
	if opts.Open != nil {
		f, err = opts.Open()
	} else {
		f, err = regfile.Open(opts.Dump) // a FIFO or symlink in the backup is refused, not waited on
	}
	if err != nil {
		return 0, scan, err
	}
	defer f.Close()
	fileHash := sha256.New()
	var src io.Reader = io.TeeReader(f, fileHash)
	dec, err := compress.NewReader(src, compress.Of(opts.Dump))
	if err != nil {
		return 0, scan, fmt.Errorf("%w: %s: %v", ErrDumpInvalid, opts.Dump, err)
	}
	defer dec.Close()
	src = dec
	src = io.TeeReader(src, scan)

	// psql gets its own cancel so that a bad dump can stop it at once.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	// Not --single-transaction: with it psql commits when its input ends,
	// and its input also ends when this process dies. Here the transaction
	// is opened by hand and committed only by commitSQL below.
	cmd := opts.Target.Command(pctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-")
	stderr := &capbuf.Tail{Max: 64 << 10}
	cmd.Stderr = stderr
	if opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, opts.Stderr)
	}
	cmd.Stdout = io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, scan, err
	}
	if err := cmd.Start(); err != nil {
		return 0, scan, fmt.Errorf("start %s: %w", opts.Target.Program("psql"), err)
	}

	hb := &holdback{w: stdin, keep: dumpscan.TailSize, onBytes: opts.OnBytes}
	_, copyErr := io.WriteString(stdin, beginSQL)
	if copyErr != nil {
		hb.writeErr = copyErr // psql is gone already
	} else {
		_, copyErr = io.Copy(hb, src)
	}
	check := validate(copyErr, hb, fileHash, opts)
	if check != nil {
		stop() // kill psql before it sees EOF: the transaction rolls back
		stdin.Close()
		cmd.Wait()
		if ctx.Err() != nil {
			return hb.n, scan, fmt.Errorf("restore stopped: %w", ctx.Err())
		}
		if psqlErr := strings.TrimSpace(stderr.String()); psqlErr != "" && !errors.Is(check, ErrDumpInvalid) {
			return hb.n, scan, fmt.Errorf("psql failed, nothing was changed: %s", capbuf.LastLines(psqlErr, 10))
		}
		return hb.n, scan, check
	}
	flushErr := hb.flush()
	if flushErr == nil {
		_, flushErr = io.WriteString(stdin, commitSQL)
	}
	stdin.Close()
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return hb.n, scan, fmt.Errorf("restore stopped: %w", ctx.Err())
	}
	if waitErr != nil || flushErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprint(errors.Join(waitErr, flushErr))
		}
		return hb.n, scan, fmt.Errorf("psql failed, nothing was changed: %s", capbuf.LastLines(msg, 10))
	}
	return hb.n, scan, nil
}

// The transaction around the dump. pg_dump's plain output has no
// transaction control of its own (except around large objects, which
// Directus does not use; there it would commit early, as psql
// --single-transaction would too). The newline before COMMIT ends any
// unterminated last line.
const (
	beginSQL  = "BEGIN;\n"
	commitSQL = "\nCOMMIT;\n"
)

// validate decides, with the end of the dump still held back, whether the
// transaction may be committed.
func validate(copyErr error, hb *holdback, fileHash hash.Hash, opts DBOptions) error {
	if copyErr != nil {
		if hb.writeErr != nil {
			return fmt.Errorf("psql stopped reading: %w", copyErr)
		}
		return fmt.Errorf("%w: reading %s: %v", ErrDumpInvalid, opts.Dump, copyErr)
	}
	if opts.SHA256 != "" {
		if got := hex.EncodeToString(fileHash.Sum(nil)); got != opts.SHA256 {
			return fmt.Errorf("%w: %s has SHA-256 %s, the manifest recorded %s", ErrDumpInvalid, opts.Dump, got, opts.SHA256)
		}
	}
	if hb.n == 0 {
		return fmt.Errorf("%w: %s is empty", ErrDumpInvalid, opts.Dump)
	}
	if !dumpscan.EndsComplete(hb.buf) {
		return fmt.Errorf("%w: %s does not end with pg_dump's completion line", ErrDumpInvalid, opts.Dump)
	}
	return nil
}

// holdback passes data on but keeps the last keep bytes back until flush,
// for the completion check; the commit itself is sent separately.
type holdback struct {
	w        io.Writer
	keep     int
	buf      []byte
	n        int64
	writeErr error
	onBytes  func(int64)
}

func (h *holdback) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	h.buf = append(h.buf, p...)
	if over := len(h.buf) - h.keep; over > 0 {
		if _, err := h.w.Write(h.buf[:over]); err != nil {
			h.writeErr = err
			return 0, err
		}
		h.buf = append(h.buf[:0], h.buf[over:]...)
	}
	if h.onBytes != nil {
		h.onBytes(h.n)
	}
	return len(p), nil
}

func (h *holdback) flush() error {
	_, err := h.w.Write(h.buf)
	h.buf = h.buf[:0]
	return err
}

// countRelations counts the ordinary tables, and the other relations
// (partitioned parents, views, materialized views, sequences, foreign
// tables), outside the system schemas, or returns ErrNoDatabase.
func countRelations(ctx context.Context, t pgexec.Target) (tables, other int, err error) {
	out, err := query(ctx, t, `SELECT count(*) FILTER (WHERE c.relkind = 'r') || '|' || count(*) FILTER (WHERE c.relkind <> 'r')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r','p','v','m','S','f')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`)
	if err != nil {
		if strings.Contains(err.Error(), fmt.Sprintf("database %q does not exist", t.Database)) {
			return 0, 0, ErrNoDatabase
		}
		return 0, 0, err
	}
	a, b, _ := strings.Cut(out, "|")
	tables, err1 := strconv.Atoi(a)
	other, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("count tables in %s: unexpected answer %q", t.Database, out)
	}
	return tables, other, nil
}

// createDatabase creates t.Database owned by owner, through the server's
// maintenance database.
func createDatabase(ctx context.Context, t pgexec.Target, owner string) error {
	sql := "CREATE DATABASE " + QuoteIdent(t.Database)
	if owner != "" {
		sql += " OWNER " + QuoteIdent(owner)
	}
	if _, err := query(ctx, t.WithDatabase("postgres"), sql); err != nil {
		return fmt.Errorf("create database %s (the login %s needs the CREATEDB privilege: ALTER ROLE %s CREATEDB; or an administrator creates the database): %w",
			t.Database, cmp.Or(t.User, "(default user)"), QuoteIdent(cmp.Or(t.User, "<DB_USER>")), err)
	}
	return nil
}

// DropDatabase drops a database through the maintenance database, closing
// any sessions left in it.
func DropDatabase(ctx context.Context, t pgexec.Target, name string) error {
	_, err := query(ctx, t.WithDatabase("postgres"), "DROP DATABASE IF EXISTS "+QuoteIdent(name)+" WITH (FORCE)")
	if err != nil && strings.Contains(err.Error(), "syntax error") {
		// PostgreSQL before 13 has no WITH (FORCE); nothing else is
		// connected to a database we made ourselves.
		_, err = query(ctx, t.WithDatabase("postgres"), "DROP DATABASE IF EXISTS "+QuoteIdent(name))
	}
	return err
}

// CreateDatabase creates an empty database owned by owner.
func CreateDatabase(ctx context.Context, t pgexec.Target, name, owner string) error {
	return createDatabase(ctx, t.WithDatabase(name), owner)
}

// Query runs one SQL statement with psql and returns its unaligned,
// tuples-only output.
func Query(ctx context.Context, t pgexec.Target, sql string) (string, error) {
	return query(ctx, t, sql)
}

func query(ctx context.Context, t pgexec.Target, sql string) (string, error) {
	cmd := t.Command(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-")
	cmd.Stdin = strings.NewReader(sql)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		// "psql:<stdin>:1: ERROR: ..." says nothing the caller needs.
		msg = psqlPrefix.ReplaceAllString(msg, "")
		return "", fmt.Errorf("%s: %s", t.Program("psql"), capbuf.LastLines(msg, 5))
	}
	return strings.TrimSpace(out.String()), nil
}

var psqlPrefix = regexp.MustCompile(`(?m)^psql:<stdin>:\d+: `)

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
