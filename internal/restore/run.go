package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/s3files"
)

// Request is one restore: which backup, and what to restore where.
type Request struct {
	BackupsDir string
	Backup     string // a backup folder name or path; "" or "latest": backup_latest's, else the newest usable

	DB     bool          // restore the database
	Target pgexec.Target // DB: where to restore into (Target.Database)
	Owner  string        // DB: owner of a created database (DB_USER)
	Create bool          // DB: create a missing target database
	Yes    bool          // DB: restore over a database that has tables without asking
	// Confirm, when not nil, is asked before restoring over a database that
	// has tables without Yes (a "yes" typed at a terminal).
	Confirm func(question string) bool

	Uploads    bool   // restore the uploads folder
	UploadsDir string // Uploads: the live folder to restore into (absolute)
	Delete     bool   // Uploads: remove items that are not in the backup
	Checksum   bool   // Uploads: keep a live file only if its SHA-256 matches

	// Storage locations and extensions (areas.go). AllFiles restores every
	// files folder the backup holds (uploads/ and the other locations; not
	// the extensions); Locations names locations to restore (the default
	// one's name means uploads/), with their live folders in LocationDirs
	// (keyed by lower-case name); Extensions the extensions folder into
	// ExtensionsDir. TargetDir, when set, replaces the folder of the one
	// files folder restored (refused when there are more).
	AllFiles        bool
	DefaultLocation string // the name uploads/ stands for when the backup does not say
	Locations       []string
	LocationDirs    map[string]string
	Extensions      bool
	ExtensionsDir   string
	TargetDir       string
	// S3 locations (s3.go): the settings' s3 locations by lower-case name,
	// where an s3 location of the backup is restored (without TargetDir);
	// ToBucket and ToPrefix, when set, redirect the one restored.
	LocationBuckets    map[string]s3files.Location
	ToBucket, ToPrefix string

	Log *slog.Logger // progress and warnings; may be nil

	// LockWait is how long to wait for another run (a backup, a prune) to
	// release BackupsDir before failing with ErrLocked; 0 = fail at once.
	LockWait time.Duration

	// Offsite, when set, is the backup to restore, read from the bucket
	// instead of BackupsDir (Backup is then not used).
	Offsite *Offsite
}

// Offsite is a backup in the bucket, opened (offsite.Copy), as a restore
// reads it: streamed, never copied whole to this machine first.
type Offsite struct {
	Backup    string
	Manifest  *manifest.Manifest
	FilesList []byte // manifest.files.jsonl
	// Lists are the entry lists of the other files folders, by folder in
	// the backup (storage/<name>, extensions); a folder the copy does not
	// hold is missing.
	Lists map[string][]byte
	// Dump returns the dump file's bytes; the reader fails when a piece is
	// damaged.
	Dump func(ctx context.Context) io.ReadCloser
	// OpenFile returns an uploads file's content by SHA-256; its last Read
	// fails when the content is not what was recorded.
	OpenFile func(ctx context.Context, sha256 string) (io.ReadCloser, error)
	Jobs     int    // parallel downloads; 0: 8
	Where    string // the bucket, for messages and the report
}

// Report is what a restore did; its JSON form is documented in
// docs/restore.md.
type Report struct {
	Backup   string         `json:"backup"`
	State    string         `json:"state"`
	Time     time.Time      `json:"time"`
	Offsite  bool           `json:"offsite,omitempty"` // restored from the bucket
	Where    string         `json:"where,omitempty"`   // the bucket (offsite)
	Database *DBReport      `json:"database,omitempty"`
	Uploads  *UploadsReport `json:"uploads,omitempty"`
	// Locations are the other storage locations restored, Extensions the
	// extensions folder; FilesOff says the backup is database-only.
	Locations  []LocationReport `json:"locations,omitempty"`
	Extensions *LocationReport  `json:"extensions,omitempty"`
	FilesOff   bool             `json:"files_off,omitempty"`
	Seconds    float64          `json:"seconds"`
}

