package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func (h *harness) datasetText() string {
	var b strings.Builder
	d := h.data
	var tb, rows int64
	names := make([]string, 0, len(d.TableBytes))
	for n, v := range d.TableBytes {
		tb += v
		rows += d.TableRows[n]
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "Generated in %.0f s from fixed seeds (the same bytes on every run).\n\n", d.GenSeconds)
	b.WriteString("Database `directus_bench`: Directus-like tables filled with Zipf-distributed words from a fixed vocabulary, " +
		"JSON documents, numbers, timestamps and UUIDs")
	if d.PgbenchScale > 0 {
		fmt.Fprintf(&b, ", plus `pgbench -i -s %d` tables (their blank filler compresses about 50×)", d.PgbenchScale)
	}
	b.WriteString(".\n\n| table | rows | generated COPY text (MiB) |\n|---|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| %s | %d | %.1f |\n", n, d.TableRows[n], mib(d.TableBytes[n]))
	}
	if len(h.rawDump) > 0 {
		fmt.Fprintf(&b, "\nPlain dump (`pg_dump --format=plain --clean --if-exists`, as seen by the baseline): **%.1f MiB**", mib(int64(summarize(h.rawDump).Median)))
		for _, sr := range h.results {
			if sr.Name == "full" {
				if c := sr.contender(cBase); c != nil && len(c.Values[mDump]) > 0 {
					fmt.Fprintf(&b, "; `gzip -9`: %.1f MiB (%.2f:1)", c.median(mDump), mib(int64(summarize(h.rawDump).Median))/c.median(mDump))
				}
			}
		}
		b.WriteString(".\n")
	}
	fmt.Fprintf(&b, "\nUploads: **%d files, %.1f MiB** in year/month folders (some with a `thumbs/` subfolder); sizes 1–64 KiB (92%%), "+
		"64 KiB–1 MiB (7.6%%), 1–8 MiB (0.4%%); %d files (%.1f MiB) incompressible random bytes (media), the rest text, "+
		"JSON, CSV and markup.\n", d.Files, mib(d.FileBytes), d.RandomFiles, mib(d.RandomBytes))
	var day []changeStats
	for _, c := range h.changes {
		if c.Kind == changeDay {
			day = append(day, c)
		}
	}
	if len(day) > 0 {
		var m, a, del int
		var mb, ab int64
		for _, c := range day {
			m += c.Modified
			a += c.Added
			del += c.Deleted
			mb += c.ModifiedBytes
			ab += c.AddedBytes
		}
		n := len(day)
		fmt.Fprintf(&b, "\nOne day of changes (%d change sets applied, average per set): %d files rewritten (%.1f MiB), %d added (%.1f MiB), "+
			"%d deleted; about 1%% of the rows of every table updated (activity: 1%% inserted); directus_files kept in step.\n",
			n, m/n, mib(mb/int64(n)), a/n, mib(ab/int64(n)), del/n)
	}
	b.WriteString(h.otherChangesText())
	return b.String()
}

// writeReport writes the Markdown report (and the raw numbers as JSON
// beside it) and prints the report on stdout.
func (h *harness) writeReport() error {
	text := h.report()
	fmt.Println(text)
	if err := os.MkdirAll(filepath.Dir(h.cfg.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(h.cfg.Out, []byte(text), 0o644); err != nil {
		return err
	}
	raw := map[string]any{
		"size": h.spec.Name, "reps": h.cfg.Reps, "started": h.started, "commit": h.cfg.Commit,
		"machine": h.machine(), "dataset": h.data, "raw_dump_bytes": h.rawDump, "changes": h.changes,
		"scenarios": h.results, "failures": h.failures,
	}
	data, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	js := strings.TrimSuffix(h.cfg.Out, filepath.Ext(h.cfg.Out)) + ".json"
	if err := os.WriteFile(js, data, 0o644); err != nil {
		return err
	}
	logf("report written to %s (raw numbers: %s)", h.cfg.Out, js)
	return nil
}
