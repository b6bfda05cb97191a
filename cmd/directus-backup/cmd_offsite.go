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
	"github.com/directus-backup/directus-backup/internal/offsite"
)

func newOffsiteCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "offsite",
		Short: "Copies of the backups in S3-compatible storage: push, list, verify, prune",
		Long: `Keep copies of the complete backups in an S3-compatible bucket
(BACKUP_S3_BUCKET and the BACKUP_S3_* settings), encrypted with age to the
public keys in BACKUP_AGE_RECIPIENTS, so that the backup host can write
copies but never read them back. Uploads files are stored once however many
backups hold them, and the dump in content-defined pieces, so a push after
a day of ordinary changes sends roughly what changed.

With BACKUP_S3_BUCKET set, backup pushes each new backup itself. Restore
from the bucket with restore --offsite. See docs/offsite.md.

` + exitcode.Help("offsite"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newOffsitePushCommand(a), newOffsiteListCommand(a), newOffsiteVerifyCommand(a), newOffsitePruneCommand(a))
	return c
}

// remote loads the settings and opens the bucket they name.
func (a *app) remote(withIdentity bool) (*offsite.Remote, error) {
	cfg, err := a.config(needs{})
	if err != nil {
		return nil, err
	}
	return offsite.New(cfg.Offsite, version, a.logger(cfg, a.stderr, nil), withIdentity)
}

func newOffsitePushCommand(a *app) *cobra.Command {
	var all, asJSON bool
	c := &cobra.Command{
		Use:   "push [BACKUP | --all]",
		Short: "Copy a local backup (default: the latest) to the bucket",
		Long: `Copy BACKUP (default: the one backup_latest points at), or with --all
every complete local backup the bucket does not have yet, oldest first.
Objects the bucket already holds are not sent again; a push that was
stopped half-way resumes where it stopped. Each local file is checked
against its manifest's SHA-256 as it is sent: a damaged local backup is
never copied. The backup appears in the bucket (offsite list) only once
everything it needs is stored.

` + exitcode.Help("offsite"),
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return fmt.Errorf("%w: give a backup name or --all, not both", errUsage)
			}
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			r, err := offsite.New(cfg.Offsite, version, nil, false)
			if err != nil {
				return err
			}
			req := offsite.PushRequest{BackupsDir: cfg.BackupsDir, All: all}
			if len(args) > 0 {
				req.Backup = args[0]
			}
			var logOut io.Writer = a.stderr
			if a.showProgress() {
				var last offsite.Progress
				var mu = make(chan struct{}, 1)
				mu <- struct{}{}
				req.Progress = func(p offsite.Progress) { <-mu; last = p; mu <- struct{}{} }
				d := newLineDisplay(a.stderr, func(el time.Duration) string {
					<-mu
					p := last
					mu <- struct{}{}
					return fmt.Sprintf("[%s] push %s | %s of %s read | %s sent", el.Round(time.Second), p.Backup,
						humanize.Bytes(p.ReadBytes), humanize.Bytes(p.Total), humanize.Bytes(p.SentBytes))
				})
				defer d.Stop()
				logOut = d
			}
			r.Log = a.logger(cfg, logOut, nil)
			rep, err := r.Push(c.Context(), req)
			err = offsite.Code(err)
			if asJSON {
				return a.printResult(rep, err)
			}
			if !a.quiet {
				printPush(a.stdout, rep)
			}
			return err
		},
	}
	c.Flags().BoolVar(&all, "all", false, "push every complete local backup the bucket lacks")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func printPush(w io.Writer, rep offsite.PushReport) {
	enc := "plain (not encrypted)"
	if rep.Encrypted {
		enc = "encrypted with age"
	}
	fmt.Fprintf(w, "Offsite push to %s, %s\n", rep.Where, enc)
	for _, b := range rep.Backups {
		switch {
		case b.Already:
			fmt.Fprintf(w, "  %s  already in the bucket\n", b.Backup)
		case b.Skipped != "":
			fmt.Fprintf(w, "  %s  not pushed: %s\n", b.Backup, b.Skipped)
		default:
			fmt.Fprintf(w, "  %s  %d objects sent (%s), %d already stored (%s); dump: %d of %d pieces sent (%s of %s); files: %d of %d sent, %.1fs\n",
				b.Backup, b.ObjectsSent, humanize.Bytes(b.BytesSent), b.ObjectsSkipped, humanize.Bytes(b.BytesSkipped),
				b.DumpPiecesSent, b.DumpPieces, humanize.Bytes(b.DumpBytesSent), humanize.Bytes(b.DumpBytes),
				b.FilesSent, b.Files, b.Seconds)
		}
	}
	if rep.Extended > 0 {
		fmt.Fprintf(w, "  object lock extended on %d objects\n", rep.Extended)
	}
	fmt.Fprintf(w, "  total: %d objects sent (%s), %d skipped (%s), %.1fs\n",
		rep.ObjectsSent, humanize.Bytes(rep.BytesSent), rep.ObjectsSkipped, humanize.Bytes(rep.BytesSkipped), rep.Seconds)
}