// DBReport is the database part of a Report.
type DBReport struct {
	Database  string  `json:"database"`
	Method    string  `json:"method"`
	Created   bool    `json:"created"`
	HadTables int     `json:"had_tables"` // -1: not counted (--yes)
	HadOther  int     `json:"had_other"`
	RawBytes  int64   `json:"raw_bytes"`
	Tables    int     `json:"tables"`
	Seconds   float64 `json:"seconds"`
	// EmptyTables were backed up without their rows
	// (BACKUP_EXCLUDE_TABLE_DATA): restored with their definition, empty.
	EmptyTables []string `json:"empty_tables,omitempty"`
	// Migrations compares the backup's Directus migrations with those of
	// the database replaced; nil when not compared (an empty target).
	Migrations *MigrationCheck `json:"migrations,omitempty"`
}

// UploadsReport is the uploads part of a Report.
type UploadsReport struct {
	Target     string   `json:"target"`
	Files      int64    `json:"files"`
	Dirs       int64    `json:"dirs"`
	Symlinks   int64    `json:"symlinks"`
	Bytes      int64    `json:"bytes"`
	Linked     int64    `json:"linked"`
	Hashed     int64    `json:"hashed"` // of the linked files, those hashed and compared (--checksum)
	Copied     int64    `json:"copied"`
	Mismatched int64    `json:"mismatched"`
	Unchanged  bool     `json:"unchanged"`
	Kept       int64    `json:"kept"`
	Removed    int64    `json:"removed"`
	Verified   bool     `json:"verified"`
	Checksum   bool     `json:"checksum"` // --checksum was asked for
	Leftovers  []string `json:"leftovers"`
	Aside      []string `json:"aside"` // folders moved aside by an interrupted restore, kept
	Seconds    float64  `json:"seconds"`
}

// Run restores the database and/or the uploads folder from a backup,
// holding the run lock (no backup of a half-restored database, no prune
// meanwhile) and the readers lock (the backup being read is not deleted).
// A refusal carries exit code Refused, a failure Restore; the report holds
// what was done before a failure (a database restored before the uploads
// failed).
func Run(ctx context.Context, req Request) (Report, error) {
	start := time.Now()
	log := req.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rep Report
	if req.Offsite != nil {
		return runOffsite(ctx, req, start, log)
	}
	// Chosen first for a clear error when there is none; chosen again
	// under the lock below, as it may have been retired meanwhile.
	if _, err := repo.Pick(req.BackupsDir, req.Backup); err != nil {
		return rep, err
	}
	lock, err := repo.AcquireWait(ctx, req.BackupsDir, fmt.Sprintf("pid %d (restore)", os.Getpid()), req.LockWait, repo.LogWaiting(log, req.LockWait))
	if err != nil {
		return rep, err
	}
	defer lock.Release()
	if err := lock.HolderErr(); err != nil {
		log.Warn("locked, but could not write who holds the lock", "err", err)
	}
	rl, err := repo.ReadBackups(ctx, req.BackupsDir, log)
	if err != nil {
		return rep, err
	}
	defer rl.Release()
	b, err := repo.Pick(req.BackupsDir, req.Backup)
	if err != nil {
		return rep, err
	}
	if !b.Usable() {
		if b.Err != nil {
			return rep, fmt.Errorf("%w: %s is %s: %v", repo.ErrNoBackup, b.Name, b.State, b.Err)
		}
		return rep, fmt.Errorf("%w: %s is %s", repo.ErrNoBackup, b.Name, b.State)
	}
	rep.Backup, rep.State, rep.Time = b.Name, string(b.State), b.Time
	log.Info("restoring", "backup", b.Name, "state", b.State)
	return restoreFrom(ctx, req, b, rep, start, log)
}

