package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
)

func newPruneCommand(a *app) *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Only the cleanup step: leftovers, retention, old error folders",
		Long: `Run only the cleanup step of a backup, under the same lock:

  - remove temp_* and deleting_* folders of runs that are no longer running
  - remove incomplete backup_* folders (no manifest and no dump)
  - apply retention (BACKUP_RETENTION_DAYS, BACKUP_RETENTION_COUNT);
    the newest complete backup is never removed
  - remove error folders older than BACKUP_ERROR_LOGS_RETENTION_DAYS

With --dry-run, nothing is removed: prune lists what it would remove and
which rule keeps each backup it keeps.

` + exitcode.Help("prune"),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			log := a.logger(cfg, a.stderr, nil)
			run := job.Prune
			if dryRun {
				run = job.PruneDryRun
			}
			res, err := run(c.Context(), cfg, job.Deps{Log: log})
			if err != nil {
				return err
			}
			switch {
			case dryRun:
				printPrunePlan(a.stdout, res)
			case !a.quiet:
				fmt.Fprintf(a.stdout, "Prune: %d kept, %d expired, %d incomplete, %d leftovers, %d error folders removed\n",
					len(res.Kept), len(res.Expired), len(res.Incomplete), len(res.Leftovers), len(res.ErrorDirs))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "remove nothing; list what would be removed and why each backup is kept")
	return c
}

// printPrunePlan lists what a prune would remove and why each kept backup
// is kept.
func printPrunePlan(w io.Writer, res job.CleanupResult) {
	fmt.Fprintln(w, "Prune dry run: nothing was removed.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range res.Expired {
		fmt.Fprintf(tw, "would remove\t%s\t%s\n", n, res.Reasons[n])
	}
	for _, n := range res.Incomplete {
		fmt.Fprintf(tw, "would remove\t%s\t%s\n", n, "incomplete: no manifest and no dump")
	}
	for _, n := range res.Leftovers {
		why := "leftover of a run that is no longer running"
		if strings.HasPrefix(n, repo.DeletingPrefix) {
			why = "set aside by an earlier removal, not yet deleted"
		}
		fmt.Fprintf(tw, "would remove\t%s\t%s\n", n, why)
	}
	for _, n := range res.ErrorDirs {
		fmt.Fprintf(tw, "would remove\t%s\t%s\n", n, "error folder older than BACKUP_ERROR_LOGS_RETENTION_DAYS")
	}
	for _, n := range res.Kept {
		fmt.Fprintf(tw, "keep\t%s\t%s\n", n, res.Reasons[n])
	}
	for _, n := range res.Damaged {
		fmt.Fprintf(tw, "keep\t%s\t%s\n", n, "unreadable manifest: left alone, check it by hand")
	}
	tw.Flush()
	if len(res.Expired)+len(res.Incomplete)+len(res.Leftovers)+len(res.ErrorDirs) == 0 {
		fmt.Fprintln(w, "Nothing to remove.")
	}
}
