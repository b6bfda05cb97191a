package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
)

func newPruneCommand(a *app) *cobra.Command {
	var dryRun, asJSON bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Only the cleanup step: leftovers, retention, old error folders",
		Long: `Run only the cleanup step of a backup, under the same lock:

  - remove temp_* and deleting_* folders of runs that are no longer running
  - remove incomplete backup_* folders (no manifest and no dump)
  - apply retention (BACKUP_RETENTION_DAYS, BACKUP_RETENTION_COUNT, and
    BACKUP_KEEP_DAILY/WEEKLY/MONTHLY when set: a backup any rule keeps is
    kept); the newest complete backup is never removed
  - remove error folders older than BACKUP_ERROR_LOGS_RETENTION_DAYS

With --dry-run, nothing is removed: prune lists what it would remove and
which rule keeps each backup it keeps.

With --json, the result is one JSON document on stdout (see docs/usage.md).

` + exitcode.Help("prune"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			run := job.Prune
			if dryRun {
				run = job.PruneDryRun
			}
			res, err := run(c.Context(), cfg, job.Deps{Log: a.logger(cfg, a.stderr, nil)})
			switch {
			case asJSON:
				return a.printResult(newCleanupDoc(res, dryRun, err), err)
			case err != nil:
			case dryRun:
				printCleanupPlan(a.stdout, "Prune dry run: nothing was removed.", "", res)
			case !a.quiet:
				fmt.Fprintf(a.stdout, "Prune: %d kept, %d expired, %d incomplete, %d leftovers, %d error folders removed\n",
					len(res.Kept), len(res.Expired), len(res.Incomplete), len(res.Leftovers), len(res.ErrorDirs))
			}
			return err
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "remove nothing; list what would be removed and why each backup is kept")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

// printCleanupPlan lists what a dry-run cleanup (prune --dry-run, backup
// --retention-dry-run) would remove and why each kept backup is kept,
// under header, each line starting with indent.
func printCleanupPlan(w io.Writer, header, indent string, res job.CleanupResult) {
	fmt.Fprintln(w, header)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range res.Expired {
		fmt.Fprintf(tw, indent+"would remove\t%s\t%s\n", n, res.Reasons[n])
	}
	for _, n := range res.Incomplete {
		fmt.Fprintf(tw, indent+"would remove\t%s\t%s\n", n, "incomplete: no manifest and no dump")
	}
	for _, n := range res.Leftovers {
		why := "leftover of a run that is no longer running"
		if repo.IsRetired(n) {
			why = "set aside by an earlier removal, not yet deleted"
		}
		fmt.Fprintf(tw, indent+"would remove\t%s\t%s\n", n, why)
	}
	for _, n := range res.ErrorDirs {
		fmt.Fprintf(tw, indent+"would remove\t%s\t%s\n", n, "error folder older than BACKUP_ERROR_LOGS_RETENTION_DAYS")
	}
	for _, n := range res.Kept {
		fmt.Fprintf(tw, indent+"keep\t%s\t%s\n", n, res.Reasons[n])
	}
	for _, n := range res.Damaged {
		fmt.Fprintf(tw, indent+"keep\t%s\t%s\n", n, "unreadable manifest: left alone, check it by hand")
	}
	tw.Flush()
	if len(res.Expired)+len(res.Incomplete)+len(res.Leftovers)+len(res.ErrorDirs) == 0 {
		fmt.Fprintln(w, indent+"Nothing to remove.")
	}
}

// cleanupDoc is the JSON form of a cleanup (prune --json, and backup
// --json's "cleanup"), documented in docs/usage.md.
type cleanupDoc struct {
	OK         bool              `json:"ok"`
	Error      string            `json:"error,omitempty"`
	DryRun     bool              `json:"dry_run"`
	Kept       []string          `json:"kept"`
	Expired    []string          `json:"expired"`
	Incomplete []string          `json:"incomplete"`
	Leftovers  []string          `json:"leftovers"`
	ErrorDirs  []string          `json:"error_dirs"`
	Damaged    []string          `json:"damaged"`
	Reasons    map[string]string `json:"reasons"`
}

func newCleanupDoc(res job.CleanupResult, dry bool, err error) cleanupDoc {
	d := cleanupDoc{OK: err == nil, DryRun: dry, Kept: nonNil(res.Kept), Expired: nonNil(res.Expired),
		Incomplete: nonNil(res.Incomplete), Leftovers: nonNil(res.Leftovers), ErrorDirs: nonNil(res.ErrorDirs),
		Damaged: nonNil(res.Damaged), Reasons: res.Reasons}
	if d.Reasons == nil {
		d.Reasons = map[string]string{}
	}
	if err != nil {
		d.Error = err.Error()
	}
	return d
}

// nonNil makes a missing list an empty one, so JSON says [] and not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