// runOffsite restores from an offsite copy. The run lock is taken when
// BackupsDir exists (no backup of a half-restored database meanwhile); a
// fresh machine restoring from the bucket has none, and needs none.
func runOffsite(ctx context.Context, req Request, start time.Time, log *slog.Logger) (Report, error) {
	o := req.Offsite
	rep := Report{Backup: o.Backup, State: string(repo.Complete), Offsite: true, Where: o.Where}
	if o.Manifest == nil {
		return rep, fmt.Errorf("offsite backup %s: no manifest", o.Backup)
	}
	rep.Time, _ = repo.ParseName(o.Backup)
	if rep.Time.IsZero() && o.Manifest.Timestamp > 0 {
		rep.Time = time.Unix(o.Manifest.Timestamp, 0)
	}
	if fi, err := os.Stat(req.BackupsDir); req.BackupsDir != "" && err == nil && fi.IsDir() {
		lock, err := repo.AcquireWait(ctx, req.BackupsDir, fmt.Sprintf("pid %d (restore --offsite)", os.Getpid()), req.LockWait, repo.LogWaiting(log, req.LockWait))
		if err != nil {
			return rep, err
		}
		defer lock.Release()
		if err := lock.HolderErr(); err != nil {
			log.Warn("locked, but could not write who holds the lock", "err", err)
		}
	}
	b := repo.Backup{Name: o.Backup, Time: rep.Time, State: repo.Complete, Manifest: o.Manifest}
	log.Info("restoring from the bucket", "backup", b.Name, "where", o.Where)
	return restoreFrom(ctx, req, b, rep, start, log)
}

