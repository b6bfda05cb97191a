package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
)

func newPruneCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Only the cleanup step: leftovers, retention, old error folders",
		Long: `Run only the cleanup step of a backup, under the same lock:

  - remove temp_* and deleting_* folders of runs that are no longer running
  - remove incomplete backup_* folders (no manifest and no dump)
  - apply retention (BACKUP_RETENTION_DAYS, BACKUP_RETENTION_COUNT);
    the newest complete backup is never removed
  - remove error folders older than BACKUP_ERROR_LOGS_RETENTION_DAYS

` + exitcode.Help("prune"),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigNoDB()
			if err != nil {
				return err
			}
			log := a.logger(cfg, a.stderr, nil)
			res, err := job.Prune(c.Context(), cfg, job.Deps{Log: log})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Prune: %d kept, %d expired, %d incomplete, %d leftovers, %d error folders removed\n",
				len(res.Kept), len(res.Expired), len(res.Incomplete), len(res.Leftovers), len(res.ErrorDirs))
			return nil
		},
	}
}
