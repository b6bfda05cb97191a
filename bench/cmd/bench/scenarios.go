package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Metric keys.
const (
	mWall      = "wall"
	mCPU       = "cpu"
	mSys       = "sys"
	mDurable   = "durable"
	mRSS       = "rss"
	mPeakDisk  = "peak_disk"
	mDiskAdded = "disk_added"
	mDump      = "dump"
	mTotal     = "total"
	mLock      = "lock"
	mLinked    = "linked"
	mCopied    = "copied"
)

// contenderResult holds every timed value of one contender in a scenario.
type contenderResult struct {
	Key    string               `json:"key"`
	Label  string               `json:"label"`
	Values map[string][]float64 `json:"values"`
}

func (c *contenderResult) add(k string, v float64) { c.Values[k] = append(c.Values[k], v) }

func (c *contenderResult) median(k string) float64 { return summarize(c.Values[k]).Median }

// scenarioResult is one table of the report.
type scenarioResult struct {
	Name        string             `json:"name"`
	Title       string             `json:"title"`
	Description string             `json:"description"`
	Contenders  []*contenderResult `json:"contenders"` // [0] is the reference of the ratios
	Metrics     []string           `json:"metrics"`
	Notes       []string           `json:"notes"`
	Extra       string             `json:"-"` // Markdown appended after the table
}

func (s *scenarioResult) contender(key string) *contenderResult {
	for _, c := range s.Contenders {
		if c.Key == key {
			return c
		}
	}
	return nil
}

// runner is one contender of a scenario.
type runner struct {
	key, label string
	// prep does the untimed setup of one run and returns what to run.
	prep func(rep int) (runSpec, error)
	// check validates the run (untimed) and returns extra metrics.
	check func(rep int, s sample) (map[string]float64, error)
}

