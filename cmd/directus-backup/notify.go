package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/notify"
	"github.com/directus-backup/directus-backup/internal/redact"
)

// outcome is what a notification says about one backup or verify run.
type outcome struct {
	Command string // "backup" or "verify"
	Name    string // the backup, or what verify checked ("all backups")
	Err     error  // nil on success
	Summary string // the run's summary as the text output renders it
}

// notifyRun sends the outcome to BACKUP_NOTIFY_URLS when BACKUP_NOTIFY_ON
// asks for it. A message that cannot be sent is a warning: the run's
// result stands.
func notifyRun(ctx context.Context, cfg *config.Config, log *slog.Logger, o outcome) {
	if len(cfg.NotifyURLs) == 0 || (o.Err == nil && cfg.NotifyOn != config.NotifyOnAlways) {
		return
	}
	host, _ := os.Hostname()
	msg := runMessage(host, o)
	msg.Title = redact.String(msg.Title, cfg.Secrets()...)
	msg.Body = redact.String(msg.Body, cfg.Secrets()...)
	for i, r := range notify.Send(ctx, cfg.NotifyURLs, msg) {
		if r.Err != nil {
			log.Warn("notification not sent; the "+o.Command+"'s result stands",
				"notifier", fmt.Sprintf("%d %s", i+1, r.Label), "err", r.Err)
		} else {
			log.Info("notification sent", "notifier", fmt.Sprintf("%d %s", i+1, r.Label))
		}
	}
}

// runMessage renders an outcome: the title names host, run and result, the
// body adds the failed step, the error and the summary.
func runMessage(host string, o outcome) notify.Message {
	name := o.Name
	if name == "" {
		name = "(not started)"
	}
	run := o.Command + " " + name // "backup backup_...", "verify of all backups"
	if o.Command == "verify" {
		run = "verify of " + name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "host:   %s\n%-7s %s\n", host, o.Command+":", name)
	if o.Err == nil {
		fmt.Fprintf(&b, "result: succeeded\n")
		if o.Summary != "" {
			b.WriteString("\n" + o.Summary)
		}
		return notify.Message{Title: fmt.Sprintf("directus-backup on %s: %s succeeded", host, run), Body: b.String()}
	}
	code := exitcode.Of(o.Err)
	var se *job.StepError
	step := ""
	if errors.As(o.Err, &se) {
		step = se.Step
	}
	title := fmt.Sprintf("directus-backup on %s: %s FAILED (exit %d)", host, run, code)
	if step != "" {
		title = fmt.Sprintf("directus-backup on %s: %s FAILED (step %s, exit %d)", host, run, step, code)
	}
	fmt.Fprintf(&b, "result: FAILED, exit code %d\n", code)
	if step != "" {
		fmt.Fprintf(&b, "step:   %s\n", step)
	}
	fmt.Fprintf(&b, "error:  %s\n", o.Err)
	if se != nil && se.ErrorDir != "" {
		fmt.Fprintf(&b, "log:    %s\n", se.ErrorDir)
	}
	if o.Summary != "" {
		b.WriteString("\n" + o.Summary)
	}
	return notify.Message{Title: title, Body: b.String()}
}
