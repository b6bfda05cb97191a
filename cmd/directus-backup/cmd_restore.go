package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// restoreRefused: the target is not empty (no --force) or missing (no
// --create). Exit 12.
type restoreRefused struct{ err error }

func (e restoreRefused) Error() string { return e.err.Error() }
func (e restoreRefused) Unwrap() error { return e.err }

// restoreFailed: the restore failed and left its target as it was. Exit 13.
type restoreFailed struct{ err error }

func (e restoreFailed) Error() string { return e.err.Error() }
func (e restoreFailed) Unwrap() error { return e.err }

type restoreFlags struct {
	db, uploads, force, create, checksum bool
	targetDB, targetDir                  string
}

func newRestoreCommand(a *app) *cobra.Command {
	var f restoreFlags
	c := &cobra.Command{
		Use:   "restore [BACKUP]",
		Short: "Restore the database and/or the uploads folder from a backup",
		Long: `Restore from BACKUP (a backup folder name; default: the one backup_latest
points at, or the newest complete backup). Without --db or --uploads, both.

Database (--db): into DB_DATABASE or --target-db, through pg_dump's partner
psql, locally or in the docker compose service exactly as backup runs
pg_dump. The whole restore is one transaction that stops at the first
error, and the dump's checksum and completion line are checked before psql
is allowed to commit: a failed restore leaves the database as it was.
Restoring over a database that has tables needs --force (or a "yes" typed
at a terminal). --create makes a missing target database, owned by DB_USER.

Uploads (--uploads): into BACKUP_UPLOADS_DIR or --target-dir. A target that
already equals the backup is left alone. Otherwise a new folder is built
beside the target: its unchanged files (same size, mtime, mode, owner) are
hard-linked, the others copied from the backup and checked against the
manifest's SHA-256; it is swapped in with one rename: a failed restore leaves
the folder as it was. Files in the target that are not in the backup are
kept, or removed with --force. Modes, times, symlinks, empty folders and
(as root) owners are restored. --checksum also reads every live file and
keeps it only if its SHA-256 matches the backup's (a file changed without
a new size or time is restored from the backup). Stop Directus first.

` + exitcode.Help("restore"),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if !f.db && !f.uploads {
				f.db, f.uploads = true, true
			}
			if f.targetDB != "" && !f.db {
				return fmt.Errorf("%w: --target-db goes with --db", errUsage)
			}
			if f.checksum && !f.uploads {
				return fmt.Errorf("%w: --checksum goes with --uploads", errUsage)
			}
			if f.targetDir != "" && !f.uploads {
				return fmt.Errorf("%w: --target-dir goes with --uploads", errUsage)
			}
			var cfg *config.Config
			var err error
			if f.db {
				cfg, err = a.loadConfig()
			} else {
				cfg, err = a.loadConfigNoDB()
			}
			if err != nil {
				return err
			}
			arg := ""
			if len(args) > 0 {
				arg = args[0]
			}
			return a.runRestore(c, cfg, arg, f)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.db, "db", false, "restore the database")
	fl.BoolVar(&f.uploads, "uploads", false, "restore the uploads folder")
	fl.StringVar(&f.targetDB, "target-db", "", "database to restore into (default DB_DATABASE)")
	fl.StringVar(&f.targetDir, "target-dir", "", "folder to restore the uploads into (default BACKUP_UPLOADS_DIR)")
	fl.BoolVar(&f.force, "force", false, "restore over a database that has tables; remove uploads not in the backup")
	fl.BoolVar(&f.checksum, "checksum", false, "uploads: read every live file and keep it only if its SHA-256 matches the backup's (like rsync -c); slower")
	fl.BoolVar(&f.create, "create", false, "create the target database when it does not exist (owned by DB_USER)")
	return c
}

