package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
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
