package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/listing"
	"github.com/directus-backup/directus-backup/internal/repo"
)

func newListCommand(a *app) *cobra.Command {
	var asJSON bool
	var failedRuns int
	c := &cobra.Command{
		Use:   "list",
		Short: "List the backups, newest first, and recent failed runs",
		Long: `List every backup in BACKUPS_DIR, newest first: time, age, state (complete,
legacy = made by the old backup.sh, incomplete, damaged), dump size raw and
stored, uploads file count, total bytes, and the bytes this backup alone holds
(what removing it would free; the rest is shared with other backups through
hard links). The backup that backup_latest points at is marked with *.
Recent failed runs (error folders) follow.

` + exitcode.Help("list"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			l, err := listing.Run(c.Context(), listing.Request{BackupsDir: cfg.BackupsDir, ErrorDir: cfg.ErrorDir,
				FailedRuns: failedRuns, Log: a.logger(cfg, a.stderr, nil)})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(l)
			}
			printListing(a.stdout, l)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (for scripts and monitoring)")
	c.Flags().IntVar(&failedRuns, "failed-runs", 5, "how many recent failed runs to show")
	return c
}

func printListing(w io.Writer, l listing.Report) {
	if len(l.Backups) == 0 {
		fmt.Fprintf(w, "No backups yet in %s\n", l.BackupsDir)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tTIME\tAGE\tSTATE\tDUMP RAW\tDUMP\tFILES\tTOTAL\tOWN\tHOLDS")
		for _, b := range l.Backups {
			mark := " "
			if b.Latest {
				mark = "*"
			}
			raw := "-"
			if b.DumpRaw > 0 {
				raw = humanize.Bytes(b.DumpRaw)
			}
			fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", mark, b.Name, b.Time.Format("2006-01-02 15:04"),
				humanAge(time.Duration(b.AgeSeconds)*time.Second), b.State, raw, humanize.Bytes(b.DumpStored),
				b.Files, humanize.Bytes(b.Bytes), humanize.Bytes(b.UniqueBytes), strings.Join(b.Contents, ", "))
		}
		tw.Flush()
		if l.Latest == "" {
			fmt.Fprintln(w, "backup_latest: missing")
		}
	}
	for _, n := range l.Removed {
		fmt.Fprintf(w, "REMOVED %s: %s\n", n, repo.RemovedWhileRead)
	}
	if len(l.FailedRuns) > 0 {
		fmt.Fprintln(w, "\nRecent failed runs:")
		for _, r := range l.FailedRuns {
			fmt.Fprintf(w, "  %s  %s  step %s: %s\n", r.Time.Format("2006-01-02 15:04"), r.Name, r.Step, r.Error)
		}
	}
}

func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "future"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
