package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/verify"
)

// verifyFailed: problems were found (exit 9).
type verifyFailed int

func (n verifyFailed) Error() string { return fmt.Sprintf("verification found %d problem(s)", int(n)) }
func (verifyFailed) ExitCode() int   { return exitcode.Problems }

// verifyUnchecked: a check could not be made (exit 10).
type verifyUnchecked struct{ err error }

func (e verifyUnchecked) Error() string { return "could not verify: " + e.err.Error() }
func (e verifyUnchecked) Unwrap() error { return e.err }
func (verifyUnchecked) ExitCode() int   { return exitcode.NoCheck }

type verifyReport struct {
	Backup      string                    `json:"backup"`
	State       string                    `json:"state"`
	OK          bool                      `json:"ok"`
	Problems    []verify.Problem          `json:"problems"`
	Skipped     []string                  `json:"skipped"`
	Files       int64                     `json:"files_checked"`
	Bytes       int64                     `json:"bytes_read"`
	Directus    int                       `json:"directus_files_checked"`
	Seconds     float64                   `json:"seconds"`
	RestoreTest *verify.RestoreTestResult `json:"restore_test,omitempty"`
	// Removed: the backup was retired while verify read it; not checked,
	// and not a problem.
	Removed bool   `json:"removed,omitempty"`
	Error   string `json:"error,omitempty"`
}

