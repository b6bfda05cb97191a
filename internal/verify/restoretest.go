package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// Kinds of problems a restore test finds.
const (
	KindRestore = "restore" // the dump did not restore
)

// RestoreTestOptions for RestoreTest.
type RestoreTestOptions struct {
	Target  pgexec.Target // the server and login; Target.Database (DB_DATABASE) only names which leftovers are ours
	Scratch string        // the scratch database: must not exist; it is created and dropped
	Owner   string        // owner of the scratch database (DB_USER)
}

// RestoreTestResult is what a restore test found.
type RestoreTestResult struct {
	Scratch string `json:"scratch_database"`
	// LeftoversDropped names scratch databases of earlier, killed runs
	// that this test found and dropped.
	LeftoversDropped []string `json:"leftovers_dropped"`
	// LeftoversKept: such databases that could not be dropped, with why.
	LeftoversKept []string      `json:"leftovers_not_dropped,omitempty"`
	Tables        int           `json:"tables"`
	Rows          int64         `json:"rows"`
	Users         int64         `json:"directus_users"` // SELECT COUNT(*) FROM directus_users; -1 when there is no such table
	Problems      []Problem     `json:"problems"`
	Duration      time.Duration `json:"duration_ns"`
}

// OK reports whether the restore test found nothing wrong.
func (r RestoreTestResult) OK() bool { return len(r.Problems) == 0 }

// ErrScratchExists is returned when the scratch database already exists:
// it would be dropped afterwards, so it is never reused.
var ErrScratchExists = errors.New("the scratch database already exists")

// RestoreTest restores b's dump into a new scratch database on the server,
// compares every table's row count with the counts recorded at backup time
// (or, for old-script backups, with the counts in the dump itself), runs
// the original backup.sh's own check (SELECT COUNT(*) FROM directus_users), and
// drops the scratch database whatever happened. An error means the test
// could not be made; what it found wrong is in Problems.
func RestoreTest(ctx context.Context, b repo.Backup, opts RestoreTestOptions) (res RestoreTestResult, err error) {
	start := time.Now()
	res = RestoreTestResult{Scratch: opts.Scratch, Users: -1, Problems: []Problem{}, LeftoversDropped: []string{}}
	dump := b.DumpFile()
	if dump == "" {
		return res, fmt.Errorf("%s has no dump", b.Name)
	}
	t := opts.Target
	if res.LeftoversDropped, res.LeftoversKept, err = DropLeftoverScratch(ctx, t); err != nil {
		return res, err
	}
	exists, err := restore.Query(ctx, t.WithDatabase("postgres"),
		"SELECT count(*) FROM pg_database WHERE datname = "+quoteLiteral(opts.Scratch))
	if err != nil {
		return res, fmt.Errorf("reach the server: %w", err)
	}
	if exists != "0" {
		return res, fmt.Errorf("%w: %s (name another with --scratch-db)", ErrScratchExists, opts.Scratch)
	}
	if err := restore.CreateDatabase(ctx, t, opts.Scratch, opts.Owner); err != nil {
		return res, err
	}
	defer func() {
		// Drop it even when ctx was cancelled: a scratch copy of the
		// production data must not linger.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if dropErr := restore.DropDatabase(dctx, t, opts.Scratch); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("drop scratch database %s: %w", opts.Scratch, dropErr))
		}
		res.Duration = time.Since(start)
	}()
	if err := markScratch(ctx, t, opts.Scratch); err != nil {
		return res, err
	}

	scratch := t.WithDatabase(opts.Scratch)
	var sha string
	if b.Manifest != nil {
		sha = b.Manifest.Database.SHA256
	}
	dbRes, err := restore.DB(ctx, restore.DBOptions{Target: scratch, Dump: dump, SHA256: sha, Force: true})
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		res.Problems = append(res.Problems, Problem{Kind: KindRestore, Path: relDump(b, dump), Detail: err.Error()})
		return res, nil
	}

	want := dbRes.TableRows
	if b.Manifest != nil && b.Manifest.Database.TableRows != nil {
		want = b.Manifest.Database.TableRows
	}
	got, err := countRows(ctx, scratch, want)
	if err != nil {
		return res, err
	}
	tables := make([]string, 0, len(want))
	for name := range want {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	for _, name := range tables {
		res.Tables++
		n, ok := got[name]
		res.Rows += n
		switch {
		case !ok:
			res.Problems = append(res.Problems, Problem{Kind: KindTableRows, Path: name,
				Detail: fmt.Sprintf("the restored database has no such table, the backup recorded %d rows", want[name])})
		case n != want[name]:
			res.Problems = append(res.Problems, Problem{Kind: KindTableRows, Path: name,
				Detail: fmt.Sprintf("the restored table has %d rows, the backup recorded %d", n, want[name])})
		}
	}

	// Tables whose rows the backup left out (BACKUP_EXCLUDE_TABLE_DATA):
	// not a mismatch, but they must be there, empty.
	if b.Manifest != nil {
		for _, name := range b.Manifest.Database.EmptyTables {
			n, err := emptyTableRows(ctx, scratch, name)
			switch {
			case err != nil:
				return res, err
			case n < 0:
				res.Problems = append(res.Problems, Problem{Kind: KindTableRows, Path: name,
					Detail: "the backup left this table's rows out (BACKUP_EXCLUDE_TABLE_DATA), but the restored database has no such table"})
			case n > 0:
				res.Problems = append(res.Problems, Problem{Kind: KindTableRows, Path: name,
					Detail: fmt.Sprintf("the backup left this table's rows out (BACKUP_EXCLUDE_TABLE_DATA), but the restored table has %d rows", n)})
			}
		}
	}

	// The original backup.sh's own check, when this is a Directus database.
	if ok, err := restore.Query(ctx, scratch, "SELECT to_regclass('public.directus_users') IS NOT NULL"); err == nil && ok == "t" {
		out, err := restore.Query(ctx, scratch, "SELECT COUNT(*) FROM directus_users")
		if err != nil {
			res.Problems = append(res.Problems, Problem{Kind: KindRestore, Path: "directus_users", Detail: err.Error()})
		} else if res.Users, err = strconv.ParseInt(out, 10, 64); err != nil {
			res.Users = -1
		}
	}
	return res, nil
}

