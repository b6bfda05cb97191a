// Command bench is the benchmark harness of directus-backup: it generates a
// reproducible dataset, runs the original backup.sh's shell pipeline
// (bench/baseline.sh) and directus-backup side by side on it, alternating,
// and writes a Markdown report. bench/run.sh builds and runs it; see
// bench/README.md.
//
//	bench run -size smoke|small|large -reps N -out FILE -work DIR -tool BIN -baseline SCRIPT
//
// The tool is treated as a black box (its binary, its settings and its
// folder layout), except for the "uploads" scenario, which times the
// tool's uploads step alone through the hidden subcommand
//
//	bench uploads-step -src DIR -dest DIR [-prev DIR -prev-list FILE] [-list-out FILE]
//
// and "bench burn", one CPU-bound busy process of the -load option.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "uploads-step":
			os.Exit(uploadsStep(os.Args[2:]))
		case "rusage-exec":
			os.Exit(rusageExec(os.Args[2:]))
		case "burn":
			os.Exit(burn())
		}
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	os.Exit(runMain(args))
}

// config is the command line of "bench run".
type config struct {
	Size      string
	Reps      int
	Out       string
	Work      string
	Tool      string
	S3Tool    string // bench-s3 (default: beside this binary)
	Baseline  string
	PgBin     string
	Memory    bool
	Scenarios []string
	Commit    string
	// Recheck, when >= 0, adds a contender: the tool with
	// BACKUP_RECHECK_PERCENT set to it, beside the default.
	Recheck int
	// Load is how many CPU-bound busy processes run beside every timed
	// and warm-up run (--load).
	Load int
}

var allScenarios = []string{"full", "incremental", "incremental-append", "db-full", "db-incremental", "db-incremental-append", "uploads", "restore-db", "restore-uploads", "restore-uploads-live", "verify", "prune", "offsite-push", "offsite-push-incremental", "offsite-push-append", "offsite-restore", "memory"}

// smokeSkips are left out of -size smoke unless named in -scenarios.
var smokeSkips = map[string]bool{"offsite-push-append": true, "offsite-restore": true}

func runMain(args []string) int {
	var cfg config
	var scen string
	fl := flag.NewFlagSet("bench run", flag.ContinueOnError)
	fl.StringVar(&cfg.Size, "size", "small", "dataset size: smoke, small or large")
	fl.IntVar(&cfg.Reps, "reps", 0, "timed runs per contender and scenario (0: 1 for smoke, else 3)")
	fl.StringVar(&cfg.Out, "out", "", "Markdown report to write (default bench/results/<size>-<date>.md)")
	fl.StringVar(&cfg.Work, "work", "/tmp/directus-backup-bench/work", "scratch folder (emptied first)")
	fl.StringVar(&cfg.Tool, "tool", "", "directus-backup binary")
	fl.StringVar(&cfg.S3Tool, "s3-tool", "", "bench-s3 binary, for the offsite scenarios (default: bench-s3 beside this binary)")
	fl.StringVar(&cfg.Baseline, "baseline", "bench/baseline.sh", "shell baseline script")
	fl.StringVar(&cfg.PgBin, "pg-bin", os.Getenv("PG_BIN"), "PostgreSQL server binaries (for pgbench)")
	fl.IntVar(&cfg.Recheck, "recheck-percent", -1, "also run the backup scenarios with BACKUP_RECHECK_PERCENT set to this (0 to 100), beside the default")
	fl.IntVar(&cfg.Load, "load", 0, "run this many CPU-bound busy processes during every timed and warm-up run")
	fl.BoolVar(&cfg.Memory, "memory", false, "also run the memory scenario (10,000 and 1,000,000 files; slow)")
	fl.StringVar(&scen, "scenarios", "", "comma-separated subset of: "+strings.Join(allScenarios, ","))
	fl.StringVar(&cfg.Commit, "commit", "", "source revision, for the report")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	spec, ok := sizes[cfg.Size]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown -size %q (smoke, small or large)\n", cfg.Size)
		return 2
	}
	if cfg.Recheck > 100 {
		fmt.Fprintf(os.Stderr, "bench: -recheck-percent %d: accepted: 0 to 100 (or -1 for none)\n", cfg.Recheck)
		return 2
	}
	if cfg.Load < 0 || cfg.Load > 256 {
		fmt.Fprintf(os.Stderr, "bench: -load %d: accepted: 0 to 256\n", cfg.Load)
		return 2
	}
	if cfg.Reps <= 0 {
		cfg.Reps = spec.Reps
	}
	if cfg.Tool == "" {
		fmt.Fprintln(os.Stderr, "bench: -tool is required")
		return 2
	}
	if scen != "" {
		for _, s := range strings.Split(scen, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(allScenarios, s) {
				fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n", s)
				return 2
			}
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	} else {
		cfg.Scenarios = slices.Clone(allScenarios)
		cfg.Scenarios = slices.DeleteFunc(cfg.Scenarios, func(s string) bool {
			// smoke (CI) keeps the two pushes, which add seconds, not the
			// append day's push and the offsite restore.
			return (s == "memory" && !cfg.Memory) || (cfg.Size == "smoke" && smokeSkips[s])
		})
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join("bench", "results", fmt.Sprintf("%s-%s.md", cfg.Size, time.Now().Format("2006-01-02")))
	}
	for _, p := range []*string{&cfg.Tool, &cfg.Baseline, &cfg.Work, &cfg.Out, &cfg.S3Tool} {
		if *p == "" {
			continue // only -s3-tool may be empty: bench-s3 beside this binary
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		*p = abs
	}
	pgBin = cfg.PgBin

	h, err := newHarness(cfg, spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return h.main()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
