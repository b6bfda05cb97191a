// Package metrics writes the Prometheus textfile (node_exporter's textfile
// collector format) that BACKUP_METRICS_FILE names. Each backup or verify
// run reads the file back, replaces the metrics it owns and writes it
// atomically (temp file in the same folder, then rename), so the collector
// never reads half a file and a failed backup keeps the last success time.
package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// Metric names, all gauges.
const (
	LastRun         = "directus_backup_last_run_timestamp_seconds"
	LastSuccess     = "directus_backup_last_success_timestamp_seconds"
	LastOK          = "directus_backup_last_run_success"
	ExitCode        = "directus_backup_last_exit_code"
	Duration        = "directus_backup_last_duration_seconds"
	StepDuration    = "directus_backup_step_duration_seconds"
	DumpRawBytes    = "directus_backup_dump_raw_bytes"
	DumpStoredBytes = "directus_backup_dump_stored_bytes"
	FilesTotal      = "directus_backup_uploads_files"
	FilesCopied     = "directus_backup_uploads_files_copied"
	FilesLinked     = "directus_backup_uploads_files_linked"
	BytesCopied     = "directus_backup_uploads_copied_bytes"
	BackupsKept     = "directus_backup_backups_kept"
	FreeBytes       = "directus_backup_backups_dir_free_bytes"
	OffsiteBytes    = "directus_backup_offsite_sent_bytes"
	OffsiteObjects  = "directus_backup_offsite_sent_objects"
	LastVerifyRun   = "directus_backup_verify_last_run_timestamp_seconds"
	LastVerifyOK    = "directus_backup_verify_last_success_timestamp_seconds"
)

var help = map[string]string{
	LastRun:         "Unix time the last backup run ended, success or not.",
	LastSuccess:     "Unix time the last successful backup run ended.",
	LastOK:          "1 if the last backup run succeeded, else 0.",
	ExitCode:        "Exit code of the last backup run (0 = success; see docs for the others).",
	Duration:        "Duration of the last backup run in seconds.",
	StepDuration:    "Duration of each step of the last backup run in seconds.",
	DumpRawBytes:    "Size of the last run's database dump before compression.",
	DumpStoredBytes: "Size of the last run's database dump as stored.",
	FilesTotal:      "Upload files in the last backup.",
	FilesCopied:     "Upload files the last run copied (new or changed).",
	FilesLinked:     "Upload files the last run hard-linked to the previous backup.",
	BytesCopied:     "Bytes of upload files the last run copied.",
	BackupsKept:     "Backups left in BACKUPS_DIR after the last run's cleanup.",
	FreeBytes:       "Free bytes left in BACKUPS_DIR after the last run.",
	OffsiteBytes:    "Bytes the last run's offsite push sent to the bucket.",
	OffsiteObjects:  "Objects the last run's offsite push sent to the bucket.",
	LastVerifyRun:   "Unix time the last verify ended, success or not.",
	LastVerifyOK:    "Unix time of the last verify that found no problem.",
}

// Backup is the outcome of one backup run. Negative counts are unknown and
// left out (a run that failed before the dump has no dump size).
type Backup struct {
	Started, Finished time.Time
	ExitCode          int // 0 = success
	Steps             []Step
	DumpRawBytes      int64
	DumpStoredBytes   int64
	FilesTotal        int64
	FilesCopied       int64
	FilesLinked       int64
	BytesCopied       int64
	BackupsKept       int64
	FreeBytes         int64
	// Offsite is set when a push ran.
	Offsite *Offsite
	// Verified is set when the run verified the new backup successfully
	// (BACKUP_VERIFY).
	Verified bool
}

// Step is one step's duration.
type Step struct {
	Name    string
	Seconds float64
}

// Offsite is what a push sent.
type Offsite struct {
	Bytes, Objects int64
}

// WriteBackup rewrites path with the outcome of a backup run. It keeps the
// verify metrics, and the last success time when this run failed.
func WriteBackup(ctx context.Context, path string, b Backup) error {
	old, err := Read(path)
	if err != nil {
		return err
	}
	fams := map[string]*dto.MetricFamily{}
	for _, keep := range []string{LastVerifyRun, LastVerifyOK} {
		if f, ok := old[keep]; ok {
			fams[keep] = f
		}
	}
	end := float64(b.Finished.UnixNano()) / 1e9
	ok := b.ExitCode == 0
	set(fams, LastRun, end)
	if ok {
		set(fams, LastSuccess, end)
	} else if f, found := old[LastSuccess]; found {
		fams[LastSuccess] = f
	}
	set(fams, LastOK, boolValue(ok))
	set(fams, ExitCode, float64(b.ExitCode))
	set(fams, Duration, b.Finished.Sub(b.Started).Seconds())
	for _, s := range b.Steps {
		add(fams, StepDuration, s.Seconds, "step", s.Name)
	}
	for name, v := range map[string]int64{DumpRawBytes: b.DumpRawBytes, DumpStoredBytes: b.DumpStoredBytes,
		FilesTotal: b.FilesTotal, FilesCopied: b.FilesCopied, FilesLinked: b.FilesLinked, BytesCopied: b.BytesCopied,
		BackupsKept: b.BackupsKept, FreeBytes: b.FreeBytes} {
		if v >= 0 {
			set(fams, name, float64(v))
		}
	}
	if o := b.Offsite; o != nil {
		set(fams, OffsiteBytes, float64(o.Bytes))
		set(fams, OffsiteObjects, float64(o.Objects))
	}
	if b.Verified && ok {
		set(fams, LastVerifyRun, end)
		set(fams, LastVerifyOK, end)
	}
	return write(ctx, path, fams)
}

// WriteVerify records a verify run in path, keeping everything else.
func WriteVerify(ctx context.Context, path string, finished time.Time, ok bool) error {
	fams, err := Read(path)
	if err != nil {
		return err
	}
	end := float64(finished.UnixNano()) / 1e9
	set(fams, LastVerifyRun, end)
	if ok {
		set(fams, LastVerifyOK, end)
	}
	return write(ctx, path, fams)
}

// Read parses path; a missing file is an empty set. A file that does not
// parse is an error: it is not ours to overwrite blindly (BACKUP_METRICS_FILE
// may name the wrong file).
func Read(path string) (map[string]*dto.MetricFamily, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*dto.MetricFamily{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the metrics file: %w", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("metrics file %s is not Prometheus text format (left as it is): %w", path, err)
	}
	return fams, nil
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// set replaces name's family with one unlabelled gauge.
func set(fams map[string]*dto.MetricFamily, name string, v float64) {
	delete(fams, name)
	add(fams, name, v)
}

// add appends a gauge sample with the given label pairs.
func add(fams map[string]*dto.MetricFamily, name string, v float64, labels ...string) {
	f, ok := fams[name]
	if !ok {
		f = &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help[name]), Type: dto.MetricType_GAUGE.Enum()}
		fams[name] = f
	}
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	f.Metric = append(f.Metric, m)
}

// write encodes fams sorted by name into a temp file beside path, mode
// 0644 (the collector often runs as another user), and renames it over
// path.
func write(ctx context.Context, path string, fams map[string]*dto.MetricFamily) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		if _, err := expfmt.MetricFamilyToText(&buf, fams[n]); err != nil {
			return fmt.Errorf("encode metric %s: %w", n, err)
		}
	}
	dir, base := filepath.Split(path)
	// The collector reads only *.prom: the temp name does not end so.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write the metrics file: %w", err)
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the metrics file: %w", err)
	}
	return nil
}
