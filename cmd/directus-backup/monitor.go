package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/metrics"
	"github.com/directus-backup/directus-backup/internal/ping"
	"github.com/directus-backup/directus-backup/internal/redact"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// monitorBudget bounds the time pings and the metrics file may add to a
// run, also after a signal: the failure ping is most useful then.
const monitorBudget = 45 * time.Second

// monitor reports one backup run to BACKUP_PING_URL and BACKUP_METRICS_FILE.
// Nothing it does can fail the run: problems are warnings.
type monitor struct {
	cfg    *config.Config
	log    *slog.Logger
	pinger *ping.Pinger
}

// startMonitor sends the start ping (when a ping URL is set).
func startMonitor(ctx context.Context, cfg *config.Config, log *slog.Logger) *monitor {
	m := &monitor{cfg: cfg, log: log}
	if cfg.PingURL != "" {
		m.pinger = ping.New(cfg.PingURL)
		m.pinger.ExitStatus = cfg.PingExitStatus
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), monitorBudget)
		defer cancel()
		if err := m.pinger.Start(pctx); err != nil {
			m.log.Warn("health-check ping not sent; the backup goes on", "err", err)
		}
	}
	return m
}

// finish writes the metrics file and sends the end ping: success, or
// /fail with the error and the end of the run's log (secrets removed).
func (m *monitor) finish(ctx context.Context, rep *job.Report, runErr error, logText []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), monitorBudget)
	defer cancel()
	code := exitcode.Of(runErr)
	if m.cfg.MetricsFile != "" {
		if err := metrics.WriteBackup(ctx, m.cfg.MetricsFile, backupMetrics(m.cfg, rep, code)); err != nil {
			m.log.Warn("metrics file not written", "file", m.cfg.MetricsFile, "err", err)
		}
	}
	if m.pinger == nil {
		return
	}
	var err error
	if runErr == nil {
		summary := "backup complete"
		if rep != nil {
			summary = fmt.Sprintf("backup complete: %s in %s", rep.Name, rep.Finished.Sub(rep.Started).Round(10*time.Millisecond))
		}
		err = m.pinger.Success(ctx, summary)
	} else {
		host, _ := os.Hostname()
		head := fmt.Sprintf("directus-backup backup failed on %s (exit code %d): %v\n\nlast log lines:\n", host, code, runErr)
		tail := ping.Tail(string(logText), ping.MaxBody-len(head))
		err = m.pinger.Fail(ctx, code, redact.String(head+tail, m.cfg.Secrets()...))
	}
	if err != nil {
		m.log.Warn("health-check ping not sent; the backup's result stands", "err", err)
	}
}

// backupMetrics is the metrics form of a run; rep may be nil (a run that
// could not start).
func backupMetrics(cfg *config.Config, rep *job.Report, code int) metrics.Backup {
	now := time.Now()
	b := metrics.Backup{Started: now, Finished: now, ExitCode: code,
		DumpRawBytes: -1, DumpStoredBytes: -1, FilesTotal: -1, FilesCopied: -1, FilesLinked: -1, BytesCopied: -1,
		BackupsKept: -1, FreeBytes: -1}
	if free, err := repo.FreeBytes(cfg.BackupsDir); err == nil {
		b.FreeBytes = int64(free)
	}
	if rep == nil {
		return b
	}
	if !rep.Started.IsZero() {
		b.Started = rep.Started
	}
	if !rep.Finished.IsZero() {
		b.Finished = rep.Finished
	}
	steps := map[string]bool{}
	for _, s := range rep.Steps {
		b.Steps = append(b.Steps, metrics.Step{Name: s.Name, Seconds: s.Seconds})
		steps[s.Name] = true
	}
	// A step is listed only once every step before it succeeded, so the
	// next step's entry says a step finished: a half-made dump or uploads
	// copy has no numbers worth graphing.
	if steps[job.StepFinalize] {
		b.DumpRawBytes, b.DumpStoredBytes = rep.Dump.RawBytes, rep.Dump.Bytes
		u := rep.Uploads
		b.FilesTotal, b.FilesCopied, b.FilesLinked, b.BytesCopied = u.Files, u.Copied, u.Linked, u.CopiedBytes
	}
	if steps[job.StepCleanup] {
		b.BackupsKept = int64(len(rep.Cleanup.Kept))
	}
	if o := rep.Offsite; o != nil {
		b.Offsite = &metrics.Offsite{Bytes: o.BytesSent, Objects: o.ObjectsSent}
	}
	b.Verified = cfg.Verify != config.VerifyOff && steps[job.StepLatest]
	return b
}
