package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// target is one of the goals, checked for information only.
func (h *harness) targets() []string {
	var out []string
	get := func(s, c, m string) []float64 {
		for _, sr := range h.results {
			if sr.Name == s {
				if cr := sr.contender(c); cr != nil {
					return cr.Values[m]
				}
			}
		}
		return nil
	}
	med := func(xs []float64) float64 { return summarize(xs).Median }
	check := func(label string, v float64, limit float64, unit string, lessIsBetter bool) {
		if math.IsNaN(v) {
			return
		}
		ok := v <= limit
		if !lessIsBetter {
			ok = v >= limit
		}
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		op := "≤"
		if !lessIsBetter {
			op = "≥"
		}
		out = append(out, fmt.Sprintf("| %s | %.2f%s | %s %.2f%s | %s |", md(label), v, unit, op, limit, unit, mark))
	}
	r := func(s, a, b, m string) float64 {
		x, y := get(s, a, m), get(s, b, m)
		if len(x) == 0 || len(y) == 0 {
			return math.NaN()
		}
		return med(x) / med(y)
	}
	check("full backup wall time, tool / baseline", r("full", cTool, cBase, mWall), 0.35, "×", true)
	check("incremental backup wall time, tool / baseline", r("incremental", cTool, cBase, mWall), 0.30, "×", true)
	check("uploads step wall time, tool / rsync --link-dest", r("uploads", cTool, cBase, mWall), 0.40, "×", true)
	check("uploads step wall time, tool / floor (find + cp -al)", r("uploads", cTool, cFloor, mWall), 1.5, "×", true)
	if x := r("full", cTool, cBase, mDump); !math.IsNaN(x) {
		check("compressed dump size vs gzip -9", (x-1)*100, 2, "%", true)
	}
	if pk, add := get("full", cTool, mPeakDisk), get("full", cTool, mDiskAdded); len(pk) > 0 && len(add) > 0 && len(h.rawDump) > 0 {
		// Peak minus final should be far below the raw dump's size.
		check("full backup: (peak extra disk − disk added) / raw dump size", (med(pk)-med(add))/mib(int64(med(h.rawDump))), 0.10, "", true)
	}
	check("restore-db wall time, tool / gunzip | psql", r("restore-db", cTool, cBase, mWall), 1.0, "×", true)
	check("restore-uploads wall time, tool / rsync -a", r("restore-uploads", cTool, cBase, mWall), 1.0, "×", true)
	check("restore-uploads-live (unchanged folder) wall time, tool / rsync -a --delete + sync", r("restore-uploads-live", cTool, cBase, mWall), 1.5, "×", true)
	check("verify wall time, tool / sha256sum", r("verify", cTool, cBase, mWall), 1.2, "×", true)
	check("uploads step peak RSS, 1,000,000 files − 10,000 files", h.memGrowth, 50, " MiB", true)
	out = append(out, h.dumpCPURows()...)
	// The offsite figures the issue asks for; it sets no goal for them.
	info := func(label string, v float64, unit string) {
		if !math.IsNaN(v) {
			out = append(out, fmt.Sprintf("| %s | %.2f%s | (no target) | — |", md(label), v, unit))
		}
	}
	info("offsite push wall time, tool / aws s3 cp style", r("offsite-push", cTool, cBase, mWall), "×")
	for _, s := range []string{"offsite-push-incremental", "offsite-push-append"} {
		if x := get(s, cTool, mDumpShare); len(x) > 0 {
			info(s+": dump bytes sent / compressed dump", med(x), "%")
		}
		info(s+": bytes sent, tool / aws s3 cp style", r(s, cTool, cBase, mSent), "×")
	}
	info("offsite-restore wall time, tool / download + gunzip | psql + cp", r("offsite-restore", cTool, cBase, mWall), "×")
	if h.hasZstd {
		if x := r("full", cZstd, cBase, mWall); !math.IsNaN(x) {
			out = append(out, fmt.Sprintf("| full backup wall time, zstd / baseline | %.2f× | (no target) | — |", x))
		}
	}
	return out
}