func (a *app) runRestore(c *cobra.Command, cfg *config.Config, arg string, f restoreFlags) error {
	ctx := c.Context()
	start := time.Now()
	// Chosen first for a clear error when there is none; chosen again
	// under the lock below, as it may have been retired meanwhile.
	if _, err := pickBackup(cfg.BackupsDir, arg); err != nil {
		return err
	}
	// The lock keeps backup and prune away meanwhile: no backup of a
	// half-restored database, no removal of the backup being read.
	lock, err := repo.Acquire(cfg.BackupsDir, fmt.Sprintf("pid %d (restore)", os.Getpid()))
	if err != nil {
		return err
	}
	defer lock.Release()
	log := a.logger(cfg, a.stderr, nil)
	if err := lock.HolderErr(); err != nil {
		log.Warn("locked, but could not write who holds the lock", "err", err)
	}
	rl, err := readBackups(ctx, cfg.BackupsDir, log)
	if err != nil {
		return err
	}
	defer rl.Release()
	b, err := pickBackup(cfg.BackupsDir, arg)
	if err != nil {
		return err
	}
	if !b.Usable() {
		if b.Err != nil {
			return fmt.Errorf("%w: %s is %s: %v", errNoBackup, b.Name, b.State, b.Err)
		}
		return fmt.Errorf("%w: %s is %s", errNoBackup, b.Name, b.State)
	}
	log.Info("restoring", "backup", b.Name, "state", b.State)

	var lines []string
	if f.db {
		target := job.Target(cfg, job.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile))
		if f.targetDB != "" {
			target = target.WithDatabase(f.targetDB)
		}
		opts := restore.DBOptions{
			Target: target, Dump: b.DumpFile(), Force: f.force, Create: f.create, Owner: cfg.DB.User,
		}
		if b.Manifest != nil {
			opts.SHA256 = b.Manifest.Database.SHA256
		}
		if in, ok := c.InOrStdin().(*os.File); ok && isTerminal(in) {
			opts.Confirm = func(q string) bool { return confirm(a.stderr, in, q) }
		}
		log.Info("restoring the database", "database", target.Database, "method", target.Method, "dump", opts.Dump)
		res, err := restore.DB(ctx, opts)
		switch {
		case errors.Is(err, restore.ErrNotEmpty), errors.Is(err, restore.ErrNoDatabase):
			return restoreRefused{fmt.Errorf("database restore refused: %w", err)}
		case err != nil:
			return restoreFailed{fmt.Errorf("restore database %s failed; it was left as it was: %w", target.Database, err)}
		}
		what := "into an empty database"
		if res.Created {
			what = "into a new database"
		} else if res.HadTables+res.HadOther > 0 {
			what = fmt.Sprintf("over %d existing tables (and %d views, sequences and other relations)", res.HadTables, res.HadOther)
		} else if res.HadTables < 0 {
			what = "over the existing database (--force)"
		}
		lines = append(lines, fmt.Sprintf("  database   %s: %s of SQL, %d tables, %s (%s)", target.Database,
			job.HumanBytes(res.RawBytes), len(res.TableRows), what, res.Duration.Round(10*time.Millisecond)))
		log.Info("database restored", "database", target.Database, "seconds", res.Duration.Seconds())
	}
	if f.uploads {
		dir := cfg.UploadsDir
		if f.targetDir != "" {
			if dir, err = filepath.Abs(f.targetDir); err != nil {
				return err
			}
		}
		log.Info("restoring the uploads", "target", dir)
		res, err := restore.Uploads(ctx, restore.UploadsOptions{
			Backup: b, Target: dir, Force: f.force, Checksum: f.checksum, PreserveOwner: os.Geteuid() == 0, Warn: log.Warn,
		})
		if err != nil {
			if len(lines) > 0 {
				log.Warn("the database WAS restored; only the uploads restore failed")
			}
			return restoreFailed{fmt.Errorf("restore uploads into %s failed; the folder was left as it was: %w", dir, err)}
		}
		check := "checksums verified"
		if res.Unchanged {
			check = "the folder already matched the backup: nothing written"
		} else if !res.Verified {
			check = "no manifest: checksums not checked"
		}
		extra := ""
		if res.Linked > 0 {
			extra += fmt.Sprintf("; %d linked from the live folder, %d copied", res.Linked, res.Copied)
		}
		if res.Mismatched > 0 {
			extra += fmt.Sprintf("; %d live files with the backup's size and time but other content replaced", res.Mismatched)
		}
		if len(res.Leftovers) > 0 {
			extra += fmt.Sprintf("; removed %d leftovers of interrupted restores", len(res.Leftovers))
		}
		if res.Kept > 0 {
			extra += fmt.Sprintf("; kept %d items not in the backup (--force removes them)", res.Kept)
		}
		if res.Removed > 0 {
			extra += fmt.Sprintf("; removed %d items not in the backup", res.Removed)
		}
		lines = append(lines, fmt.Sprintf("  uploads    %s: %d files (%s), %s%s (%s)", dir, res.Files,
			job.HumanBytes(res.Bytes), check, extra, res.Duration.Round(10*time.Millisecond)))
		log.Info("uploads restored", "target", dir, "files", res.Files)
	}
	fmt.Fprintf(a.stdout, "Restored from %s (%s, %s):\n%s\n  total      %s\n", b.Name, b.State,
		b.Time.Format("2006-01-02 15:04:05"), strings.Join(lines, "\n"), time.Since(start).Round(10*time.Millisecond))
	return nil
}

// confirm asks a yes/no question at the terminal; only "yes" is yes.
func confirm(w io.Writer, in io.Reader, question string) bool {
	fmt.Fprintf(w, "%s Type yes to go on: ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(strings.ToLower(line)) == "yes"
}
