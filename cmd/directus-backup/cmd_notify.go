package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/notify"
)

// notifyFailed is notify --test's error when some URL got no message.
type notifyFailed struct{ failed, total int }

func (e notifyFailed) Error() string {
	return fmt.Sprintf("%d of %d notification URLs could not be sent to", e.failed, e.total)
}
func (notifyFailed) ExitCode() int { return exitcode.Failure }

// notifyDoc is the JSON form of notify --test (docs/usage.md).
type notifyDoc struct {
	OK      bool              `json:"ok"`
	Results []notifyResultDoc `json:"results"`
}

type notifyResultDoc struct {
	N        int    `json:"n"`        // the URL's place in BACKUP_NOTIFY_URLS, from 1
	Notifier string `json:"notifier"` // the URL without its secrets
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

func newNotifyCommand(a *app) *cobra.Command {
	var test, asJSON bool
	c := &cobra.Command{
		Use:   "notify --test",
		Short: "Send a test message to every notification URL (BACKUP_NOTIFY_URLS)",
		Long: `Send one test message to every URL of BACKUP_NOTIFY_URLS, in parallel, and
print for each whether it was delivered (URLs shown without their passwords
and tokens). Backups and verify runs send to the same URLs on failure (or
always, with BACKUP_NOTIFY_ON=always); see docs/monitoring.md.

Exit code 0 when every URL took the message, 1 when any did not.

` + exitcode.Help("notify"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{})
			if err != nil {
				return err
			}
			if !test {
				return fmt.Errorf("%w: notify needs --test (the only action so far)", errUsage)
			}
			if len(cfg.NotifyURLs) == 0 {
				return fmt.Errorf("%w: BACKUP_NOTIFY_URLS is not set (nor BACKUP_NOTIFY_URLS_FILE): no URL to send to", errUsage)
			}
			host, _ := os.Hostname()
			msg := notify.Message{
				Title: fmt.Sprintf("directus-backup on %s: test message", host),
				Body: fmt.Sprintf("This is a test message from directus-backup notify --test on %s.\n"+
					"Backups that fail will be reported here.\n", host),
			}
			doc := notifyDoc{OK: true, Results: []notifyResultDoc{}}
			failed := 0
			for i, r := range notify.Send(c.Context(), cfg.NotifyURLs, msg) {
				d := notifyResultDoc{N: i + 1, Notifier: r.Label, OK: r.Err == nil}
				if r.Err != nil {
					d.Error = r.Err.Error()
					failed++
					doc.OK = false
				}
				doc.Results = append(doc.Results, d)
			}
			var rerr error
			if failed > 0 {
				rerr = notifyFailed{failed: failed, total: len(cfg.NotifyURLs)}
			}
			if asJSON {
				return a.printResult(doc, rerr)
			}
			var b strings.Builder
			printNotify(&b, doc)
			if _, err := io.WriteString(a.stdout, a.redact(b.String())); err != nil {
				return err
			}
			return rerr
		},
	}
	c.Flags().BoolVar(&test, "test", false, "send a test message to every URL")
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return c
}

func printNotify(w io.Writer, doc notifyDoc) {
	for _, r := range doc.Results {
		if r.OK {
			fmt.Fprintf(w, "%-6s %d %s: test message sent\n", "ok", r.N, r.Notifier)
		} else {
			fmt.Fprintf(w, "%-6s %d %s: %s\n", "FAILED", r.N, r.Notifier, r.Error)
		}
	}
}
