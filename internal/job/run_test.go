package job_test

// The pipeline's failure paths, run everywhere: a stand-in writes the dump
// text pg_dump would write (it is the only stand-in; the files, folders,
// compression, lock, verify and retention are the real ones).

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/repo"
)

const password = "s3cret-Pa55word"

// sqlDumper stands in for pg_dump: it writes a plain SQL dump, as pg_dump
// --format=plain does, whose directus_files rows name files.
type sqlDumper struct {
	files      []string // filename_disk of each directus_files row
	incomplete bool     // stop before pg_dump's completion line
	err        error    // fail after the first part, as a dying pg_dump
	during     func()   // runs mid-dump: what happens elsewhere meanwhile
	before     func()   // runs before the first byte
	early      error    // fail before writing anything, as a pg_dump that cannot connect
	// hold runs after the first part, with the dump's context: it waits
	// for what the test needs to see; an error ends the dump with it.
	hold func(ctx context.Context) error
}

func (d *sqlDumper) Dump(ctx context.Context, w io.Writer) error {
	if d.before != nil {
		d.before()
	}
	if d.early != nil {
		return d.early
	}
	var b strings.Builder
	b.WriteString(`--
-- PostgreSQL database dump
--

-- Dumped from database version 16.4
-- Dumped by pg_dump version 16.4

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

DROP TABLE IF EXISTS public.directus_files;
CREATE TABLE public.directus_files (
    id uuid NOT NULL,
    storage character varying(255) NOT NULL,
    filename_disk character varying(255),
    filename_download character varying(255) NOT NULL
);

--
-- Data for Name: directus_files; Type: TABLE DATA; Schema: public; Owner: directus
--

COPY public.directus_files (id, storage, filename_disk, filename_download) FROM stdin;
`)
	for i, f := range d.files {
		fmt.Fprintf(&b, "0b0e6a0e-0000-4000-8000-%012d\tlocal\t%s\t%s\n", i+1, f, filepath.Base(f))
	}
	b.WriteString("\\.\n\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if d.during != nil {
		d.during()
	}
	if d.hold != nil {
		if err := d.hold(ctx); err != nil {
			return err
		}
	}
	if d.err != nil {
		return d.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.incomplete {
		return nil
	}
	_, err := io.WriteString(w, "ALTER TABLE ONLY public.directus_files\n    ADD CONSTRAINT directus_files_pkey PRIMARY KEY (id);\n\n"+
		"--\n-- PostgreSQL database dump complete\n--\n\n")
	return err
}

// site is a Directus server's folders, in a temporary folder.
type site struct {
	t        *testing.T
	root     string
	uploads  string
	backups  string
	env      map[string]string
	ctx      context.Context // of the runs; nil: never cancelled
	progress *job.Progress   // of the runs; may be nil
}

func newSite(t *testing.T) *site {
	t.Helper()
	root := t.TempDir()
	s := &site{t: t, root: root, uploads: filepath.Join(root, "uploads"), backups: filepath.Join(root, "backups")}
	for rel, data := range map[string]string{"a.jpg": "picture a", "2026/b.png": "picture b"} {
		p := filepath.Join(s.uploads, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.env = map[string]string{
		"BACKUPS_DIR": s.backups, "BACKUP_UPLOADS_DIR": s.uploads,
		"DB_DATABASE": "directus", "DB_USER": "directus", "DB_PASSWORD": password,
		"BACKUP_DB_METHOD": "local", "BACKUP_VERIFY": "1",
		"BACKUP_RETENTION_DAYS": "0", "BACKUP_RETENTION_COUNT": "0",
	}
	return s
}

// config loads the settings as the CLI does, from the environment, for a
// backup taken at ts.
func (s *site) config(ts time.Time) *config.Config {
	s.t.Helper()
	env := map[string]string{"BACKUP_TIMESTAMP": strconv.FormatInt(ts.Unix(), 10)}
	for k, v := range s.env {
		env[k] = v
	}
	cfg, err := config.Load(config.Sources{
		Env:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		WorkDir: s.root,
	}, time.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

// result is one run: its report, error and log.
type result struct {
	rep *job.Report
	err error
	log string
}

func (s *site) run(ts time.Time, d pgdump.Source) result {
	s.t.Helper()
	var mu sync.Mutex
	var log bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(p) })
	deps := job.Deps{
		Log:      slog.New(slog.NewTextHandler(w, nil)),
		Version:  "test",
		JobLog:   func() []byte { mu.Lock(); defer mu.Unlock(); return bytes.Clone(log.Bytes()) },
		Environ:  []string{"DB_PASSWORD=" + password, "PGPASSWORD=" + password, "PATH=/usr/bin"},
		Dumper:   d,
		Progress: s.progress,
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rep, err := job.Run(ctx, s.config(ts), deps)
	return result{rep: rep, err: err, log: log.String()}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// names lists BACKUPS_DIR.
func (s *site) names() []string {
	ents, err := os.ReadDir(s.backups)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (s *site) latest() string {
	target, _ := repo.Latest(s.backups)
	return target
}

// errorDirs are the error folders written so far.
func (s *site) errorDirs() []string {
	ents, _ := os.ReadDir(filepath.Join(s.backups, "error_logs"))
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(s.backups, "error_logs", e.Name()))
	}
	return out
}

// noTemp fails when a temporary (or retired) folder is left in BACKUPS_DIR.
func (s *site) noTemp() {
	s.t.Helper()
	for _, n := range s.names() {
		if strings.HasPrefix(n, repo.TempPrefix) || strings.HasPrefix(n, repo.DeletingPrefix) {
			s.t.Errorf("left in BACKUPS_DIR: %s", n)
		}
	}
}

var hour = time.Now().Add(-6 * time.Hour).Truncate(time.Hour)

func at(n int) time.Time { return hour.Add(time.Duration(n) * time.Hour) }

func good() *sqlDumper { return &sqlDumper{files: []string{"a.jpg", "2026/b.png"}} }

func TestRunMakesAVerifiedBackupWithAStandInDump(t *testing.T) {
	s := newSite(t)
	r := s.run(at(0), good())
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.log)
	}
	if s.latest() != r.rep.Name {
		t.Errorf("backup_latest is %q, want %q", s.latest(), r.rep.Name)
	}
	s.noTemp()
	b, err := repo.Get(s.backups, r.rep.Name)
	if err != nil || b.State != repo.Complete {
		t.Fatalf("new backup: %+v %v", b, err)
	}
	// The dump went through the real compressor into the backup file.
	data, err := os.ReadFile(filepath.Join(b.Path, repo.DumpGzip))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(plain, []byte("0b0e6a0e-0000-4000-8000-000000000002\tlocal\t2026/b.png")) {
		t.Errorf("dump content: %v %q", err, plain)
	}
	if b.Manifest.Database.TableRows["public.directus_files"] != 2 || b.Manifest.Uploads.Files != 2 {
		t.Errorf("manifest: rows %v, files %d", b.Manifest.Database.TableRows, b.Manifest.Uploads.Files)
	}
	if got, _ := os.ReadFile(filepath.Join(b.Path, repo.BackupUploadsName, "2026", "b.png")); string(got) != "picture b" {
		t.Errorf("uploads copy: %q", got)
	}
	if len(s.errorDirs()) != 0 {
		t.Errorf("error folders after a good run: %v", s.errorDirs())
	}
}

// Each step's failure ends the run with its step, its exit code and an
// error folder, and leaves no temporary folder; the previous backup and
// backup_latest stay as they were.
func TestRunFailuresMapToTheirStep(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *site, d *sqlDumper)
		step  string
		code  int
		want  string // in the error
	}{
		{"uploads folder missing", func(s *site, d *sqlDumper) {
			s.env["BACKUP_UPLOADS_DIR"] = filepath.Join(s.root, "nowhere")
		}, job.StepInit, exitcode.Init, "BACKUP_UPLOADS_DIR"},
		{"pg_dump fails", func(s *site, d *sqlDumper) {
			d.err = errors.New(`pg_dump failed (exit status 1): connection to server failed: FATAL: password authentication failed for user "directus"`)
		}, job.StepDatabase, exitcode.Database, "password authentication failed"},
		{"dump without completion line", func(s *site, d *sqlDumper) {
			d.incomplete = true
		}, job.StepDatabase, exitcode.Database, pgdump.ErrIncomplete.Error()},
		// Before the dump's first byte, so before the uploads copy starts.
		{"uploads folder vanishes as the dump starts", func(s *site, d *sqlDumper) {
			d.before = func() {
				if err := os.Rename(s.uploads, s.uploads+".moved"); err != nil {
					t.Fatal(err)
				}
			}
		}, job.StepUploads, exitcode.Uploads, "uploads"},
		{"final name taken during the run", func(s *site, d *sqlDumper) {
			d.during = func() {
				planted := filepath.Join(s.backups, repo.BackupName(s.config(at(1)).FormattedDate, at(1).Unix()), "mine")
				if err := os.MkdirAll(planted, 0o700); err != nil {
					t.Fatal(err)
				}
			}
		}, job.StepFinalize, exitcode.Finalize, "rename"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSite(t)
			s.t = t
			first := s.run(at(0), good())
			if first.err != nil {
				t.Fatalf("first run: %v", first.err)
			}
			d := good()
			c.setup(s, d)
			r := s.run(at(1), d)
			var se *job.StepError
			if !errors.As(r.err, &se) {
				t.Fatalf("error %v (%T), want a *job.StepError\n%s", r.err, r.err, r.log)
			}
			if se.Step != c.step || exitcode.Of(r.err) != c.code || !strings.Contains(r.err.Error(), c.want) {
				t.Errorf("step %s, exit code %d, error %q; want step %s, code %d, error with %q",
					se.Step, exitcode.Of(r.err), r.err, c.step, c.code, c.want)
			}
			s.noTemp()
			if s.latest() != first.rep.Name {
				t.Errorf("backup_latest is %q, want the earlier %q", s.latest(), first.rep.Name)
			}
			if b, err := repo.Get(s.backups, first.rep.Name); err != nil || b.State != repo.Complete {
				t.Errorf("earlier backup: %+v %v", b, err)
			}
			if bs, _ := repo.List(s.backups); c.step != job.StepFinalize && len(bs) != 1 {
				t.Errorf("backups after the failed run: %v", s.names())
			}
			checkErrorDir(t, s, se, c.step)
		})
	}
}