// countRows counts the rows of the given tables in the scratch database.
// A name that is no relation there is left out of the answer, so that it
// is reported as one problem instead of failing the whole count: a
// manifest written before dumpscan read pg_dump's quoting can list a
// "table" that was only text inside a comment or string of the dump.
func countRows(ctx context.Context, t pgexec.Target, tables map[string]int64) (map[string]int64, error) {
	got := map[string]int64{}
	if len(tables) == 0 {
		return got, nil
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	var q strings.Builder
	q.WriteString("SELECT i - 1 FROM unnest(ARRAY[")
	for i, n := range names {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(quoteLiteral(n))
	}
	q.WriteString("]::text[]) WITH ORDINALITY AS t(n, i) WHERE to_regclass(n) IS NOT NULL ORDER BY i")
	out, err := restore.Query(ctx, t, q.String())
	if err != nil {
		return nil, fmt.Errorf("look up tables in the scratch database: %w", err)
	}
	var exist []string
	for _, line := range strings.Fields(out) {
		idx, err := strconv.Atoi(line)
		if err != nil || idx < 0 || idx >= len(names) {
			return nil, fmt.Errorf("look up tables: unexpected answer %q", line)
		}
		exist = append(exist, names[idx])
	}
	if len(exist) == 0 {
		return got, nil
	}

	q.Reset()
	for i, n := range exist {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		// The names are as pg_dump wrote them after COPY: already quoted
		// where needed.
		fmt.Fprintf(&q, "SELECT %d, count(*) FROM %s", i, n)
	}
	out, err = restore.Query(ctx, t, q.String())
	if err != nil {
		return nil, fmt.Errorf("count rows in the scratch database: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		i, n, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		idx, err1 := strconv.Atoi(i)
		cnt, err2 := strconv.ParseInt(n, 10, 64)
		if err1 != nil || err2 != nil || idx < 0 || idx >= len(exist) {
			return nil, fmt.Errorf("count rows: unexpected answer %q", line)
		}
		got[exist[idx]] = cnt
	}
	return got, nil
}

// emptyTableRows counts the rows of a BACKUP_EXCLUDE_TABLE_DATA table (a
// plain or schema-qualified identifier, as config checked it), or -1 when
// the restored database has no such table.
func emptyTableRows(ctx context.Context, t pgexec.Target, name string) (int64, error) {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = restore.QuoteIdent(p)
	}
	q := strings.Join(parts, ".")
	ok, err := restore.Query(ctx, t, "SELECT to_regclass("+quoteLiteral(q)+") IS NOT NULL")
	if err != nil {
		return 0, fmt.Errorf("look up %s in the scratch database: %w", name, err)
	}
	if ok != "t" {
		return -1, nil
	}
	out, err := restore.Query(ctx, t, "SELECT count(*) FROM "+q)
	if err != nil {
		return 0, fmt.Errorf("count rows of %s in the scratch database: %w", name, err)
	}
	return strconv.ParseInt(out, 10, 64)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func relDump(b repo.Backup, dump string) string {
	return strings.TrimPrefix(strings.TrimPrefix(dump, b.Path), "/")
}
