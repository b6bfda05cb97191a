package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/snapshot"
)

// Step names, as they appear in logs, error folders and StepError.
const (
	StepInit     = "init"
	StepDatabase = "database"
	StepUploads  = "uploads"
	StepFinalize = "finalize"
	StepVerify   = "verify"
	StepLatest   = "latest" // switching backup_latest
	StepCleanup  = "cleanup"
	StepOffsite  = "offsite" // pushing the new backup to the bucket
)

// StepError is the error of a failed run: which step, and why. It has
// already been logged and recorded in the error folder when Run returns it.
type StepError struct {
	Step     string
	Err      error
	ErrorDir string // the error folder written for it, "" if none could be
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Progress holds counters a progress display can read while the run goes.
type Progress struct {
	Step       atomic.Value // string
	DumpBytes  atomic.Int64 // raw bytes read from pg_dump
	Files      atomic.Int64 // upload files done
	FilesBytes atomic.Int64
}

// Deps are what a run needs from its caller.
type Deps struct {
	Log      *slog.Logger
	Version  string
	Progress *Progress // may be nil
	// JobLog returns the text log of this run so far, for the error folder.
	JobLog func() []byte
	// Environ is the merged environment (real and .env), for the error
	// folder; secrets are redacted before it is written.
	Environ []string
	Now     func() time.Time
	// Dumper makes the database dump; nil runs pg_dump as cfg says (and
	// then pg_dump, or docker, must be on PATH).
	Dumper pgdump.Source
	// RetentionDryRun: the cleanup step removes nothing and only reports
	// what it would remove and why (backup --retention-dry-run).
	RetentionDryRun bool
}

// Report is what a run did.
type Report struct {
	JobID    string
	Name     string // backup folder name
	Path     string
	Method   string
	Previous string // backup the uploads were linked against
	Started  time.Time
	Finished time.Time
	Dump     pgdump.Result
	Uploads  snapshot.Result
	Steps    []manifest.Step
	Cleanup  CleanupResult
	// Offsite is the push to the bucket; nil when no bucket is set or the
	// push did not start.
	Offsite *offsite.PushReport

	// DefaultLocation is the storage location in uploads/ ("" = none);
	// Locations the others copied, Extensions the extensions folder (nil
	// when there was none); FilesOff a database-only backup.
	DefaultLocation string
	Locations       []AreaReport
	Extensions      *AreaReport
	FilesOff        bool
}

// AreaReport is what the run copied of one storage location besides
// uploads/, or of the extensions folder.
type AreaReport struct {
	Name, Driver string
	Folder       string // inside the backup
	Source       string // the live folder
	Previous     string // backup the unchanged files are linked to
	Result       snapshot.Result
}

// run is the state of one backup job.
type run struct {
	cfg  *config.Config
	deps Deps
	log  *slog.Logger
	rep  *Report
	lock *repo.Lock
	temp string // absolute path of temp_<job>, for messages and the final rename
	// tempDir is temp_<job>, open since it was made; inside is the path
	// that reaches it through that descriptor (tempdir.go).
	tempDir   *os.File
	inside    string
	backups   []repo.Backup // BACKUPS_DIR's backups as init found them (under the lock)
	prev      repo.Backup
	hasPrev   bool
	method    string
	binDir    string       // the client programs' folder, matched to the server ("" = PATH)
	stderr    *capbuf.Head // pg_dump's stderr
	listSHA   string
	listCount int64
	run       int64 // the uploads run number (manifest uploads.run)
	// written are the files and folders the uploads step created, relative
	// to temp, for finalize's fsync; writtenAll is false when there were
	// too many to list (then finalize syncs the filesystem).
	written    []string
	writtenAll bool
	// chunksSHA is the SHA-256 of the dump's chunk list; chunksPrev the
	// backup whose dump members were reused.
	chunksSHA  string
	chunksPrev string
	// extra are the areas copied besides uploads/ (other storage
	// locations, extensions); lists the entry lists written, for
	// finalize's fsync.
	extra []areaResult
	lists []string
	// dumpData is called as the dump's raw bytes arrive (dumpAndCopy
	// starts the uploads copy with it); nil when nothing waits for them.
	dumpData func()
}

// Run makes one backup as cfg says.
func Run(ctx context.Context, cfg *config.Config, deps Deps) (*Report, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Progress == nil {
		deps.Progress = &Progress{}
	}
	jobID := "job-" + uuid.NewString()
	r := &run{
		cfg:    cfg,
		deps:   deps,
		log:    deps.Log.With("job", jobID),
		rep:    &Report{JobID: jobID, Started: deps.Now()},
		stderr: &capbuf.Head{Max: 1 << 20},
	}
	defer r.release()

	steps := []struct {
		name string
		fn   func(context.Context) error
		// timed: the step records its own timings (dumpAndCopy runs the
		// database and uploads steps side by side, overlap.go).
		timed bool
	}{
		{StepInit, r.init, false},
		{StepDatabase, r.dumpAndCopy, true},
		{StepFinalize, r.finalize, false},
		{StepVerify, r.verifyBackup, false},
		{StepLatest, r.publish, false},
	}
	for _, s := range steps {
		deps.Progress.Step.Store(s.name)
		start := time.Now()
		// A signal between steps stops the run before the next one starts;
		// once finalize has succeeded the backup stands, whatever comes
		// (fail removes only an unfinalized temporary folder).
		err := ctx.Err()
		ran := err == nil
		if ran {
			err = s.fn(ctx)
		}
		if !ran || !s.timed {
			r.rep.Steps = append(r.rep.Steps, manifest.Step{Name: s.name, Seconds: time.Since(start).Seconds()})
		}
		step := s.name
		var pf *partFailed
		if errors.As(err, &pf) {
			step, err = pf.step, pf.err // the one of the two that failed first
		}
		if err != nil {
			return r.rep, r.fail(step, err)
		}
	}

	// The backup is complete and safe from here on; a cleanup problem is
	// reported but never touches the new backup.
	deps.Progress.Step.Store(StepCleanup)
	start := time.Now()
	res, err := cleanup(ctx, cfg, r.log, deps.Now(), r.rep.Name, deps.RetentionDryRun)
	r.rep.Cleanup = res
	r.rep.Steps = append(r.rep.Steps, manifest.Step{Name: StepCleanup, Seconds: time.Since(start).Seconds()})
	var cleanupErr error
	if err != nil {
		r.log.Error("cleanup failed; the new backup is complete", "backup", r.rep.Path, "err", err)
		cleanupErr = &StepError{Step: StepCleanup, Err: err, ErrorDir: r.writeErrorDir(StepCleanup, err)}
	}
	// The push may take long: the next backup must not wait for it. The
	// backups it reads are held by the readers lock (push takes it).
	r.release()
	offsiteErr := r.pushOffsite(ctx)
	r.rep.Finished = deps.Now()
	if cleanupErr != nil {
		return r.rep, cleanupErr
	}
	return r.rep, offsiteErr
}

// release closes the temporary folder and lets go of the run lock. The
// deleting of retired folders is done after the lock is released, so a
// large removal never holds up the next run.
func (r *run) release() {
	if r.tempDir != nil {
		r.tempDir.Close()
		r.tempDir = nil
	}
	if r.lock != nil {
		r.lock.Release()
		r.lock = nil
		if !r.deps.RetentionDryRun {
			purge(r.cfg.BackupsDir, r.log)
		}
	}
}

// pushOffsite copies the new backup, and any the bucket lacks, to the
// bucket. A failure leaves the local backup as it is: the next run pushes
// what is missing.
func (r *run) pushOffsite(ctx context.Context) error {
	if !r.cfg.Offsite.Enabled() || ctx.Err() != nil {
		return nil
	}
	r.deps.Progress.Step.Store(StepOffsite)
	start := time.Now()
	defer func() {
		r.rep.Steps = append(r.rep.Steps, manifest.Step{Name: StepOffsite, Seconds: time.Since(start).Seconds()})
	}()
	remote, err := offsite.New(r.cfg.Offsite, r.deps.Version, r.log, false)
	if err == nil {
		var rep offsite.PushReport
		rep, err = remote.Push(ctx, offsite.PushRequest{BackupsDir: r.cfg.BackupsDir, All: true})
		r.rep.Offsite = &rep
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		r.log.Error("offsite push interrupted; the local backup is complete", "backup", r.rep.Path)
		return &StepError{Step: StepOffsite, Err: err}
	}
	r.log.Error(fmt.Sprintf("offsite push failed; the local backup is complete and the next run pushes what is missing: %v", err), "step", StepOffsite)
	return &StepError{Step: StepOffsite, Err: err, ErrorDir: r.writeErrorDir(StepOffsite, err)}
}

// Prune runs only the cleanup step: leftovers, retention and old error
// folders, under the same lock as a backup.
func Prune(ctx context.Context, cfg *config.Config, deps Deps) (CleanupResult, error) {
	return prune(ctx, cfg, deps, false)
}

// PruneDryRun says what Prune would remove, and why each backup it keeps
// is kept, without removing anything. It takes the lock too: only then
// are temp_ folders known to be leftovers of dead runs.
func PruneDryRun(ctx context.Context, cfg *config.Config, deps Deps) (CleanupResult, error) {
	return prune(ctx, cfg, deps, true)
}

func prune(ctx context.Context, cfg *config.Config, deps Deps, dry bool) (CleanupResult, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if fi, err := os.Stat(cfg.BackupsDir); err != nil || !fi.IsDir() {
		err := fmt.Errorf("backups folder (BACKUPS_DIR) %s does not exist", cfg.BackupsDir)
		deps.Log.Error(err.Error())
		return CleanupResult{}, &StepError{Step: StepInit, Err: err}
	}
	lock, err := repo.Acquire(cfg.BackupsDir, fmt.Sprintf("pid %d (prune)", os.Getpid()))
	if err != nil {
		deps.Log.Error("cannot prune", "err", err)
		return CleanupResult{}, &StepError{Step: StepInit, Err: err}
	}
	if err := lock.HolderErr(); err != nil {
		deps.Log.Warn("locked, but could not write who holds the lock", "err", err)
	}
	res, err := cleanup(ctx, cfg, deps.Log, deps.Now(), "", dry)
	lock.Release()
	if !dry {
		purge(cfg.BackupsDir, deps.Log)
	}
	if err != nil {
		deps.Log.Error("cleanup failed", "err", err)
		return res, &StepError{Step: StepCleanup, Err: err}
	}
	return res, nil
}

// isJoined reports whether err joins several errors (errors.Join).
func isJoined(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

// fail logs the error once, writes the error folder and removes the
// partial work. Earlier backups and backup_latest are never touched here.
func (r *run) fail(step string, err error) error {
	if errors.Is(err, context.Canceled) {
		r.log.Error("backup interrupted", "step", step)
	} else {
		r.log.Error(fmt.Sprintf("%s step failed: %v", step, err), "step", step)
	}
	r.rep.Finished = r.deps.Now()
	serr := &StepError{Step: step, Err: err}
	if errors.Is(err, repo.ErrLocked) {
		// Refused, not failed: the running job is fine, and overlapping
		// cron runs should not pile up error folders.
		return serr
	}
	serr.ErrorDir = r.writeErrorDir(step, err)
	if r.temp != "" {
		if rmErr := repo.Retire(r.cfg.BackupsDir, filepath.Base(r.temp)); rmErr != nil {
			r.log.Warn("could not set aside the temporary folder; the next run will", "path", r.temp, "err", rmErr)
		}
	}
	return serr
}

// target is the database the run dumps, with the client programs init
// picked for it.
func (r *run) target() pgexec.Target {
	t := dbtarget.Target(r.cfg, r.method)
	t.BinDir = r.binDir
	return t
}

func (r *run) backupPath(name string) string { return repo.BackupPath(r.cfg.BackupsDir, name) }

// purge deletes the retired folders (deleting_*) without the run lock.
// Failures are only logged: what is left is retried by the next run.
func purge(dir string, log *slog.Logger) {
	start := time.Now()
	removed, err := repo.Purge(dir)
	for _, n := range removed {
		log.Info("deleted", "path", repo.BackupPath(dir, n))
	}
	if len(removed) > 0 {
		log.Info("retired folders deleted", "count", len(removed), "seconds", time.Since(start).Seconds())
	}
	switch {
	case errors.Is(err, repo.ErrReaders) && !isJoined(err):
		// A verify or list is reading: it must not see backups vanish.
		log.Info("retired folders left for the next run: backups are being read (verify, list, restore)", "detail", err.Error())
	case err != nil:
		log.Warn("could not delete every retired folder; the next run tries again", "err", err)
	}
}
