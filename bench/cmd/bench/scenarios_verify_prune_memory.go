package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// scenarioVerify: directus-backup verify vs sha256sum over the same files.
func (h *harness) scenarioVerify() error {
	name, dir, err := h.toolLatest()
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "verify",
		Title: "verify: check one backup",
		Description: fmt.Sprintf("The same backup (%s). Baseline: `find BACKUP -type f -print0 | xargs -0 sha256sum > /dev/null` "+
			"(every file, dump included). Tool: `directus-backup verify %s` (dump decompressed and checked, every file "+
			"hashed and compared with the manifest, directus_files checked against uploads/).", name, name),
		Metrics: []string{mWall, mCPU, mSys, mRSS},
	}
	mk := func(key string) runner {
		return runner{
			key: key, label: map[string]string{cBase: "find | xargs sha256sum", cTool: "directus-backup verify"}[key],
			prep: func(rep int) (runSpec, error) {
				if key == cBase {
					return runSpec{Argv: []string{"sh", "-c", `find "$1" -type f -print0 | xargs -0 sha256sum > /dev/null`, "sh", dir},
						Env: h.baseEnv(), Log: h.logPath("verify", key, rep), DiskPath: h.work}, nil
				}
				return runSpec{Argv: []string{h.cfg.Tool, "verify", name, "--no-progress"},
					Env: h.toolEnvFor(h.chains[cTool]), Dir: h.work, Log: h.logPath("verify", key, rep), DiskPath: h.work}, nil
			},
			check: func(int, sample) (map[string]float64, error) { return nil, nil },
		}
	}
	return h.loop(sr, []runner{mk(cBase), mk(cTool)}, nil, nil)
}

// scenarioPrune: removing one expired backup whose files are all hard links.
func (h *harness) scenarioPrune() error {
	_, src, err := h.toolLatest()
	if err != nil {
		return err
	}
	files, _, err := treeStats(src)
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "prune",
		Title: "prune: remove one expired backup (all files hard links)",
		Description: fmt.Sprintf("A copy of the tool's latest backup made with `cp -al` (%d files, all hard links) before each run. "+
			"Tool: `directus-backup prune` with BACKUP_RETENTION_DAYS=7 on a BACKUPS_DIR holding that copy named 30 days old "+
			"and a current backup, so exactly the copy expires. Baseline: `rm -rf` of the copy. \"lock held\" is how long "+
			"the tool held its flock on BACKUPS_DIR (polled from /proc/locks every millisecond).", files),
		Metrics: []string{mWall, mCPU, mSys, mRSS, mLock},
	}
	pdir := filepath.Join(h.work, "prune-tool")
	bdir := filepath.Join(h.work, "prune-baseline")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return err
	}
	now := time.Now().Unix()
	current := fmt.Sprintf("backup_%s_%d", time.Unix(now, 0).UTC().Format("2006-01-02_15-04-05"), now)
	if _, err := run(h.baseEnv(), "", "cp", "-al", src, filepath.Join(pdir, current)); err != nil {
		return err
	}
	if err := os.Symlink(current, filepath.Join(pdir, "backup_latest")); err != nil {
		return err
	}
	lock := filepath.Join(pdir, ".directus-backup.lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		return err
	}
	var old string
	runners := []runner{
		{
			key: cBase, label: "rm -rf",
			prep: func(rep int) (runSpec, error) {
				c := filepath.Join(bdir, "copy")
				if _, err := run(h.baseEnv(), "", "cp", "-al", src, c); err != nil {
					return runSpec{}, err
				}
				return runSpec{Argv: []string{"rm", "-rf", c}, Env: h.baseEnv(), Log: h.logPath("prune", cBase, rep), DiskPath: h.work}, nil
			},
			check: func(int, sample) (map[string]float64, error) {
				if fileExists(filepath.Join(bdir, "copy")) {
					return nil, errors.New("rm -rf left the copy")
				}
				return nil, nil
			},
		},
		{
			key: cTool, label: "directus-backup prune",
			prep: func(rep int) (runSpec, error) {
				ts := now - 30*86400 - int64(rep+1)
				old = fmt.Sprintf("backup_%s_%d", time.Unix(ts, 0).UTC().Format("2006-01-02_15-04-05"), ts)
				if _, err := run(h.baseEnv(), "", "cp", "-al", src, filepath.Join(pdir, old)); err != nil {
					return runSpec{}, err
				}
				return runSpec{Argv: []string{h.cfg.Tool, "prune", "--no-progress"},
					Env: h.toolEnvFor(pdir, "BACKUP_RETENTION_DAYS=7", "BACKUP_RETENTION_COUNT=0"), Dir: h.work,
					Log: h.logPath("prune", cTool, rep), DiskPath: h.work, LockFile: lock}, nil
			},
			check: func(int, sample) (map[string]float64, error) {
				ents, err := os.ReadDir(pdir)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
					if e.Name() == old || strings.HasPrefix(e.Name(), "deleting_") {
						return nil, fmt.Errorf("prune left %s", e.Name())
					}
				}
				if !fileExists(filepath.Join(pdir, current)) {
					return nil, fmt.Errorf("prune removed the current backup (left: %v)", names)
				}
				return nil, nil
			},
		},
	}
	return h.loop(sr, runners, nil, nil)
}

