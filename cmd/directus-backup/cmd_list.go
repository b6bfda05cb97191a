package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// listedBackup is one row of `list` (and its JSON form).
type listedBackup struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Time        time.Time `json:"time"`
	AgeSeconds  int64     `json:"age_seconds"`
	State       string    `json:"state"`
	Latest      bool      `json:"latest"`
	DumpRaw     int64     `json:"dump_raw_bytes,omitempty"`
	DumpStored  int64     `json:"dump_bytes"`
	Files       int64     `json:"files"`
	Bytes       int64     `json:"bytes"`
	UniqueBytes int64     `json:"unique_bytes"`
	Problem     string    `json:"problem,omitempty"`
}

type listing struct {
	BackupsDir string          `json:"backups_dir"`
	Latest     string          `json:"latest"`
	Backups    []listedBackup  `json:"backups"`
	Removed    []string        `json:"removed"` // retired while being read, skipped
	FailedRuns []job.FailedRun `json:"failed_runs"`
}

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
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			rl, err := readBackups(c.Context(), cfg.BackupsDir, a.logger(cfg, a.stderr, nil))
			if err != nil {
				return err
			}
			defer rl.Release()
			l, err := buildListing(cfg.BackupsDir, cfg.ErrorDir, failedRuns)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			printListing(a.stdout, l)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (for scripts and monitoring)")
	c.Flags().IntVar(&failedRuns, "failed-runs", 5, "how many recent failed runs to show")
	return c
}

func buildListing(backupsDir, errorDir string, failedRuns int) (*listing, error) {
	l := &listing{BackupsDir: backupsDir, Backups: []listedBackup{}, Removed: []string{}, FailedRuns: []job.FailedRun{}}
	backups, err := repo.List(backupsDir)
	if errors.Is(err, fs.ErrNotExist) {
		// Before the first backup: nothing to list, not an error.
		backups, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", backupsDir, err)
	}
	l.Latest, _ = repo.Latest(backupsDir)
	now := time.Now()
	for _, b := range backups {
		lb := listedBackup{Name: b.Name, Path: b.Path, Time: b.Time, AgeSeconds: int64(now.Sub(b.Time).Seconds()),
			State: string(b.State), Latest: b.Name == l.Latest}
		if b.Manifest != nil {
			lb.DumpRaw = b.Manifest.Database.RawBytes
			lb.DumpStored = b.Manifest.Database.Bytes
		} else if f := b.DumpFile(); f != "" {
			if fi, err := os.Stat(f); err == nil {
				lb.DumpStored = fi.Size()
			}
		}
		if b.Err != nil {
			lb.Problem = b.Err.Error()
		}
		u, err := repo.DiskUsage(b)
		if (err != nil || b.State == repo.Incomplete) && b.Gone() {
			l.Removed = append(l.Removed, b.Name)
			continue
		}
		if err != nil && lb.Problem == "" {
			lb.Problem = err.Error()
		}
		lb.Files, lb.Bytes, lb.UniqueBytes = u.Files, u.Bytes, u.UniqueBytes
		l.Backups = append(l.Backups, lb)
	}
	runs, err := job.FailedRuns(errorDir)
	if err != nil {
		return nil, fmt.Errorf("list error folders in %s: %w", errorDir, err)
	}
	if len(runs) > max(failedRuns, 0) {
		runs = runs[:max(failedRuns, 0)]
	}
	l.FailedRuns = append(l.FailedRuns, runs...)
	return l, nil
}

func printListing(w io.Writer, l *listing) {
	if len(l.Backups) == 0 {
		fmt.Fprintf(w, "No backups yet in %s\n", l.BackupsDir)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tTIME\tAGE\tSTATE\tDUMP RAW\tDUMP\tFILES\tTOTAL\tOWN")
		for _, b := range l.Backups {
			mark := " "
			if b.Latest {
				mark = "*"
			}
			raw := "-"
			if b.DumpRaw > 0 {
				raw = job.HumanBytes(b.DumpRaw)
			}
			fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", mark, b.Name, b.Time.Format("2006-01-02 15:04"),
				humanAge(time.Duration(b.AgeSeconds)*time.Second), b.State, raw, job.HumanBytes(b.DumpStored),
				b.Files, job.HumanBytes(b.Bytes), job.HumanBytes(b.UniqueBytes))
		}
		tw.Flush()
		if l.Latest == "" {
			fmt.Fprintln(w, "backup_latest: missing")
		}
	}
	for _, n := range l.Removed {
		fmt.Fprintf(w, "REMOVED %s: %s\n", n, removedWhileRead)
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
