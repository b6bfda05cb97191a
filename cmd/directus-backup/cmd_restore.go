package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/restore"
)

type restoreFlags struct {
	db, uploads, yes, del, force, create, checksum, json bool
	offsite                                              bool
	targetDB, targetDir                                  string
	locations                                            []string // --location, repeatable
	extensions                                           bool
	toBucket, toPrefix                                   string
}

func newRestoreCommand(a *app) *cobra.Command {
	var f restoreFlags
	c := &cobra.Command{
		Use:   "restore [--offsite] [BACKUP]",
		Short: "Restore the database, the uploads and storage locations, or the extensions from a backup",
		Long: `Restore from BACKUP (a backup folder name; default: the one backup_latest
points at, or the newest complete backup). Without --db, --uploads,
--location or --extensions: the database and every storage location the
backup holds (not the extensions).

Storage locations (--location NAME, repeatable): the files of that
location (STORAGE_LOCATIONS), each into its STORAGE_<NAME>_ROOT, by the
same rules as uploads; the default location's name means --uploads.
--extensions restores the extensions folder into EXTENSIONS_PATH (only
when asked). --target-dir only goes with one folder restored.

S3 locations (STORAGE_<NAME>_DRIVER=s3) are uploaded into their bucket
under STORAGE_<NAME>_ROOT, or into --to-bucket / under --to-prefix; each
file's SHA-256 is checked before its upload, objects already there with
the same size and ETag are skipped, and --delete deletes the objects under
the prefix that the backup does not hold. With --target-dir their files go
into that folder instead.

Database (--db): into DB_DATABASE or --target-db, through pg_dump's partner
psql, locally or in the docker compose service exactly as backup runs
pg_dump. The whole restore is one transaction that stops at the first
error, and the dump's checksum and completion line are checked before psql
is allowed to commit: a failed restore leaves the database as it was.
Restoring over a database that has tables needs --yes (or a "yes" typed
at a terminal). When the backup's Directus migrations (directus_migrations)
differ from the target's, the question (or the refusal) says which Directus
release can run on the restored database: one older than the backup will
not start on it, a newer one migrates it on start. --create makes a missing
target database, owned by DB_USER. Tables backed up without their rows
(BACKUP_EXCLUDE_TABLE_DATA) are restored empty; the summary names them.

Uploads (--uploads): into BACKUP_UPLOADS_DIR or --target-dir. A target that
already equals the backup is left alone. Otherwise a new folder is built
beside the target: its unchanged files (same size, mtime, mode, owner) are
hard-linked, the others copied from the backup and checked against the
manifest's SHA-256; it is swapped in with one rename: a failed restore leaves
the folder as it was. Files in the target that are not in the backup are
kept, or removed with --delete. Modes, times, symlinks, empty folders and
(as root) owners are restored. --checksum also reads every live file and
keeps it only if its SHA-256 matches the backup's (a file changed without
a new size or time is restored from the backup). Stop Directus first.

--force (deprecated) is --yes and --delete together.

--offsite restores from the copy in the S3 bucket (BACKUP_S3_*) instead of
BACKUPS_DIR, streamed with parallel downloads, with the same targets, flags
and checks; BACKUP is a name as "offsite list" shows it (default: the newest
complete backup in the bucket). An s3 storage location is downloaded into
a temporary folder (TMPDIR), then uploaded into its bucket. An encrypted copy needs
BACKUP_AGE_IDENTITY_FILE. A missing BACKUP_S3_BUCKET or identity file, or a
backup the bucket does not hold, is exit code 2, a bucket that cannot be
read exit code 14 (nothing was done); a damaged object fails the restore
(exit code 13) and leaves the target as it was. No BACKUPS_DIR is needed;
when it exists, its run lock is held.

With --json, the result is one JSON document on stdout (see docs/restore.md).

` + exitcode.Help("restore"),
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			allFiles := false
			if !f.db && !f.uploads && len(f.locations) == 0 && !f.extensions {
				f.db, allFiles = true, true
			}
			// The flags below that go with --uploads go with any files.
			files := f.uploads || allFiles || len(f.locations) > 0 || f.extensions
			if f.yes && !f.db {
				return fmt.Errorf("%w: --yes goes with --db", errUsage)
			}
			if f.del && !files {
				return fmt.Errorf("%w: --delete goes with --uploads (or --location, --extensions)", errUsage)
			}
			if f.force {
				// Deprecated: both, for the part (or parts) restored.
				f.yes, f.del = f.db, files
			}
			if f.targetDB != "" && !f.db {
				return fmt.Errorf("%w: --target-db goes with --db", errUsage)
			}
			if f.checksum && !files {
				return fmt.Errorf("%w: --checksum goes with --uploads (or --location, --extensions)", errUsage)
			}
			if (f.toBucket != "" || f.toPrefix != "") && !files {
				return fmt.Errorf("%w: --to-bucket and --to-prefix go with --location (an s3 storage location)", errUsage)
			}
			if f.targetDir != "" && !files {
				return fmt.Errorf("%w: --target-dir goes with --uploads (or --location, --extensions)", errUsage)
			}
			cfg, err := a.config(needs{DB: f.db})
			if err != nil {
				return err
			}
			if f.offsite && !cfg.Offsite.Enabled() {
				return offsite.ErrNotConfigured
			}
			req := restore.Request{
				BackupsDir: cfg.BackupsDir,
				DB:         f.db, Owner: cfg.DB.User, Create: f.create, Yes: f.yes,
				Uploads: f.uploads, UploadsDir: cfg.UploadsDir, Delete: f.del, Checksum: f.checksum,
				Log: a.logger(cfg, a.stderr, nil), LockWait: cfg.LockWait,
			}
			if len(args) > 0 {
				req.Backup = args[0]
			}
			if f.force {
				req.Log.Warn("--force is deprecated: use --yes (database) and --delete (uploads); --force still means both")
			}
			if f.db {
				req.Target = dbtarget.Matched(c.Context(), cfg)
				if f.targetDB != "" {
					req.Target = req.Target.WithDatabase(f.targetDB)
				}
				if in, ok := c.InOrStdin().(*os.File); ok && isTerminal(in) {
					req.Confirm = func(q string) bool { return confirm(a.stderr, in, q) }
				}
			}
			if f.targetDir != "" {
				if req.TargetDir, err = filepath.Abs(f.targetDir); err != nil {
					return err
				}
			}
			addStorageRequest(&req, cfg, allFiles, f.locations, f.extensions)
			req.ToBucket, req.ToPrefix = f.toBucket, f.toPrefix
			var display *progressDisplay
			if f.offsite {
				if display, err = a.openOffsite(c.Context(), cfg, &req, f.json); err != nil {
					return err
				}
				if ask := req.Confirm; display != nil && ask != nil {
					req.Confirm = func(q string) bool {
						display.pause()
						defer display.resume()
						return ask(q)
					}
				}
			}
			rep, err := restore.Run(c.Context(), req)
			if display != nil {
				display.Stop()
			}
			if f.json {
				if rep.Backup == "" {
					return err // no backup chosen: nothing to report
				}
				out := struct {
					restore.Report
					OK    bool   `json:"ok"`
					Error string `json:"error,omitempty"`
				}{Report: rep, OK: err == nil}
				if err != nil {
					out.Error = err.Error()
				}
				return a.printResult(out, err)
			}
			if err == nil {
				printRestore(a.stdout, rep)
			}
			return err
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.db, "db", false, "restore the database")
	fl.BoolVar(&f.uploads, "uploads", false, "restore the uploads folder")
	fl.StringVar(&f.targetDB, "target-db", "", "database to restore into (default DB_DATABASE)")
	fl.StringVar(&f.targetDir, "target-dir", "", "folder to restore the uploads into (default BACKUP_UPLOADS_DIR)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "restore over a database that has tables, without asking")
	fl.BoolVar(&f.del, "delete", false, "remove upload files and folders that are not in the backup")
	fl.BoolVar(&f.force, "force", false, "deprecated: --yes and --delete together")
	fl.BoolVar(&f.checksum, "checksum", false, "uploads: read every live file and keep it only if its SHA-256 matches the backup's (like rsync -c); slower")
	fl.BoolVar(&f.create, "create", false, "create the target database when it does not exist (owned by DB_USER)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	fl.StringArrayVar(&f.locations, "location", nil, "restore the files of this storage location (repeatable; the default location's name means uploads/)")
	fl.StringVar(&f.toBucket, "to-bucket", "", "restore the s3 storage location into this bucket instead of its STORAGE_<NAME>_BUCKET (same endpoint and key)")
	fl.StringVar(&f.toPrefix, "to-prefix", "", "restore the s3 storage location under this key prefix instead of its STORAGE_<NAME>_ROOT")
	fl.BoolVar(&f.extensions, "extensions", false, "restore the extensions folder (EXTENSIONS_PATH); never restored without it")
	fl.BoolVar(&f.offsite, "offsite", false, "restore from the copy in the S3 bucket (BACKUP_S3_*) instead of BACKUPS_DIR")
	return c
}

// printRestore renders a restore's report as text.
func printRestore(w io.Writer, rep restore.Report) {
	var lines []string
	if d := rep.Database; d != nil {
		what := "into an empty database"
		if d.Created {
			what = "into a new database"
		} else if d.HadTables+d.HadOther > 0 {
			what = fmt.Sprintf("over %d existing tables (and %d views, sequences and other relations)", d.HadTables, d.HadOther)
		} else if d.HadTables < 0 {
			what = "over the existing database (--yes)"
		}
		lines = append(lines, fmt.Sprintf("  database   %s: %s of SQL, %d tables, %s (%s)", d.Database,
			humanize.Bytes(d.RawBytes), d.Tables, what, seconds(d.Seconds)))
		if len(d.EmptyTables) > 0 {
			lines = append(lines, "  these tables were restored empty (BACKUP_EXCLUDE_TABLE_DATA left their rows out of the backup): "+
				strings.Join(d.EmptyTables, ", "))
		}
		if m := d.Migrations; m != nil {
			switch {
			case m.Skipped != "":
				lines = append(lines, "  migrations "+m.Skipped)
			case m.Differ():
				lines = append(lines, "  migrations "+m.Explain())
			default:
				lines = append(lines, fmt.Sprintf("  migrations the backup's Directus migrations match the replaced database's (newest %s)", m.BackupNewest))
			}
		}
	}
	if u := rep.Uploads; u != nil {
		lines = append(lines, uploadsLine("uploads", u))
	}
	lines = append(lines, restoreLines(rep)...)
	from := rep.Backup
	if rep.Offsite {
		from += " in " + rep.Where
	}
	fmt.Fprintf(w, "Restored from %s (%s, %s):\n%s\n  total      %s\n", from, rep.State,
		rep.Time.Format("2006-01-02 15:04:05"), strings.Join(lines, "\n"), seconds(rep.Seconds))
}

// uploadsLine renders one restored files folder.
func uploadsLine(label string, u *restore.UploadsReport) string {
	// Say what was read: linked live files were checked by size and
	// time only, unless --checksum hashed them.
	check, extra := "checksums verified", ""
	switch {
	case u.Unchanged:
		check = "the folder already matched the backup: nothing written"
	case !u.Verified:
		check = "no manifest: checksums not checked"
		if u.Checksum {
			check += " (--checksum had nothing to compare with)"
		}
		if u.Linked > 0 {
			extra += fmt.Sprintf("; %d linked from the live folder, %d copied", u.Linked, u.Copied)
		}
	case u.Linked > u.Hashed && u.Copied == 0:
		check = fmt.Sprintf("nothing copied; %d files linked from the live folder by size and time, not read (--checksum hashes them)",
			u.Linked-u.Hashed)
	case u.Linked > u.Hashed:
		check = fmt.Sprintf("checksums verified for the %d copied files; %d linked from the live folder by size and time, not read (--checksum hashes them)",
			u.Copied, u.Linked-u.Hashed)
	case u.Linked > 0:
		extra += fmt.Sprintf("; %d linked from the live folder after hashing, %d copied", u.Linked, u.Copied)
	}
	if u.Mismatched > 0 {
		extra += fmt.Sprintf("; %d live files with the backup's size and time but other content replaced", u.Mismatched)
	}
	if len(u.Leftovers) > 0 {
		extra += fmt.Sprintf("; removed %d leftovers of interrupted restores", len(u.Leftovers))
	}
	if len(u.Aside) > 0 {
		extra += fmt.Sprintf("; %d folders an interrupted restore moved aside are still beside the target (see the warnings)", len(u.Aside))
	}
	if u.Kept > 0 {
		extra += fmt.Sprintf("; kept %d items not in the backup (--delete removes them)", u.Kept)
	}
	if u.Removed > 0 {
		extra += fmt.Sprintf("; removed %d items not in the backup", u.Removed)
	}
	return fmt.Sprintf("  %-10s %s: %d files (%s), %s%s (%s)", label, u.Target, u.Files,
		humanize.Bytes(u.Bytes), check, extra, seconds(u.Seconds))
}

// seconds renders a duration in seconds as the summaries do: 1.23s.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond)
}

// confirm asks a yes/no question at the terminal; only "yes" is yes.
func confirm(w io.Writer, in io.Reader, question string) bool {
	fmt.Fprintf(w, "%s Type yes to go on: ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(strings.ToLower(line)) == "yes"
}