// checkErrorDir checks the error folder of a failed run: what failed, the
// job's log, the environment with secrets redacted, what the temporary
// folder held.
func checkErrorDir(t *testing.T, s *site, se *job.StepError, step string) {
	t.Helper()
	dirs := s.errorDirs()
	if len(dirs) != 1 || se.ErrorDir != dirs[0] {
		t.Fatalf("error folders %v, StepError names %q", dirs, se.ErrorDir)
	}
	read := func(n string) string {
		data, err := os.ReadFile(filepath.Join(se.ErrorDir, n))
		if err != nil {
			t.Error(err)
		}
		if strings.Contains(string(data), password) {
			t.Errorf("%s holds the password", n)
		}
		return string(data)
	}
	if e := read("error.txt"); !strings.Contains(e, "step: "+step+"\n") || !strings.Contains(e, "error: ") {
		t.Errorf("error.txt: %q", e)
	}
	read("error.json") // the password check
	runs, err := repo.FailedRuns(filepath.Dir(se.ErrorDir))
	if err != nil || len(runs) != 1 {
		t.Fatalf("failed runs: %+v %v", runs, err)
	}
	if fr := runs[0]; fr.Step != step || fr.ExitCode != exitcode.Of(se) || fr.Job == "" || fr.Error == "" || fr.Path != se.ErrorDir {
		t.Errorf("error.json read back as %+v; want step %s, exit code %d", fr, step, exitcode.Of(se))
	}
	if l := read("job.log"); !strings.Contains(l, step+" step failed") {
		t.Errorf("job.log does not say the step failed: %q", l)
	}
	if env := read("environment.txt"); !strings.Contains(env, "DB_PASSWORD=") || !strings.Contains(env, "PATH=/usr/bin") {
		t.Errorf("environment.txt: %q", env)
	}
	_, err = os.Stat(filepath.Join(se.ErrorDir, "temp_contents.txt"))
	switch step {
	case job.StepInit:
		if err == nil {
			t.Error("temp_contents.txt for a run that made no temporary folder")
		}
	case job.StepDatabase:
		// The partial dump file was removed by the dump itself.
		if c := read("temp_contents.txt"); !strings.HasPrefix(c, ".\t0\n") {
			t.Errorf("temp_contents.txt: %q", c)
		}
	case job.StepUploads:
		// The dump runs beside the copy: it may have finished (and be
		// listed) or been stopped (and removed).
		if c := read("temp_contents.txt"); !strings.HasPrefix(c, ".\t") {
			t.Errorf("temp_contents.txt: %q", c)
		}
	}
}

