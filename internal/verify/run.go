package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/filetable"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// ProblemsError: verification found problems (exit 9).
type ProblemsError int

func (n ProblemsError) Error() string { return fmt.Sprintf("verification found %d problem(s)", int(n)) }
func (ProblemsError) ExitCode() int   { return exitcode.Problems }

// UncheckedError: a check could not be made (exit 10).
type UncheckedError struct{ Err error }

func (e UncheckedError) Error() string { return "could not verify: " + e.Err.Error() }
func (e UncheckedError) Unwrap() error { return e.Err }
func (UncheckedError) ExitCode() int   { return exitcode.NoCheck }

// Request is one verify run: which backups, and whether to restore-test
// them.
type Request struct {
	BackupsDir string
	Backup     string // a backup folder name or path; "" or "latest": backup_latest's, else the newest usable
	All        bool   // every backup instead of Backup

	RestoreTest bool          // also restore each dump into a scratch database
	Target      pgexec.Target // RestoreTest: the server and login
	Owner       string        // RestoreTest: owner of the scratch database (DB_USER)
	Scratch     string        // RestoreTest: scratch database name; "" for ScratchName(Target.Database) per backup

	Log *slog.Logger // warnings; may be nil
}

// Report is what a verify run found. Its JSON form is what `verify --json`
// prints (docs/verify.md); scripts rely on its field names.
type Report struct {
	Backups []BackupReport `json:"backups"`
	Latest  *Problem       `json:"latest_problem"`
	OK      bool           `json:"ok"`
}

// BackupReport is what was found in one backup.
type BackupReport struct {
	Backup   string    `json:"backup"`
	State    string    `json:"state"`
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
	Skipped  []string  `json:"skipped"`
	Notes    []string  `json:"notes"`
	Files    int64     `json:"files_checked"`
	Bytes    int64     `json:"bytes_read"`
	Directus int       `json:"directus_files_checked"`
	// FileTable lists every directus_files row missing its file and every
	// file with no row, per storage location.
	FileTable *filetable.Report `json:"file_table,omitempty"`
	// Migration is the newest Directus migration applied in the backup's
	// database, read from the dump (or its manifest); "" when none.
	Migration string `json:"directus_migration,omitempty"`
	// EmptyTables: tables backed up without their rows
	// (BACKUP_EXCLUDE_TABLE_DATA), restored empty.
	EmptyTables []string           `json:"empty_tables,omitempty"`
	Seconds     float64            `json:"seconds"`
	RestoreTest *RestoreTestResult `json:"restore_test,omitempty"`
	// Removed: the backup was retired while verify read it; not checked,
	// and not a problem.
	Removed bool   `json:"removed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Run verifies one backup or all of them, and backup_latest, holding the
// readers lock so that no backup is deleted while it is read. Damaged
// files found are recorded in the backup, so the next backup copies them
// afresh. The report is complete whenever its Backups is not nil; the
// error then says whether problems were found (ProblemsError) or a check
// could not be made (UncheckedError).
func Run(ctx context.Context, req Request) (Report, error) {
	log := req.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Held before the backups are chosen: a backup retired from then on
	// stays on disk until verify is done with it.
	rl, err := repo.ReadBackups(ctx, req.BackupsDir, log)
	if err != nil {
		return Report{}, UncheckedError{err}
	}
	defer rl.Release()
	var backups []repo.Backup
	if req.All {
		if backups, err = repo.List(req.BackupsDir); err != nil {
			return Report{}, UncheckedError{err}
		}
	} else {
		b, err := repo.Pick(req.BackupsDir, req.Backup)
		if err != nil {
			return Report{}, err
		}
		backups = []repo.Backup{b}
	}
	reports := []BackupReport{}
	problems, unchecked := 0, 0
	for _, b := range backups {
		rep := BackupReport{Backup: b.Name, State: string(b.State), Problems: []Problem{}, Skipped: []string{}, Notes: []string{}}
		res, err := Backup(ctx, b, Options{})
		if (err != nil || !res.OK()) && ctx.Err() == nil && b.Gone() {
			// What looked missing was renamed away by a removal.
			log.Info("backup removed while being verified; skipped", "backup", b.Name)
			rep.Removed, rep.OK = true, true
			rep.Skipped = append(rep.Skipped, repo.RemovedWhileRead)
			reports = append(reports, rep)
			continue
		}
		if err != nil {
			rep.Error = err.Error()
			unchecked++
		} else {
			rep.Problems = append(rep.Problems, res.Problems...)
			rep.Skipped = append(rep.Skipped, res.Skipped...)
			rep.Notes = append(rep.Notes, res.Notes...)
			rep.FileTable = res.FileTable
			rep.Files, rep.Bytes, rep.Directus, rep.Seconds = res.Files, res.Bytes, res.DirectusFiles, res.Duration.Seconds()
			rep.Migration = res.Migration
			if m := b.Manifest; m != nil {
				if rep.Migration == "" && m.Database.Migrations != nil {
					rep.Migration = m.Database.Migrations.Newest
				}
				rep.EmptyTables = m.Database.EmptyTables
			}
			// Remembered, so the next backup copies these files afresh.
			if n, err := RecordDamage(b, res); err != nil {
				log.Warn("could not record the damaged files; the next backup may link them again", "backup", b.Name, "err", err)
			} else if n > 0 {
				log.Warn("damaged files recorded; the next backup copies them afresh", "backup", b.Name, "files", n)
			}
		}
		if req.RestoreTest && err == nil && b.Usable() {
			name := req.Scratch
			if name == "" {
				name = ScratchName(req.Target.Database)
			}
			log.Info("restore test", "backup", b.Name, "scratch_database", name)
			rt, err := RestoreTest(ctx, b, RestoreTestOptions{Target: req.Target, Scratch: name, Owner: req.Owner})
			rep.RestoreTest = &rt
			rt.LogLeftovers(log)
			if err != nil {
				rep.Error = err.Error()
				unchecked++
			}
			rep.Problems = append(rep.Problems, rt.Problems...)
		}
		rep.OK = len(rep.Problems) == 0 && rep.Error == ""
		problems += len(rep.Problems)
		reports = append(reports, rep)
		if ctx.Err() != nil {
			return Report{}, ctx.Err()
		}
	}
	latest := Latest(req.BackupsDir)
	if latest != nil {
		problems++
	}
	out := Report{Backups: reports, Latest: latest, OK: problems == 0 && unchecked == 0}
	switch {
	case problems > 0:
		return out, ProblemsError(problems)
	case unchecked > 0:
		return out, UncheckedError{errors.New("see the output above")}
	}
	return out, nil
}
