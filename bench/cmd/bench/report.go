package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var metricLabels = map[string]string{
	mWall:      "wall time (s)",
	mCPU:       "CPU user+sys (s)",
	mSys:       "of which sys (s)",
	mDurable:   "wall time + sync(2) right after exit (s)",
	mRSS:       "peak RSS, largest process (MiB)",
	mPeakDisk:  "peak extra disk during the run (MiB)",
	mDiskAdded: "disk added by the run (MiB)",
	mDump:      "dump file (MiB)",
	mTotal:     "backup folder, apparent size (MiB)",
	mLock:      "lock held (s)",
	mLinked:    "files linked",
	mCopied:    "files copied",
}

// noRatio lists metrics whose ratio means nothing.
var noRatio = map[string]bool{mLinked: true, mCopied: true, mLock: true}

func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "—"
	case a == 0:
		return "0"
	case a < 0.1:
		return fmt.Sprintf("%.3f", v)
	case a < 10:
		return fmt.Sprintf("%.2f", v)
	case a < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func cell(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	s := summarize(xs)
	if s.N == 1 {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 {
		return "—"
	}
	x, y := summarize(a).Median, summarize(b).Median
	if math.Abs(y) < 0.005 || math.IsNaN(x) || math.IsNaN(y) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x/y)
}

// table renders one scenario's Markdown table.
func (sr *scenarioResult) table() string {
	if len(sr.Contenders) == 0 {
		return ""
	}
	var b strings.Builder
	base := sr.Contenders[0]
	b.WriteString("| metric | " + md(base.Label) + " median (min–max)")
	for _, c := range sr.Contenders[1:] {
		fmt.Fprintf(&b, " | %s median (min–max) | %s / baseline", md(c.Label), md(c.Label))
	}
	b.WriteString(" |\n|---|---")
	for range sr.Contenders[1:] {
		b.WriteString("|---|---")
	}
	b.WriteString("|\n")
	for _, m := range sr.Metrics {
		any := false
		for _, c := range sr.Contenders {
			any = any || len(c.Values[m]) > 0
		}
		if !any {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s", metricLabels[m], cell(base.Values[m]))
		for _, c := range sr.Contenders[1:] {
			r := ratio(c.Values[m], base.Values[m])
			if noRatio[m] {
				r = "—"
			}
			fmt.Fprintf(&b, " | %s | %s", cell(c.Values[m]), r)
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// md escapes the pipes of a table cell.
func md(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "not found"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func readFirst(path, prefix string) string {
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return "?"
}

// fsType names the filesystem of path and its device, from the longest
// mount point of /proc/self/mounts that holds it.
func fsType(path string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "?"
	}
	best, typ := "", "?"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, typ = mp, f[2]+" on "+f[0]+", mounted at "+mp
		}
	}
	return typ
}

// pageCacheNote says whether DAMON proactive reclaim (pageout of cold
// page cache) is running: then "warm cache" is not guaranteed, since files
// not read for a few seconds are dropped and read from disk again.
func pageCacheNote() string {
	states, _ := filepath.Glob("/sys/kernel/mm/damon/admin/kdamonds/*/state")
	for _, st := range states {
		data, _ := os.ReadFile(st)
		if strings.TrimSpace(string(data)) != "on" {
			continue
		}
		actions, _ := filepath.Glob(filepath.Join(filepath.Dir(st), "contexts/*/schemes/*/action"))
		for _, a := range actions {
			if act, _ := os.ReadFile(a); strings.TrimSpace(string(act)) == "pageout" {
				return "**DAMON proactive reclaim is on** (pageout of cold pages): files not read for a few seconds leave the " +
					"page cache, so timed runs can read from disk even after the warm-up; IO-heavy scenarios vary more"
			}
		}
	}
	return "not dropped; no proactive reclaim (DAMON pageout) detected"
}

func (h *harness) machine() [][2]string {
	cpu := strings.TrimLeft(readFirst("/proc/cpuinfo", "model name"), ": \t")
	mem := readFirst("/proc/meminfo", "MemTotal:")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(mem, " kB"), 64); err == nil {
		mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	server, _ := h.db.query("postgres", "SHOW server_version")
	var st syscall.Statfs_t
	free := ""
	if syscall.Statfs(h.work, &st) == nil {
		free = fmt.Sprintf(", %.0f GiB free", float64(st.Bavail)*float64(st.Bsize)/(1<<30))
	}
	return [][2]string{
		{"CPU", fmt.Sprintf("%s, %d logical CPUs (nproc)", cpu, runtime.NumCPU())},
		{"memory", mem},
		{"OS / kernel", strings.Trim(readFirst("/etc/os-release", "PRETTY_NAME="), `"`) + " / Linux " + strings.TrimSpace(string(kernel))},
		{"bench filesystem", fsType(h.work) + " (" + h.work + free + ")"},
		{"measurement floor", fmt.Sprintf("a trivial command (`true`) measures %.1f MiB peak RSS and %.3f s wall through the harness", h.floorRSS, h.floorWall)},
		{"page cache", pageCacheNote()},
		{"Go", runtime.Version()},
		{"PostgreSQL", "server " + server + "; " + firstLine("pg_dump", "--version") + "; " + firstLine("psql", "--version")},
		{"gzip", firstLine("gzip", "--version")},
		{"rsync", firstLine("rsync", "--version")},
		{"directus-backup", firstLine(h.cfg.Tool, "version") + map[bool]string{true: " (lists zstd)", false: " (no zstd)"}[h.hasZstd]},
	}
}

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
	if len(h.changes) > 0 {
		var m, a, del int
		var mb, ab int64
		for _, c := range h.changes {
			m += c.Modified
			a += c.Added
			del += c.Deleted
			mb += c.ModifiedBytes
			ab += c.AddedBytes
		}
		n := len(h.changes)
		fmt.Fprintf(&b, "\nOne day of changes (%d change sets applied, average per set): %d files rewritten (%.1f MiB), %d added (%.1f MiB), "+
			"%d deleted; about 1%% of the rows of every table updated (activity: 1%% inserted); directus_files kept in step.\n",
			n, m/n, mib(mb/int64(n)), a/n, mib(ab/int64(n)), del/n)
	}
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