func (h *harness) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# directus-backup benchmark: %s\n\n", h.spec.Name)
	fmt.Fprintf(&b, "Run %s, %d timed run(s) per contender and scenario after one untimed warm-up run of each, in %.0f s.",
		h.started.UTC().Format("2006-01-02 15:04 MST"), h.cfg.Reps, time.Since(h.started).Seconds())
	if h.cfg.Commit != "" {
		fmt.Fprintf(&b, " Source: %s.", h.cfg.Commit)
	}
	b.WriteString(" Produced by `bench/run.sh` (see bench/README.md).\n\n")

	b.WriteString("## Machine\n\n| | |\n|---|---|\n")
	for _, kv := range h.machine() {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], md(kv[1]))
	}

	b.WriteString("\n## Method\n\n")
	b.WriteString("- Each contender runs as a child process of the harness, with the same settings: `BACKUP_GZIP_LEVEL=9` " +
		"(the original backup.sh's default), `BACKUP_DB_METHOD=local`, the database through `DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_DATABASE`, " +
		"a distinct `BACKUP_TIMESTAMP` per run. The baseline is `bench/baseline.sh`, the original backup.sh's pipeline in shell.\n")
	b.WriteString("- Contenders alternate: forward order on even runs, reversed on odd ones. The page cache is not dropped " +
		"(that needs root and is not portable); instead every contender does one untimed warm-up run per scenario, so " +
		"timed runs start from a warm cache (but see \"page cache\" above).\n")
	b.WriteString("- Wall time is measured around the child; CPU (user+sys) and peak RSS come from the child's rusage (wait4), " +
		"which includes its waited-for descendants (pg_dump, gzip, rsync, psql). Peak RSS is the largest single process of " +
		"that tree, as the kernel reports it, not a sum. Peak extra disk samples statfs of the bench filesystem every 20 ms; " +
		"zero is the use just before the run.\n")
	b.WriteString("- Before each run the harness calls sync(2) and waits until the filesystem's use holds still, so no run " +
		"pays for an earlier one's writeback. directus-backup makes its output durable (fsync of what it wrote, or syncfs when that is cheaper) before it exits; the shell " +
		"commands do not, and their writeback happens after they exit. The row \"wall time + sync(2) right after exit\" " +
		"adds the time of a sync right after each run: durable-to-durable.\n")
	if h.cfg.Load > 0 {
		fmt.Fprintf(&b, "- **Loaded machine**: %d CPU-bound busy process(es) (`bench burn`, each in its own process group) ran during every "+
			"timed and warm-up run, as on a busy server; the machine table gives the load sampled during the runs.\n", h.cfg.Load)
	}
	b.WriteString("- Cells are `median (min–max)` over the timed runs; ratios are medians divided by the baseline's median " +
		"(below 1 means less time, CPU, memory or disk than the baseline).\n")

	b.WriteString("\n## Dataset\n\n")
	b.WriteString(h.datasetText())

	for _, sr := range h.results {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sr.Title, sr.Description)
		if t := sr.table(); t != "" {
			b.WriteString(t)
		}
		if sr.Extra != "" {
			b.WriteString(sr.Extra)
		}
		if sr.Name == "full" {
			sr.Notes = append(sr.Notes, h.fullNotes(sr)...)
		}
		if len(sr.Notes) > 0 {
			b.WriteString("\n")
			for _, n := range sr.Notes {
				b.WriteString("- " + n + "\n")
			}
		}
	}

	if t := h.targets(); len(t) > 0 {
		b.WriteString("\n## The issue's targets (information only; nothing here fails the run)\n\n| target | measured | goal | |\n|---|---|---|---|\n")
		b.WriteString(strings.Join(t, "\n") + "\n")
	}
	if len(h.failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range h.failures {
			b.WriteString("```\n" + f + "\n```\n")
		}
	}
	return b.String()
}

func (h *harness) fullNotes(sr *scenarioResult) []string {
	var notes []string
	base := sr.contender(cBase)
	for _, c := range sr.Contenders[1:] {
		if len(c.Values[mDump]) > 0 && len(base.Values[mDump]) > 0 {
			notes = append(notes, fmt.Sprintf("%s dump: %.2f MiB vs gzip -%d's %.2f MiB: **%+.2f%%**.", c.Label,
				c.median(mDump), 9, base.median(mDump), (c.median(mDump)/base.median(mDump)-1)*100))
		}
	}
	if len(h.rawDump) > 0 {
		raw := mib(int64(summarize(h.rawDump).Median))
		for _, c := range sr.Contenders {
			if len(c.Values[mPeakDisk]) == 0 {
				continue
			}
			pk, add := c.median(mPeakDisk), c.median(mDiskAdded)
			verdict := "no uncompressed dump on disk"
			if pk-add > raw/2 {
				verdict = "the uncompressed dump was on disk"
			}
			notes = append(notes, fmt.Sprintf("%s: peak extra disk %.1f MiB, final %.1f MiB, difference %.1f MiB, raw dump %.1f MiB: %s.",
				c.Label, pk, add, pk-add, raw, verdict))
		}
	}
	return notes
}