// restoreFrom restores the database and/or the uploads from the backup b,
// chosen (and locked) by the caller.
func restoreFrom(ctx context.Context, req Request, b repo.Backup, rep Report, start time.Time, log *slog.Logger) (Report, error) {
	done := func(err error) (Report, error) {
		rep.Seconds = time.Since(start).Seconds()
		return rep, err
	}
	off := req.Offsite
	if b.Manifest != nil && b.Manifest.Files == manifest.FilesOff {
		rep.FilesOff = true
	}
	// Worked out before anything is done: a selection the backup cannot
	// satisfy is refused with the database untouched.
	ts, err := targets(req, b)
	if err != nil {
		return done(err)
	}
	if off != nil {
		if err := offsiteTargets(off, ts); err != nil {
			return done(err)
		}
	}
	if req.DB {
		t := req.Target
		opts := DBOptions{Target: t, Dump: b.DumpFile(), Force: req.Yes, Create: req.Create, Owner: req.Owner, Confirm: req.Confirm,
			CheckMigrations: true}
		var empty []string
		if b.Manifest != nil {
			opts.SHA256 = b.Manifest.Database.SHA256
			opts.Migrations = b.Manifest.Database.Migrations
			empty = b.Manifest.Database.EmptyTables
		}
		if off != nil {
			opts.Dump = b.Manifest.Database.File
			opts.Open = func() (io.ReadCloser, error) { return off.Dump(ctx), nil }
		}
		log.Info("restoring the database", "database", t.Database, "method", t.Method, "dump", opts.Dump)
		res, err := DB(ctx, opts)
		switch {
		case errors.Is(err, ErrNotEmpty), errors.Is(err, ErrNoDatabase):
			return done(exitcode.With(exitcode.Refused, fmt.Errorf("database restore refused: %w", err)))
		case err != nil:
			return done(exitcode.With(exitcode.Restore, fmt.Errorf("restore database %s failed; it was left as it was: %w", t.Database, err)))
		}
		rep.Database = &DBReport{Database: t.Database, Method: t.Method, Created: res.Created, HadTables: res.HadTables,
			HadOther: res.HadOther, RawBytes: res.RawBytes, Tables: len(res.TableRows), Seconds: res.Duration.Seconds(),
			EmptyTables: empty, Migrations: res.Migrations}
		log.Info("database restored", "database", t.Database, "seconds", res.Duration.Seconds())
		if res.Migrations.Differ() && req.Yes {
			log.Warn(res.Migrations.Explain())
		}
	}
	for _, t := range ts {
		if t.s3 != nil {
			s, err := restoreS3(ctx, req, t, off, log)
			if err != nil {
				if rep.Database != nil {
					log.Warn("the database WAS restored; only the files restore failed")
				}
				return done(err)
			}
			rep.Locations = append(rep.Locations, LocationReport{Name: t.name, Folder: t.view.FilesFolder(),
				UploadsReport: UploadsReport{Target: s.Target, Files: s.Objects, Bytes: s.Bytes, Verified: true, Seconds: s.Seconds}, S3: s})
			continue
		}
		u, err := restoreArea(ctx, req, t, off, log)
		if err != nil {
			if rep.Database != nil {
				log.Warn("the database WAS restored; only the files restore failed")
			}
			if len(rep.Locations) > 0 || rep.Uploads != nil {
				log.Warn("some files folders WERE restored before this one failed", "done", len(rep.Locations)+btoi(rep.Uploads != nil))
			}
			return done(err)
		}
		switch {
		case t.uploads:
			rep.Uploads = u
		case t.extension:
			rep.Extensions = &LocationReport{Name: t.name, Folder: t.view.FilesFolder(), UploadsReport: *u}
		default:
			rep.Locations = append(rep.Locations, LocationReport{Name: t.name, Folder: t.view.FilesFolder(), UploadsReport: *u})
		}
	}
	return done(nil)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// restoreArea restores one files folder of the backup (uploads/, another
// storage location or the extensions) into t.dir.
func restoreArea(ctx context.Context, req Request, t target, off *Offsite, log *slog.Logger) (*UploadsReport, error) {
	dir := t.dir
	what := "uploads"
	if !t.uploads {
		what = t.view.FilesFolder()
	}
	log.Info("restoring "+what, "target", dir)
	uo := UploadsOptions{
		Backup: t.view, Target: dir, Force: req.Delete, Checksum: req.Checksum, PreserveOwner: os.Geteuid() == 0, Warn: log.Warn,
	}
	if off != nil {
		list := off.FilesList
		if !t.uploads {
			list = off.Lists[t.view.FilesFolder()]
		}
		uo.Offsite = &UploadsOffsite{List: list, Open: off.OpenFile, Jobs: off.Jobs, Where: off.Where}
	}
	res, err := Uploads(ctx, uo)
	if err != nil {
		if errors.Is(err, ErrHalfSwapped) { // the one failure that changed the folder
			return nil, exitcode.With(exitcode.Restore, fmt.Errorf("restore %s into %s failed half-way: %w", what, dir, err))
		}
		return nil, exitcode.With(exitcode.Restore, fmt.Errorf("restore %s into %s failed; the folder was left as it was: %w", what, dir, err))
	}
	log.Info(what+" restored", "target", dir, "files", res.Files)
	return &UploadsReport{Target: dir, Files: res.Files, Dirs: res.Dirs, Symlinks: res.Symlinks, Bytes: res.Bytes,
		Linked: res.Linked, Hashed: res.Hashed, Checksum: req.Checksum, Copied: res.Copied, Mismatched: res.Mismatched, Unchanged: res.Unchanged, Kept: res.Kept,
		Removed: res.Removed, Verified: res.Verified, Leftovers: append([]string{}, res.Leftovers...),
		Aside: append([]string{}, res.Aside...), Seconds: res.Duration.Seconds()}, nil
}

// offsiteTargets refuses, before anything is done, a folder an offsite
// copy does not hold (the extensions of a copy pushed by a version that
// left them local).
func offsiteTargets(off *Offsite, ts []target) error {
	for _, t := range ts {
		if !t.uploads && off.Lists[t.view.FilesFolder()] == nil {
			return refuse("offsite backup %s holds no copy of %s (it was pushed by a version that left it local): restore it from BACKUPS_DIR", off.Backup, t.view.FilesFolder())
		}
	}
	return nil
}