// loop runs every runner once untimed (warm-up, rep -1) and then reps
// times, alternating the order: forward on even reps, reversed on odd ones.
// before runs ahead of each rep, after behind it.
func (h *harness) loop(sr *scenarioResult, runners []runner, before, after func(rep int) error) error {
	for _, rn := range runners {
		sr.Contenders = append(sr.Contenders, &contenderResult{Key: rn.key, Label: rn.label, Values: map[string][]float64{}})
	}
	h.results = append(h.results, sr)
	var errs []error
	for rep := -1; rep < h.cfg.Reps; rep++ {
		if before != nil {
			if err := before(rep); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
		order := make([]int, len(runners))
		for i := range order {
			order[i] = i
			if rep%2 != 0 && rep >= 0 {
				order[i] = len(runners) - 1 - i
			}
		}
		for _, i := range order {
			rn := runners[i]
			what := "warm-up"
			if rep >= 0 {
				what = fmt.Sprintf("run %d/%d", rep+1, h.cfg.Reps)
			}
			spec, err := rn.prep(rep)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: setup: %w", rn.label, what, err))
				continue
			}
			ls := startLoadSampler()
			s, err := measure(spec)
			if r, a, ok := ls.stop(); ok {
				h.runRunnable, h.runAvg1 = append(h.runRunnable, r), append(h.runAvg1, a)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", rn.label, what, err))
				continue
			}
			extra, err := rn.check(rep, s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: check: %w", rn.label, what, err))
				continue
			}
			logf("  %-16s %-8s %-24s wall %7.2fs  cpu %7.2fs  rss %6.1f MiB  peak disk %+8.1f MiB",
				sr.Name, what, rn.label, s.Wall, s.CPU, s.MaxRSS, s.PeakDisk)
			if rep < 0 {
				continue
			}
			c := sr.Contenders[i]
			c.add(mWall, s.Wall)
			c.add(mDurable, s.Wall+s.Flush)
			c.add(mCPU, s.CPU)
			c.add(mSys, s.Sys)
			c.add(mRSS, s.MaxRSS)
			c.add(mPeakDisk, s.PeakDisk)
			c.add(mDiskAdded, s.DiskAdded)
			if s.LockHeld >= 0 {
				c.add(mLock, s.LockHeld)
			}
			for k, v := range extra {
				c.add(k, v)
			}
		}
		if after != nil {
			if err := after(rep); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
		if len(errs) > 0 {
			break // a broken contender would fail every rep the same way
		}
	}
	return errors.Join(errs...)
}

// backupContenders returns the contenders of the backup scenarios.
func (h *harness) backupContenders() [][2]string {
	cs := [][2]string{{cBase, "baseline (backup.sh)"}, {cTool, "directus-backup"}}
	if h.hasZstd {
		cs = append(cs, [2]string{cZstd, "directus-backup zstd"})
	}
	if h.cfg.Recheck >= 0 {
		cs = append(cs, [2]string{cRecheck, fmt.Sprintf("directus-backup BACKUP_RECHECK_PERCENT=%d", h.cfg.Recheck)})
	}
	return cs
}

// scenarioFull: first backup into an empty BACKUPS_DIR.
func (h *harness) scenarioFull() error {
	return h.backupScenario(backupScenario{
		name:  "full",
		title: "full: first backup into an empty BACKUPS_DIR",
		desc: "Each run starts from a fresh, empty BACKUPS_DIR and backs up the same database and uploads " +
			"folder: pg_dump, uploads copy, compression, finalize, retention.",
		full: true,
	})
}

// scenarioIncremental: each contender's next backup after one day of changes.
func (h *harness) scenarioIncremental() error {
	return h.backupScenario(backupScenario{
		name:  "incremental",
		title: "incremental: next backup after one day of changes",
		desc: "Each contender has its own previous backup of the current data. Before each run, one day of " +
			"changes is applied (the same for all contenders): about 1% of the uploads files rewritten, 0.5% added, " +
			"0.5% deleted, 1% of the rows updated. Then each contender makes its next backup (hard links to its previous one).",
		change: changeDay,
	})
}

// scenarioUploads: the uploads step alone, incremental after a day of changes.
func (h *harness) scenarioUploads() error {
	sr := &scenarioResult{
		Name:  "uploads",
		Title: "uploads: the uploads step alone, incremental after one day of changes",
		Description: "Baseline: `rsync -a --link-dest=PREV SRC/ DEST/`. Tool: its uploads step (internal/snapshot.Take, " +
			"with the previous backup's manifest.files.jsonl, writing a new one) run alone as a child process. " +
			"Floor: `find SRC -printf ''; cp -al PREV DEST`, the bare cost of walking the tree and making the links.",
		Metrics: []string{mWall, mDurable, mCPU, mSys, mRSS, mPeakDisk, mLinked, mCopied},
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	base := filepath.Join(h.work, "uploads-step")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	// Starting points: the latest backups of the baseline and of the tool,
	// or, without them, a full copy made here.
	prevRsync, prevTool, prevList := "", "", ""
	if d := h.chains[cBase]; d != "" {
		if l, err := latest(d); err == nil {
			prevRsync = filepath.Join(l, "uploads")
		}
	}
	if d := h.chains[cTool]; d != "" {
		if l, err := latest(d); err == nil {
			prevTool = filepath.Join(l, "uploads")
			prevList = filepath.Join(l, "manifest.files.jsonl")
		}
	}
	if prevRsync == "" {
		prevRsync = filepath.Join(base, "seed-rsync")
		if _, err := run(h.baseEnv(), "", "rsync", "-a", h.src+"/", prevRsync+"/"); err != nil {
			return err
		}
	}
	if prevTool == "" {
		prevTool = filepath.Join(base, "seed-tool", "uploads")
		prevList = filepath.Join(base, "seed-tool", "manifest.files.jsonl")
		os.MkdirAll(filepath.Dir(prevTool), 0o755)
		if _, err := run(h.baseEnv(), "", self, "uploads-step", "-src", h.src, "-dest", prevTool, "-list-out", prevList); err != nil {
			return err
		}
	}
	ours := map[string]bool{} // folders made here, removed when superseded
	dest := func(key string, rep int) string { return filepath.Join(base, fmt.Sprintf("%s-%d", key, rep+1)) }
	var stepRes uploadsStepResult
	runners := []runner{
		{
			key: cBase, label: "rsync --link-dest",
			prep: func(rep int) (runSpec, error) {
				d := dest(cBase, rep)
				return runSpec{Argv: []string{"rsync", "-a", "--link-dest=" + prevRsync, h.src + "/", d + "/"}, Env: h.baseEnv(),
					Log: h.logPath("uploads", cBase, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				d := dest(cBase, rep)
				f, _, err := treeStats(d)
				if err == nil && f != h.srcFiles {
					err = fmt.Errorf("rsync copy has %d files, the source %d", f, h.srcFiles)
				}
				return nil, err
			},
		},
		{
			key: cTool, label: "directus-backup step",
			prep: func(rep int) (runSpec, error) {
				d := dest(cTool, rep)
				if err := os.MkdirAll(d, 0o755); err != nil {
					return runSpec{}, err
				}
				return runSpec{Argv: []string{self, "uploads-step", "-src", h.src, "-dest", filepath.Join(d, "uploads"),
					"-prev", prevTool, "-prev-list", prevList, "-list-out", filepath.Join(d, "manifest.files.jsonl")},
					Env: h.baseEnv(), Log: h.logPath("uploads", cTool, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				r, err := parseStep(s.Stdout)
				if err != nil {
					return nil, fmt.Errorf("uploads-step output %q: %w", s.Stdout, err)
				}
				if r.Files != h.srcFiles {
					return nil, fmt.Errorf("uploads step copied %d files, the source has %d", r.Files, h.srcFiles)
				}
				if r.Linked == 0 {
					return nil, errors.New("uploads step linked no file: not incremental")
				}
				stepRes = r
				return map[string]float64{mLinked: float64(r.Linked), mCopied: float64(r.Copied)}, nil
			},
		},
		{
			key: cFloor, label: "floor: find + cp -al",
			prep: func(rep int) (runSpec, error) {
				return runSpec{Argv: []string{"sh", "-c", `find "$1" -printf '' && cp -al "$2" "$3"`, "sh", h.src, prevRsync, dest(cFloor, rep)},
					Env: h.baseEnv(), Log: h.logPath("uploads", cFloor, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				return nil, removeAll(dest(cFloor, rep))
			},
		},
	}
	before := func(rep int) error { return h.change() }
	after := func(rep int) error {
		// The new copies become the previous ones of the next rep, as in a
		// daily run; superseded copies made here are removed.
		for _, p := range []string{prevRsync, filepath.Dir(prevTool)} {
			if ours[p] {
				removeAll(p)
			}
		}
		prevRsync = dest(cBase, rep)
		prevTool = filepath.Join(dest(cTool, rep), "uploads")
		prevList = filepath.Join(dest(cTool, rep), "manifest.files.jsonl")
		ours[prevRsync], ours[dest(cTool, rep)] = true, true
		return nil
	}
	err = h.loop(sr, runners, before, after)
	tool, floor, rs := sr.contender(cTool), sr.contender(cFloor), sr.contender(cBase)
	if tool != nil && floor != nil && len(tool.Values[mWall]) > 0 && len(floor.Values[mWall]) > 0 {
		sr.Notes = append(sr.Notes,
			fmt.Sprintf("Tool / floor (wall, medians): **%.2f×**; rsync / floor: %.2f×.", tool.median(mWall)/floor.median(mWall), rs.median(mWall)/floor.median(mWall)),
			fmt.Sprintf("Last tool run: %d files, %d linked, %d copied (%.1f MiB).", stepRes.Files, stepRes.Linked, stepRes.Copied, mib(stepRes.CopiedBytes)))
	}
	return err
}
