package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Metric keys read from the tool's manifest.json (contenders other than the
// baseline). Per-table keys are prefixed: keyTableShare+table and
// keyTableRaw+table.
const (
	mDumpStep     = "dump_step"   // seconds of the "database" step
	mChunks       = "chunks"      // database.chunks.count
	mReused       = "reused"      // database.chunks.reused
	mFreshShare   = "fresh_share" // % of the raw dump compressed in this run
	mRestShare    = "rest_share"  // the same for what is not a COPY block (schema SQL)
	mRestRaw      = "rest_raw"    // MiB of it
	keyTableShare = "fresh_share:"
	keyTableRaw   = "raw:"
)

// manifestChunks is the part of manifest.json this harness reads. chunks is
// absent in backups of a tool that does not cut its dump into chunks.
type manifestChunks struct {
	Steps []struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
	} `json:"steps"`
	Database struct {
		RawBytes int64 `json:"raw_bytes"`
		Chunks   *struct {
			Count          int64  `json:"count"`
			Average        int64  `json:"average"`
			Reused         int64  `json:"reused"`
			ReusedRawBytes int64  `json:"reused_raw_bytes"`
			FreshRawBytes  int64  `json:"fresh_raw_bytes"`
			Refreshed      int64  `json:"refreshed"`
			Previous       string `json:"previous"`
			Tables         map[string]struct {
				RawBytes      int64 `json:"raw_bytes"`
				FreshRawBytes int64 `json:"fresh_raw_bytes"`
			} `json:"tables"`
		} `json:"chunks"`
	} `json:"database"`
}

