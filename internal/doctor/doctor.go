// Package doctor checks that a backup can run: settings, commands, the
// database connection, folder permissions and free space. It changes
// nothing (writability is tested with an unnamed file, see preflight) and
// says how to fix each problem it finds. The checks a backup run also
// applies live in preflight; doctor prints them all, with its own.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/preflight"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// Status of a finding.
type Status = preflight.Status

const (
	OK   = preflight.OK
	Warn = preflight.Warn
	Fail = preflight.Fail
)

// Finding is the result of one check.
type Finding = preflight.Finding

// Run performs every check and returns the findings in order.
func Run(ctx context.Context, cfg *config.Config) []Finding {
	var fs []Finding
	add := func(check string, st Status, detail, fix string) {
		fs = append(fs, Finding{Check: check, Status: st, Detail: detail, Fix: fix})
	}
	if cfg.EnvFile != "" {
		add("settings", OK, "valid; .env file read: "+cfg.EnvFile, "")
	} else {
		add("settings", OK, "valid; no .env file read", "")
	}
	if names := cfg.EnvOverrides(); len(names) > 0 {
		add("settings", Warn, "set in both the environment and the .env file, to different values: "+strings.Join(names, ", ")+
			"; directus-backup uses the environment's values, Directus the .env file's",
			"remove one of the two, or make them equal, so that both read the same settings")
	}
	if f, ok := preflight.EnvFile(cfg); ok {
		fs = append(fs, f)
	}

	fs = append(fs, connection(cfg))
	cmd := preflight.Command(cfg)
	fs = append(fs, cmd)
	if f, ok := preflight.DBHost(cfg); ok {
		fs = append(fs, f)
	}
	if cmd.Status == OK {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		target := dbtarget.Resolve(cfg)
		matched := true
		if target.Method == pgexec.MethodLocal {
			// The pg_dump a backup would use, matched to the server; when
			// none is new enough, the finding says how to get one.
			f, c, err := preflight.Client(pctx, target)
			fs = append(fs, f)
			target, matched = c.Apply(target), err == nil
		}
		if matched {
			v, err := pgdump.Probe(pctx, target)
			if err != nil {
				add("database", Fail, fmt.Sprintf("cannot dump database %q: %v", cfg.DB.Database, err),
					"check DB_HOST, DB_PORT, DB_DATABASE, DB_USER and DB_PASSWORD (or DB_CONNECTION_STRING), and DB_SSL__* for TLS; pg_dump must not be older than the server")
			} else {
				add("database", OK, fmt.Sprintf("pg_dump connects to %q (server %s)", cfg.DB.Database, v), "")
			}
		}
		cancel()
	}

	fs = append(fs, preflight.Storage(cfg)...)
	fs = append(fs, checkS3Locations(ctx, cfg)...)
	if cfg.UploadsDir != "" {
		fs = append(fs, checkRestoreLeftovers(cfg.UploadsDir)...)
	}
	fs = append(fs, preflight.Writable("backups folder", cfg.BackupsDir, "BACKUPS_DIR")...)
	if cfg.ErrorDir != repo.DefaultErrorDir(cfg.BackupsDir) {
		fs = append(fs, preflight.Writable("error folder", cfg.ErrorDir, "BACKUP_ERROR_DIR")...)
	}
	fs = append(fs, checkBackups(cfg)...)
	if f, ok := preflight.Owners(cfg.BackupsDir, os.Geteuid()); ok {
		fs = append(fs, f)
	}
	if cfg.Offsite.Enabled() {
		r, err := offsite.New(cfg.Offsite, "", nil, false)
		if err != nil {
			add("offsite bucket", Fail, err.Error(), "")
		} else {
			fs = append(fs, r.Check(ctx, cfg.Offsite.IdentityFile)...)
		}
	}
	fs = append(fs, checkMonitoring(ctx, cfg)...)
	return fs
}