// scenarioMemory: peak RSS of the uploads step for 10,000 and 1,000,000
// small files, incremental (every file unchanged).
func (h *harness) scenarioMemory() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "memory",
		Title: "memory: peak RSS of the uploads step vs number of files",
		Description: "Flat folders (as Directus keeps its uploads) of 64-byte files; a full copy first (untimed), then the measured incremental " +
			"run (every file unchanged, so every file is linked). rsync --link-dest on the same trees for reference.",
	}
	h.results = append(h.results, sr)
	var rows []string
	rss := map[int]float64{}
	for _, n := range []int{10_000, 1_000_000} {
		base := filepath.Join(h.work, fmt.Sprintf("memory-%d", n))
		src := filepath.Join(base, "src")
		logf("  memory: creating %d files", n)
		if err := makeTinyTree(src, n); err != nil {
			return err
		}
		prev := filepath.Join(base, "prev")
		os.MkdirAll(prev, 0o755)
		if _, err := run(h.baseEnv(), "", self, "uploads-step", "-src", src, "-dest", filepath.Join(prev, "uploads"),
			"-list-out", filepath.Join(prev, "manifest.files.jsonl")); err != nil {
			return err
		}
		next := filepath.Join(base, "next")
		os.MkdirAll(next, 0o755)
		st, err := measure(runSpec{Argv: []string{self, "uploads-step", "-src", src, "-dest", filepath.Join(next, "uploads"),
			"-prev", filepath.Join(prev, "uploads"), "-prev-list", filepath.Join(prev, "manifest.files.jsonl"),
			"-list-out", filepath.Join(next, "manifest.files.jsonl")},
			Env: h.baseEnv(), Log: h.logPath("memory", cTool, n), DiskPath: h.work})
		if err != nil {
			return err
		}
		rs, err := measure(runSpec{Argv: []string{"rsync", "-a", "--link-dest=" + filepath.Join(prev, "uploads"), src + "/", filepath.Join(base, "rsync") + "/"},
			Env: h.baseEnv(), Log: h.logPath("memory", cBase, n), DiskPath: h.work})
		if err != nil {
			return err
		}
		logf("  memory: %d files: tool %.1f MiB in %.1fs, rsync %.1f MiB in %.1fs", n, st.MaxRSS, st.Wall, rs.MaxRSS, rs.Wall)
		rss[n] = st.MaxRSS
		rows = append(rows, fmt.Sprintf("| %d | %.1f | %.2f | %.1f | %.2f |", n, st.MaxRSS, st.Wall, rs.MaxRSS, rs.Wall))
		removeAll(base)
	}
	sr.Extra = "| files | tool peak RSS (MiB) | tool wall (s) | rsync peak RSS (MiB) | rsync wall (s) |\n|---|---|---|---|---|\n" +
		strings.Join(rows, "\n") + "\n"
	h.memGrowth = rss[1_000_000] - rss[10_000]
	sr.Notes = append(sr.Notes, fmt.Sprintf("Peak RSS difference, 1,000,000 − 10,000 files: **%.1f MiB** (target: within 50 MiB).", h.memGrowth))
	return nil
}

// makeTinyTree creates n 64-byte files in one flat folder, named like
// Directus names its uploads (a UUID and an extension): Directus keeps all
// files of its local storage in one folder, the hardest case for memory.
func makeTinyTree(root string, n int) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	data := make([]byte, 64)
	for i := 0; i < n; i++ {
		copy(data, fmt.Sprintf("file %d\n", i))
		name := fmt.Sprintf("%08x-0000-4000-8000-%012x.jpg", i, i)
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