// A run refused because another holds the lock writes no error folder and
// touches nothing.
func TestRunRefusedByTheLock(t *testing.T) {
	s := newSite(t)
	if err := os.MkdirAll(s.backups, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := repo.Acquire(s.backups, "the other run")
	if err != nil {
		t.Fatal(err)
	}
	r := s.run(at(0), good())
	lock.Release()
	var se *job.StepError
	if !errors.As(r.err, &se) || se.Step != job.StepInit || !errors.Is(r.err, repo.ErrLocked) || exitcode.Of(r.err) != exitcode.Locked {
		t.Fatalf("error %v, exit code %d", r.err, exitcode.Of(r.err))
	}
	if se.ErrorDir != "" || len(s.errorDirs()) != 0 {
		t.Errorf("error folder for a refused run: %q %v", se.ErrorDir, s.errorDirs())
	}
	s.noTemp()
}

// A backup that fails verification is kept for inspection, never
// published: backup_latest stays on the previous one, and retention does
// not run on top of it.
func TestFailedVerifyIsKeptButNotPublished(t *testing.T) {
	s := newSite(t)
	first := s.run(at(0), good())
	if first.err != nil {
		t.Fatal(first.err)
	}
	d := good()
	d.files = append(d.files, "../outside.jpg") // a file record pointing outside the uploads folder
	r := s.run(at(1), d)
	var se *job.StepError
	if !errors.As(r.err, &se) || se.Step != job.StepVerify || exitcode.Of(r.err) != exitcode.Problems {
		t.Fatalf("error %v, exit code %d\n%s", r.err, exitcode.Of(r.err), r.log)
	}
	b, err := repo.Get(s.backups, r.rep.Name)
	if err != nil || b.State != repo.Complete {
		t.Fatalf("the failed backup was not kept: %+v %v", b, err)
	}
	if s.latest() != first.rep.Name {
		t.Errorf("backup_latest is %q, want %q", s.latest(), first.rep.Name)
	}
	if !strings.Contains(r.log, "outside.jpg") {
		t.Errorf("the log does not name the problem:\n%s", r.log)
	}
	checkErrorDir(t, s, se, job.StepVerify)
	s.noTemp()
}

// A file record whose file the instance lacks is reported and recorded,
// not fatal: the backup is complete, verified (BACKUP_VERIFY) and
// published, as the backup holds all the instance had.
func TestMissingFileIsReportedNotFatal(t *testing.T) {
	s := newSite(t)
	d := good()
	d.files = append(d.files, "gone.jpg")
	r := s.run(at(0), d)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.log)
	}
	if s.latest() != r.rep.Name {
		t.Errorf("backup_latest is %q, want %q", s.latest(), r.rep.Name)
	}
	ft := r.rep.FileTable
	if ft == nil || len(ft.Locations) != 1 || len(ft.Locations[0].Missing) != 1 || ft.Locations[0].Missing[0] != "gone.jpg" {
		t.Fatalf("report file table %+v", ft)
	}
	if !strings.Contains(r.log, `level=WARN msg="Directus storage location \"local\": 1 directus_files row whose file is missing: \"gone.jpg\""`) {
		t.Errorf("no WARN line for the missing file:\n%s", r.log)
	}
	b, err := repo.Get(s.backups, r.rep.Name)
	if err != nil || b.Manifest == nil || b.Manifest.FileTable == nil || b.Manifest.FileTable.Locations[0].Missing != 1 {
		t.Fatalf("manifest file table: %+v %v", b, err)
	}
}

