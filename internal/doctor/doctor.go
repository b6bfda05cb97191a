// Package doctor checks that a backup can run: settings, commands, the
// database connection, folder permissions and free space. It changes
// nothing (a probe file is created and removed to test writability) and
// says how to fix each problem it finds. The checks a backup run also
// applies live in preflight; doctor prints them all, with its own.
package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/preflight"
	"github.com/directus-backup/directus-backup/internal/repo"
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
	if f, ok := preflight.EnvFile(cfg); ok {
		fs = append(fs, f)
	}

	cmd := preflight.Command(cfg)
	fs = append(fs, cmd)
	if cmd.Status == OK {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, err := pgdump.Probe(pctx, dbtarget.Resolve(cfg))
		cancel()
		if err != nil {
			add("database", Fail, fmt.Sprintf("cannot dump database %q: %v", cfg.DB.Database, err),
				"check DB_HOST, DB_PORT, DB_DATABASE, DB_USER and DB_PASSWORD; pg_dump must not be older than the server")
		} else {
			add("database", OK, fmt.Sprintf("pg_dump connects to %q (server %s)", cfg.DB.Database, v), "")
		}
	}

	fs = append(fs, preflight.Uploads(cfg))
	fs = append(fs, preflight.Writable("backups folder", cfg.BackupsDir, "BACKUPS_DIR")...)
	if cfg.ErrorDir != filepath.Join(cfg.BackupsDir, "error_logs") {
		fs = append(fs, preflight.Writable("error folder", cfg.ErrorDir, "BACKUP_ERROR_DIR")...)
	}
	fs = append(fs, checkBackups(cfg)...)
	if f, ok := preflight.Owners(cfg.BackupsDir, os.Geteuid()); ok {
		fs = append(fs, f)
	}
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
	if f, ok := preflight.FreeSpace(cfg.BackupsDir, last, hasLast); ok {
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