func newOffsiteListCommand(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the backups in the bucket",
		Long: `List the complete backups in the bucket, newest first, and pushes that
have not finished. Needs no private key: the list is read from each
backup's index, which holds no file names or contents.

` + exitcode.Help("offsite"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			r, err := a.remote(false)
			if err != nil {
				return err
			}
			rep, err := r.List(c.Context())
			err = offsite.Code(err)
			if asJSON {
				return a.printResult(rep, err)
			}
			if err != nil {
				return err
			}
			printOffsiteList(a.stdout, rep)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printOffsiteList(w io.Writer, rep offsite.ListReport) {
	fmt.Fprintf(w, "Offsite backups in %s: %d, %d objects, %s stored\n", rep.Where, len(rep.Backups), rep.Objects, humanize.Bytes(rep.StoredBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP\tPUSHED\tENCRYPTED\tFILES\tDUMP\tLOCKED UNTIL")
	for _, b := range rep.Backups {
		if b.Err != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tunreadable index: %s\n", b.Backup, b.Err)
			continue
		}
		locked := "-"
		if !b.RetainUntil.IsZero() {
			locked = b.RetainUntil.Local().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d (%s)\t%s\t%s\n", b.Backup, b.PushedAt.Local().Format("2006-01-02 15:04"),
			yesNo(b.Encrypted), b.Files, humanize.Bytes(b.FileBytes), humanize.Bytes(b.DumpBytes), locked)
	}
	tw.Flush()
	for _, p := range rep.Partial {
		fmt.Fprintf(w, "unfinished push: %s (last written %s); the next push completes it\n", p.Backup, p.Modified.Local().Format("2006-01-02 15:04"))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newOffsiteVerifyCommand(a *app) *cobra.Command {
	var all, readData, asJSON bool
	c := &cobra.Command{
		Use:   "verify [BACKUP | --all]",
		Short: "Check that the bucket holds every object of a backup",
		Long: `Check BACKUP (default: the newest in the bucket), or all of them: every
object it references exists with its recorded size. Needs no private key.

--read-data also downloads every object, decrypts it (with
BACKUP_AGE_IDENTITY_FILE when the copies are encrypted) and checks its
SHA-256, and that the dump's pieces make up the dump.

` + exitcode.Help("offsite"),
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return fmt.Errorf("%w: give a backup name or --all, not both", errUsage)
			}
			r, err := a.remote(readData)
			if err != nil {
				return err
			}
			req := offsite.VerifyRequest{All: all, ReadData: readData}
			if len(args) > 0 {
				req.Backup = args[0]
			}
			rep, err := r.Verify(c.Context(), req)
			err = offsite.Code(err)
			if err == nil && rep.Problems > 0 {
				err = exitcode.With(exitcode.Problems, fmt.Errorf("offsite verify found %d problems", rep.Problems))
			}
			if asJSON {
				return a.printResult(rep, err)
			}
			for _, b := range rep.Backups {
				status := "OK"
				if !b.OK {
					status = "PROBLEMS"
				}
				fmt.Fprintf(a.stdout, "%-8s %s: %d objects present (%s)", status, b.Backup, b.Objects, humanize.Bytes(b.Bytes))
				if rep.ReadData {
					fmt.Fprintf(a.stdout, ", %s read and checked", humanize.Bytes(b.ReadBytes))
				}
				fmt.Fprintln(a.stdout)
				for _, p := range b.Problems {
					fmt.Fprintf(a.stdout, "         %s\n", p)
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&all, "all", false, "verify every backup in the bucket")
	c.Flags().BoolVar(&readData, "read-data", false, "download, decrypt and hash every object (needs BACKUP_AGE_IDENTITY_FILE when encrypted)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newOffsitePruneCommand(a *app) *cobra.Command {
	var dryRun, asJSON bool
	var grace time.Duration
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove offsite backups per retention, then unreferenced objects",
		Long: `Remove the backups in the bucket that BACKUP_OFFSITE_RETENTION_DAYS and
BACKUP_OFFSITE_RETENTION_COUNT no longer keep (the same rule as the local
retention; the newest backup is never removed), then the objects no
remaining backup references and older than --grace. This is the only
command that deletes from the bucket: run it with credentials that may
delete, from a machine other than the backup host (docs/offsite.md).

Objects under object lock retention are kept and counted. A prune never
deletes data objects while a push is running.

` + exitcode.Help("offsite"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if grace < 0 {
				return fmt.Errorf("%w: --grace must not be negative", errUsage)
			}
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			r, err := offsite.New(cfg.Offsite, version, a.logger(cfg, a.stderr, nil), false)
			if err != nil {
				return err
			}
			rep, err := r.Prune(c.Context(), offsite.PruneRequest{Days: cfg.Offsite.RetentionDays, Count: cfg.Offsite.RetentionCount,
				Grace: grace, DryRun: dryRun})
			err = offsite.Code(err)
			if asJSON {
				return a.printResult(rep, err)
			}
			if err != nil {
				return err
			}
			printOffsitePrune(a.stdout, rep)
			return nil
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "delete nothing; show what would be deleted and why each backup is kept")
	c.Flags().DurationVar(&grace, "grace", offsite.DefaultGrace, "keep unreferenced objects younger than this (a push running meanwhile may need them)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printOffsitePrune(w io.Writer, rep offsite.PruneReport) {
	if rep.DryRun {
		fmt.Fprintf(w, "Offsite prune dry run in %s: nothing was deleted.\n", rep.Where)
	} else {
		fmt.Fprintf(w, "Offsite prune in %s\n", rep.Where)
	}
	for _, d := range rep.Decisions {
		verb := "keep  "
		if !d.Keep {
			verb = "remove"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", verb, d.Backup, d.Reason)
	}
	if len(rep.PartialRemoved) > 0 {
		fmt.Fprintf(w, "  unfinished pushes removed: %s\n", strings.Join(rep.PartialRemoved, ", "))
	}
	what := "deleted"
	if rep.DryRun {
		what = "would be deleted"
	}
	fmt.Fprintf(w, "  objects: %d %s (%s), %d still referenced, %d unreferenced but younger than the grace period, %d under object lock\n",
		rep.ObjectsDeleted, what, humanize.Bytes(rep.BytesDeleted), rep.ObjectsKept, rep.ObjectsYoung, rep.ObjectsLocked)
	if rep.GCSkipped != "" {
		fmt.Fprintf(w, "  no object deleted: %s\n", rep.GCSkipped)
	}
}