// chunkMetrics adds to out what the backup's manifest.json says about the
// dump: the database step's seconds and, when the tool wrote them, the
// chunk figures (how much of the dump was compressed afresh, overall and
// per table).
func chunkMetrics(backupDir string, out map[string]float64) error {
	data, err := os.ReadFile(filepath.Join(backupDir, "manifest.json"))
	if err != nil {
		return err
	}
	var m manifestChunks
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s/manifest.json: %w", backupDir, err)
	}
	for _, s := range m.Steps {
		if s.Name == "database" {
			out[mDumpStep] = s.Seconds
		}
	}
	c := m.Database.Chunks
	if c == nil {
		return nil
	}
	out[mChunks] = float64(c.Count)
	out[mReused] = float64(c.Reused)
	total := c.ReusedRawBytes + c.FreshRawBytes
	out[mFreshShare] = pct(c.FreshRawBytes, total)
	var tabRaw, tabFresh int64
	for name, t := range c.Tables {
		out[keyTableShare+name] = pct(t.FreshRawBytes, t.RawBytes)
		out[keyTableRaw+name] = mib(t.RawBytes)
		tabRaw += t.RawBytes
		tabFresh += t.FreshRawBytes
	}
	if len(c.Tables) > 0 && total >= tabRaw {
		out[mRestShare] = pct(c.FreshRawBytes-tabFresh, total-tabRaw)
		out[mRestRaw] = mib(total - tabRaw)
	}
	return nil
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// shareSection renders, below a backup scenario's table, how much of the
// dump each tool contender compressed afresh (medians over the runs), or
// says that the tool does not report it.
func shareSection(sr *scenarioResult) string {
	var tools []*contenderResult
	for _, c := range sr.Contenders {
		if c.Key != cBase && len(c.Values[mDumpStep])+len(c.Values[mChunks]) > 0 {
			tools = append(tools, c)
		}
	}
	if len(tools) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nShare of the dump compressed afresh, from each new backup's manifest.json (`database.chunks`; " +
		"`steps` for the dump step), median (min–max) over the timed runs:\n\n| | ")
	for i, c := range tools {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(md(c.Label))
	}
	b.WriteString(" |\n|---" + strings.Repeat("|---", len(tools)) + "|\n")
	row := func(label string, f func(c *contenderResult) string) {
		b.WriteString("| " + label)
		for _, c := range tools {
			b.WriteString(" | " + f(c))
		}
		b.WriteString(" |\n")
	}
	na := func(xs []float64, unit string) string {
		if len(xs) == 0 {
			return "n/a"
		}
		return cell(xs) + unit
	}
	row("dump step, seconds (manifest `steps`)", func(c *contenderResult) string { return na(c.Values[mDumpStep], "") })
	counts := func(xs []float64) string {
		if len(xs) == 0 {
			return "n/a"
		}
		s := summarize(xs)
		if s.N == 1 {
			return fmt.Sprintf("%.0f", s.Median)
		}
		return fmt.Sprintf("%.0f (%.0f–%.0f)", s.Median, s.Min, s.Max)
	}
	row("chunks", func(c *contenderResult) string { return counts(c.Values[mChunks]) })
	row("chunks reused from the previous dump", func(c *contenderResult) string { return counts(c.Values[mReused]) })
	row("**raw bytes compressed afresh, whole dump**", func(c *contenderResult) string { return na(c.Values[mFreshShare], " %") })
	var tables []string
	size := map[string]float64{}
	for _, c := range tools {
		for k := range c.Values {
			if name, ok := strings.CutPrefix(k, keyTableShare); ok && !slices.Contains(tables, name) {
				tables = append(tables, name)
				size[name] = c.median(keyTableRaw + name)
			}
		}
	}
	// Largest tables first: they weigh most in the dump's CPU.
	slices.SortFunc(tables, func(a, b string) int {
		if size[a] != size[b] {
			if size[a] > size[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, t := range tables {
		row(fmt.Sprintf("%s (%s MiB raw)", md(t), num(size[t])), func(c *contenderResult) string { return na(c.Values[keyTableShare+t], " %") })
	}
	if len(tables) > 0 {
		row("the rest of the dump (schema SQL)", func(c *contenderResult) string {
			if len(c.Values[mRestRaw]) == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%s %% of %s MiB", cell(c.Values[mRestShare]), num(c.median(mRestRaw)))
		})
	}
	if !slices.ContainsFunc(tools, func(c *contenderResult) bool { return len(c.Values[mChunks]) > 0 }) {
		b.WriteString("\nn/a: this directus-backup writes no `database.chunks` in its manifest (it compresses the whole dump every run).\n")
	} else {
		b.WriteString("\nPer table: fresh_raw_bytes / raw_bytes of its COPY block, the share of its rows' bytes that had to be " +
			"compressed again because their chunks changed; the rest of the dump is the schema SQL around the COPY blocks.\n")
	}
	return b.String()
}

// dumpCPURows are the targets table's rows on the issue's "the dump step's
// CPU falls in proportion to the share of chunks that changed": each
// database-only incremental scenario's CPU against db-full's, per tool
// contender, beside the share of the dump compressed afresh. pg_dump's own
// CPU is in both and does not fall, so the ratio cannot reach the share.
func (h *harness) dumpCPURows() []string {
	var full *scenarioResult
	for _, sr := range h.results {
		if sr.Name == "db-full" {
			full = sr
		}
	}
	if full == nil {
		return nil
	}
	var out []string
	for _, sr := range h.results {
		if sr.Name != "db-incremental" && sr.Name != "db-incremental-append" {
			continue
		}
		for _, c := range sr.Contenders {
			f := full.contender(c.Key)
			if c.Key == cBase || f == nil || len(c.Values[mCPU]) == 0 || len(f.Values[mCPU]) == 0 {
				continue
			}
			share := "n/a"
			if len(c.Values[mFreshShare]) > 0 {
				share = fmt.Sprintf("%.1f%%", c.median(mFreshShare))
			}
			out = append(out, fmt.Sprintf("| %s: %s CPU / its db-full CPU (dump compressed afresh: %s) | %.2f× | (no target; falls toward the share) | — |",
				sr.Name, md(c.Label), share, c.median(mCPU)/f.median(mCPU)))
		}
	}
	return out
}