// Retention keeps the newest backup and the one backup_latest points at,
// whatever the policy says.
func TestCleanupKeepsTheNewestAndLatest(t *testing.T) {
	s := newSite(t)
	s.env["BACKUP_RETENTION_COUNT"] = "1"
	var names []string
	for i := range 3 {
		r := s.run(at(i), good())
		if r.err != nil {
			t.Fatalf("run %d: %v", i, r.err)
		}
		names = append(names, r.rep.Name)
		// Count 1: only the new backup stays.
		if bs, _ := repo.List(s.backups); len(bs) != 1 || bs[0].Name != r.rep.Name {
			t.Errorf("after run %d: %v", i, s.names())
		}
		if i > 0 && !contains(r.rep.Cleanup.Expired, names[i-1]) {
			t.Errorf("run %d expired %v, want %s", i, r.rep.Cleanup.Expired, names[i-1])
		}
	}
	s.noTemp()

	// A newer backup that failed verification: the newest is kept, and so
	// is backup_latest's, though count 1 would keep only one.
	d := good()
	d.files = append(d.files, "../outside.jpg")
	failed := s.run(at(3), d)
	if exitcode.Of(failed.err) != exitcode.Problems {
		t.Fatalf("verify failure: %v", failed.err)
	}
	cfg := s.config(at(4))
	res, err := job.Prune(context.Background(), cfg, job.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Expired) != 0 || !contains(res.Kept, names[2]) || !contains(res.Kept, failed.rep.Name) {
		t.Errorf("prune: kept %v, expired %v; want %s and %s kept", res.Kept, res.Expired, names[2], failed.rep.Name)
	}
	if s.latest() != names[2] {
		t.Errorf("backup_latest is %q", s.latest())
	}
	if _, err := os.Stat(filepath.Join(s.backups, names[2], manifest.FileName)); err != nil {
		t.Errorf("latest's backup: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A cleanup failure keeps its own code whatever its cause: the new
// backup is complete. Every other step's code gives way to the code its
// cause carries (a lock, a verify that could not check).
func TestStepErrorExitCodes(t *testing.T) {
	locked := fmt.Errorf("%w (held by pid 1)", repo.ErrLocked)
	for _, c := range []struct {
		err  *job.StepError
		want int
	}{
		{&job.StepError{Step: job.StepInit, Err: errors.New("x")}, exitcode.Init},
		{&job.StepError{Step: job.StepInit, Err: locked}, exitcode.Locked},
		{&job.StepError{Step: job.StepDatabase, Err: errors.New("x")}, exitcode.Database},
		{&job.StepError{Step: job.StepUploads, Err: errors.New("x")}, exitcode.Uploads},
		{&job.StepError{Step: job.StepFinalize, Err: errors.New("x")}, exitcode.Finalize},
		{&job.StepError{Step: job.StepLatest, Err: errors.New("x")}, exitcode.Finalize},
		{&job.StepError{Step: job.StepVerify, Err: errors.New("x")}, exitcode.Problems},
		{&job.StepError{Step: job.StepVerify, Err: fmt.Errorf("%w: no scratch database", job.ErrVerifyUnchecked)}, exitcode.NoCheck},
		{&job.StepError{Step: job.StepCleanup, Err: locked}, exitcode.Cleanup},
		{&job.StepError{Step: job.StepCleanup, Err: context.Canceled}, exitcode.Cleanup},
		{&job.StepError{Step: job.StepDatabase, Err: context.Canceled}, exitcode.Interrupted},
	} {
		if got := exitcode.Of(c.err); got != c.want {
			t.Errorf("%s: %v: exit code %d, want %d", c.err.Step, c.err.Err, got, c.want)
		}
	}
}

// The run applies doctor's pre-flight checks: a .env file holding the
// password that others can read is logged (at INFO, so that a quiet cron
// run stays quiet; doctor warns), with the fix, and the run goes on.
func TestRunWarnsAboutAReadableEnvFile(t *testing.T) {
	s := newSite(t)
	envFile := filepath.Join(s.root, ".env")
	if err := os.WriteFile(envFile, []byte("DB_PASSWORD="+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(envFile, 0o644)
	r := s.run(at(0), good())
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.log, "level=INFO msg=\""+envFile+" holds DB_PASSWORD") || !strings.Contains(r.log, "chmod 600 "+envFile) ||
		strings.Contains(r.log, "level=WARN") {
		t.Errorf("the readable .env file is not logged at INFO with its fix (or something warned):\n%s", r.log)
	}
}