func checkBackups(cfg *config.Config) []Finding {
	var out []Finding
	backups, err := repo.List(cfg.BackupsDir)
	if err != nil {
		if os.IsNotExist(err) {
			return []Finding{{Check: "backups", Status: OK, Detail: "no backups yet"}}
		}
		return []Finding{{Check: "backups", Status: Fail, Detail: err.Error(), Fix: "fix the permissions of BACKUPS_DIR"}}
	}
	usable := 0
	for _, b := range backups {
		if b.Usable() {
			usable++
		}
	}
	out = append(out, Finding{Check: "backups", Status: OK, Detail: fmt.Sprintf("%d complete of %d", usable, len(backups))})
	if target, ok := repo.Latest(cfg.BackupsDir); target != "" && !ok {
		out = append(out, Finding{Check: "backup_latest", Status: Warn, Detail: "points at missing " + target,
			Fix: "the next successful backup repairs it"})
	}
	last, hasLast := preflight.LastBackup(cfg.BackupsDir, backups)
	if f, ok := preflight.FreeSpace(cfg.BackupsDir, last, hasLast, cfg.MinFree); ok {
		out = append(out, f)
	}
	for _, err := range repo.CheckLockFiles(cfg.BackupsDir) {
		out = append(out, Finding{Check: "lock", Status: Fail, Detail: err.Error(),
			Fix: "check who made it, then remove it; the tool creates a fresh one"})
	}
	if held, who := repo.Held(cfg.BackupsDir); held {
		out = append(out, Finding{Check: "lock", Status: Warn, Detail: "a run is in progress: " + who,
			Fix: "wait for it to finish"})
	}
	return out
}

// checkRestoreLeftovers reports the folders an interrupted restore left
// beside the uploads folder. A previous uploads folder moved aside may
// hold the only copy of those uploads (when the swap stopped half-way,
// the uploads folder itself may be missing), so it is never just removed.
func checkRestoreLeftovers(uploads string) []Finding {
	uploads = filepath.Clean(uploads)
	parent, base := filepath.Dir(uploads), filepath.Base(uploads)
	if parent == uploads {
		return nil
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil // the uploads check reports an unreadable uploads folder
	}
	_, uerr := os.Lstat(uploads)
	missing := errors.Is(uerr, os.ErrNotExist)
	var out []Finding
	for _, e := range ents {
		kind := restore.LeftoverKind(base, e.Name())
		if kind == restore.LeftoverNone || (kind == restore.LeftoverList) == e.IsDir() {
			continue // a list is a file, the others are folders
		}
		p := filepath.Join(parent, e.Name())
		switch {
		case kind == restore.LeftoverOld && missing:
			out = append(out, Finding{Check: "restore leftovers", Status: Fail,
				Detail: fmt.Sprintf("%s is missing and %s is beside it: the previous uploads, moved aside by a restore that was interrupted while swapping the folders; it may be the only copy of them", uploads, p),
				Fix:    fmt.Sprintf("put it back: mv %s %s (then run the restore again if you wanted the backup's uploads)", p, uploads)})
		case kind == restore.LeftoverOld:
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: fmt.Sprintf("%s: the previous uploads, moved aside by a restore that was interrupted after swapping the folders; it may hold the only copy of uploads that are not in the restored folder nor in a backup", p),
				Fix:    fmt.Sprintf("check that %s holds the uploads you want, copy back anything missing from %s, then delete it (rm -rf %s); the next restore removes it too", uploads, p, p)})
		case kind == restore.LeftoverList:
			// Its stage, when still there, is reported on its own.
			if _, err := os.Lstat(strings.TrimSuffix(p, ".list")); err == nil {
				continue
			}
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: p + ": the entry list of an interrupted restore's staging folder (made by an earlier version), whose folder is gone",
				Fix:    "the next restore removes it; or delete it (rm " + p + ")"})
		case repo.FlockHeld(p):
			// A running restore holds the lock on its staging folder; it is
			// looked up, not tried: taking it, even briefly, could make a
			// restore starting at that moment fail.
			out = append(out, Finding{Check: "restore leftovers", Status: OK,
				Detail: p + ": " + leftoverWhat[kind] + " of a restore that is running now"})
		case kind == restore.LeftoverTrash:
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: p + ": the previous uploads folder, replaced by a restore that finished and was interrupted while deleting it; the uploads folder holds the restored uploads",
				Fix:    "safe to delete (rm -rf " + p + "); the next restore removes it too"})
		default: // stage, new
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: p + ": " + leftoverWhat[kind] + " of an interrupted restore; the uploads folder was not changed by it",
				Fix:    "the next restore removes it; or delete it (rm -rf " + p + ")"})
		}
	}
	return out
}

// leftoverWhat names the folders a restore makes, for the findings.
var leftoverWhat = map[restore.Leftover]string{
	restore.LeftoverStage: "the staging folder",
	restore.LeftoverNew:   "a staging folder being made",
	restore.LeftoverTrash: "the previous uploads folder, being deleted",
}