func newVerifyCommand(a *app) *cobra.Command {
	var all, restoreTest, asJSON bool
	var scratch string
	c := &cobra.Command{
		Use:   "verify [BACKUP | --all]",
		Short: "Check that a backup is whole: dump, checksums of every file, Directus files",
		Long: `Check one backup (default: the one backup_latest points at) or all of them,
without touching the database server:

  - the dump is a whole gzip stream ending with pg_dump's completion line,
    its checksums and per-table row counts match the manifest
  - every file in the manifest exists with the recorded size and SHA-256
    (bit rot, truncation, tampering and missing files are reported by path),
    and uploads/ holds nothing the manifest does not list
  - every directus_files.filename_disk in the dump exists in uploads/
  - backup_latest points at a complete backup

Backups made by the old backup.sh (no manifest) get the checks that are
possible; the output says which were skipped.

--restore-test also restores the dump into a scratch database on the same
server (created, then dropped even when a step fails), compares every
table's row count with the counts recorded at backup time and runs
SELECT COUNT(*) FROM directus_users.

` + exitcode.Help("verify"),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var cfg *config.Config
			var err error
			if restoreTest {
				cfg, err = a.config(needs{DB: true})
			} else {
				cfg, err = a.config(needs{})
			}
			if err != nil {
				return err
			}
			if all && len(args) > 0 {
				return fmt.Errorf("%w: give a backup name or --all, not both", errUsage)
			}
			if scratch != "" && !restoreTest {
				return fmt.Errorf("%w: --scratch-db goes with --restore-test", errUsage)
			}
			log := a.logger(cfg, a.stderr, nil)
			// Held before the backups are chosen: a backup retired from
			// then on stays on disk until verify is done with it.
			rl, err := readBackups(c.Context(), cfg.BackupsDir, log)
			if err != nil {
				return verifyUnchecked{err}
			}
			defer rl.Release()
			var backups []repo.Backup
			if all {
				if backups, err = repo.List(cfg.BackupsDir); err != nil {
					return verifyUnchecked{err}
				}
			} else {
				arg := ""
				if len(args) > 0 {
					arg = args[0]
				}
				b, err := pickBackup(cfg.BackupsDir, arg)
				if err != nil {
					return err
				}
				backups = []repo.Backup{b}
			}
			var reports []verifyReport
			problems, unchecked := 0, 0
			for _, b := range backups {
				rep := verifyReport{Backup: b.Name, State: string(b.State), Problems: []verify.Problem{}, Skipped: []string{}}
				res, err := verify.Backup(c.Context(), b, verify.Options{})
				if (err != nil || !res.OK()) && c.Context().Err() == nil && b.Gone() {
					// What looked missing was renamed away by a removal.
					log.Info("backup removed while being verified; skipped", "backup", b.Name)
					rep.Removed, rep.OK = true, true
					rep.Skipped = append(rep.Skipped, removedWhileRead)
					reports = append(reports, rep)
					continue
				}
				if err != nil {
					rep.Error = err.Error()
					unchecked++
				} else {
					rep.Problems = append(rep.Problems, res.Problems...)
					rep.Skipped = append(rep.Skipped, res.Skipped...)
					rep.Files, rep.Bytes, rep.Directus, rep.Seconds = res.Files, res.Bytes, res.DirectusFiles, res.Duration.Seconds()
					// Remembered, so the next backup copies these files afresh.
					if n, err := verify.RecordDamage(b, res); err != nil {
						log.Warn("could not record the damaged files; the next backup may link them again", "backup", b.Name, "err", err)
					} else if n > 0 {
						log.Warn("damaged files recorded; the next backup copies them afresh", "backup", b.Name, "files", n)
					}
				}
				if restoreTest && err == nil && b.Usable() {
					name := scratch
					if name == "" {
						name = job.ScratchName(cfg.DB.Database)
					}
					method := job.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile)
					log.Info("restore test", "backup", b.Name, "scratch_database", name)
					rt, err := verify.RestoreTest(c.Context(), b, verify.RestoreTestOptions{
						Target: job.Target(cfg, method), Scratch: name, Owner: cfg.DB.User})
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
				if c.Context().Err() != nil {
					return c.Context().Err()
				}
			}
			latest := verify.Latest(cfg.BackupsDir)
			if latest != nil {
				problems++
			}
			if asJSON {
				out := struct {
					Backups []verifyReport  `json:"backups"`
					Latest  *verify.Problem `json:"latest_problem"`
					OK      bool            `json:"ok"`
				}{reports, latest, problems == 0 && unchecked == 0}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(out)
			} else {
				printVerify(a.stdout, reports, latest)
			}
			switch {
			case problems > 0:
				return verifyFailed(problems)
			case unchecked > 0:
				return verifyUnchecked{errors.New("see the output above")}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "verify every backup")
	c.Flags().BoolVar(&restoreTest, "restore-test", false, "also restore the dump into a scratch database and compare row counts")
	c.Flags().StringVar(&scratch, "scratch-db", "", "name of the scratch database for --restore-test (must not exist; default <DB_DATABASE>_verify_<random>)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printVerify(w io.Writer, reports []verifyReport, latest *verify.Problem) {
	for _, r := range reports {
		if r.Removed {
			fmt.Fprintf(w, "%-8s %s (%s): %s\n", "REMOVED", r.Backup, r.State, removedWhileRead)
			continue
		}
		status := "OK"
		if !r.OK {
			status = "PROBLEMS"
			if len(r.Problems) == 0 {
				status = "NOT CHECKED"
			}
		}
		fmt.Fprintf(w, "%-8s %s (%s): %d files checked, %s read, %d Directus files present, %.1fs\n",
			status, r.Backup, r.State, r.Files, job.HumanBytes(r.Bytes), r.Directus, r.Seconds)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "         %s\n", p.String())
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "         skipped: %s\n", s)
		}
		if rt := r.RestoreTest; rt != nil && (rt.Tables > 0 || len(rt.Problems) > 0) {
			users := "no directus_users table"
			if rt.Users >= 0 {
				users = fmt.Sprintf("SELECT COUNT(*) FROM directus_users = %d", rt.Users)
			}
			fmt.Fprintf(w, "         restore test in %s: %d tables, %d rows, %s, %.1fs\n",
				rt.Scratch, rt.Tables, rt.Rows, users, rt.Duration.Seconds())
		}
		if r.Error != "" {
			fmt.Fprintf(w, "         could not check: %s\n", strings.TrimSpace(r.Error))
		}
	}
	if latest != nil {
		fmt.Fprintf(w, "PROBLEMS %s\n", latest.String())
	}
}
