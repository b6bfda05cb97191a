package job_test

// The database and uploads steps run side by side: the copy starts with
// the dump's first bytes, and the first of the two to fail stops the other.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// waitLong bounds every wait for the other step: far more than it needs,
// short enough that the steps run one after the other fail in reasonable
// time.
const waitLong = 10 * time.Second

// waitFor polls cond until it holds or ctx ends or waitLong passes.
func waitFor(ctx context.Context, cond func() bool) bool {
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// manyUploads adds n small files to the uploads folder, so that copying
// them lasts well beyond the moment the other step reacts.
func manyUploads(t *testing.T, s *site, n int) {
	t.Helper()
	dir := filepath.Join(s.uploads, "many")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.bin", i)), []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func stepNames(steps []manifest.Step) []string {
	var out []string
	for _, st := range steps {
		out = append(out, st.Name)
	}
	return out
}

// The uploads copy runs while the dump is still running, and the progress
// display shows both.
func TestUploadsCopyStartsWhileTheDumpRuns(t *testing.T) {
	s := newSite(t)
	manyUploads(t, s, 200)
	s.progress = &job.Progress{}
	d := good()
	var shown string
	d.hold = func(ctx context.Context) error {
		if !waitFor(ctx, func() bool { return s.progress.Files.Load() > 0 }) {
			t.Error("the uploads copy did not start while the dump was running")
			return errors.New("the uploads copy did not start")
		}
		shown, _ = s.progress.Step.Load().(string)
		return nil
	}
	r := s.run(at(0), d)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.log)
	}
	if shown != job.StepDatabase+"+"+job.StepUploads {
		t.Errorf("progress step while both ran: %q", shown)
	}
	if got := stepNames(r.rep.Steps); strings.Join(got, ",") != "init,database,uploads,finalize,verify,latest,cleanup" {
		t.Errorf("steps %v", got)
	}
	if r.rep.Uploads.Files != 202 || r.rep.Dump.TableRows["public.directus_files"] != 2 {
		t.Errorf("uploads files %d, dump rows %v", r.rep.Uploads.Files, r.rep.Dump.TableRows)
	}
	s.noTemp()
}

// A dump that fails after its first bytes stops the uploads copy, and the
// error names the database step.
func TestDumpFailureStopsTheUploadsCopy(t *testing.T) {
	s := newSite(t)
	const n = 500
	manyUploads(t, s, n)
	s.progress = &job.Progress{}
	d := good()
	d.hold = func(ctx context.Context) error {
		if !waitFor(ctx, func() bool { return s.progress.Files.Load() > 0 }) {
			t.Error("the uploads copy did not start while the dump was running")
		}
		return errors.New("pg_dump failed (exit status 1): server closed the connection unexpectedly")
	}
	r := s.run(at(0), d)
	var se *job.StepError
	if !errors.As(r.err, &se) || se.Step != job.StepDatabase || exitcode.Of(r.err) != exitcode.Database ||
		!strings.Contains(r.err.Error(), "server closed the connection") {
		t.Fatalf("error %v, exit code %d; want the database step's\n%s", r.err, exitcode.Of(r.err), r.log)
	}
	if files := s.progress.Files.Load(); files >= n {
		t.Errorf("the uploads copy went on to the end (%d files) after the dump failed", files)
	}
	if !strings.Contains(r.log, "uploads step stopped: the database step failed") || strings.Contains(r.log, "uploads copied") {
		t.Errorf("the log does not say the uploads copy was stopped:\n%s", r.log)
	}
	if got := stepNames(r.rep.Steps); strings.Join(got, ",") != "init,database,uploads" {
		t.Errorf("steps %v", got)
	}
	checkErrorDir(t, s, se, job.StepDatabase)
	s.noTemp()
}

// An uploads copy that fails stops a dump still running (pg_dump is
// killed through the context), and the error names the uploads step.
func TestUploadsFailureStopsTheDump(t *testing.T) {
	s := newSite(t)
	d := good()
	d.before = func() {
		// Gone after init checked it, so the copy fails as it starts.
		if err := os.Rename(s.uploads, s.uploads+".moved"); err != nil {
			t.Fatal(err)
		}
	}
	stopped := false
	d.hold = func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			stopped = true
			return fmt.Errorf("pg_dump stopped: %w", ctx.Err())
		case <-time.After(waitLong):
			return errors.New("the dump was not stopped")
		}
	}
	r := s.run(at(0), d)
	if !stopped {
		t.Error("the dump's context was not cancelled when the uploads copy failed")
	}
	var se *job.StepError
	if !errors.As(r.err, &se) || se.Step != job.StepUploads || exitcode.Of(r.err) != exitcode.Uploads ||
		!strings.Contains(r.err.Error(), s.uploads) {
		t.Fatalf("error %v, exit code %d; want the uploads step's\n%s", r.err, exitcode.Of(r.err), r.log)
	}
	if !strings.Contains(r.log, "database step stopped: the uploads step failed") || strings.Contains(r.log, "backup interrupted") {
		t.Errorf("the log does not say the dump was stopped, or calls it an interruption:\n%s", r.log)
	}
	checkErrorDir(t, s, se, job.StepUploads)
	s.noTemp()
}

// A dump that fails before its first byte never starts the uploads copy:
// without the dump's snapshot there is nothing the copy must match.
// (Steps run one after the other pass this too; it guards the overlap.)
func TestDumpFailingBeforeItsFirstByteCopiesNoUploads(t *testing.T) {
	s := newSite(t)
	s.progress = &job.Progress{}
	d := good()
	// Long enough for a copy started too early to show in the log.
	d.before = func() { time.Sleep(200 * time.Millisecond) }
	d.early = errors.New(`pg_dump failed (exit status 1): connection to server failed: FATAL: database "directus" does not exist`)
	r := s.run(at(0), d)
	var se *job.StepError
	if !errors.As(r.err, &se) || se.Step != job.StepDatabase || exitcode.Of(r.err) != exitcode.Database {
		t.Fatalf("error %v, exit code %d; want the database step's\n%s", r.err, exitcode.Of(r.err), r.log)
	}
	if s.progress.Files.Load() != 0 || strings.Contains(r.log, "copy of the uploads") || strings.Contains(r.log, "uploads step") {
		t.Errorf("the uploads copy started (%d files):\n%s", s.progress.Files.Load(), r.log)
	}
	if got := stepNames(r.rep.Steps); strings.Join(got, ",") != "init,database" {
		t.Errorf("steps %v", got)
	}
	checkErrorDir(t, s, se, job.StepDatabase)
	s.noTemp()
}

// A signal while both run is an interruption, as before: exit code 130,
// nothing said about one step stopping the other.
func TestInterruptWhileBothRun(t *testing.T) {
	s := newSite(t)
	manyUploads(t, s, 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.ctx, s.progress = ctx, &job.Progress{}
	d := good()
	d.hold = func(ctx context.Context) error {
		if !waitFor(ctx, func() bool { return s.progress.Files.Load() > 0 }) {
			t.Error("the uploads copy did not start while the dump was running")
		}
		cancel() // SIGINT
		return fmt.Errorf("pg_dump stopped: %w", ctx.Err())
	}
	r := s.run(at(0), d)
	var se *job.StepError
	if !errors.As(r.err, &se) || exitcode.Of(r.err) != exitcode.Interrupted || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("error %v, exit code %d\n%s", r.err, exitcode.Of(r.err), r.log)
	}
	if !strings.Contains(r.log, "backup interrupted") || strings.Contains(r.log, "step stopped") {
		t.Errorf("log:\n%s", r.log)
	}
	s.noTemp()
}
