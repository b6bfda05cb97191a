package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"
	"time"
)

// scenarioRestoreUploadsLive: restore --uploads over a live folder (the
// usual rollback) vs rsync -a --delete + sync, (a) over a folder equal to
// the backup, (b) over one a day's changes away from it.
func (h *harness) scenarioRestoreUploadsLive() error {
	name, dir, err := h.toolLatest()
	if err != nil {
		return err
	}
	src := filepath.Join(dir, "uploads")
	wantFiles, _, err := treeStats(src)
	if err != nil {
		return err
	}
	for _, changed := range []bool{false, true} {
		if err := h.restoreLiveCase(name, src, wantFiles, changed); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) restoreLiveCase(name, src string, wantFiles int64, changed bool) error {
	sn, what := "restore-uploads-live", "a folder equal to the backup"
	if changed {
		sn, what = "restore-uploads-live-day", "a folder one day of changes away from the backup (1% of the files rewritten, 0.5% added, 0.5% deleted)"
	}
	sr := &scenarioResult{
		Name:  sn,
		Title: sn + ": uploads restore over " + what,
		Description: fmt.Sprintf("The same backup (%s). LIVE is an independent copy of its uploads (`cp -a`, made once)%s; "+
			"the page cache is flushed (`sync`) before each run. Baseline: `rsync -a --delete backup/uploads/ LIVE/ && sync`. "+
			"Tool: `directus-backup restore --uploads --delete --target-dir LIVE` (compares first and writes nothing when LIVE "+
			"already equals the backup; otherwise links LIVE's unchanged files into a new folder, copies and checks the rest, "+
			"makes what it wrote durable and swaps the folder in). \"copied\" is the tool's count of files copied from the backup.",
			name, map[bool]string{false: "", true: ", and before each run the same change set is applied to it"}[changed]),
		Metrics: []string{mWall, mDurable, mCPU, mSys, mRSS, mPeakDisk, mCopied},
	}
	live := func(key string) string { return filepath.Join(h.work, "live-uploads-"+key) }
	mk := func(key string) runner {
		return runner{
			key: key, label: map[string]string{cBase: "rsync -a --delete + sync", cTool: "directus-backup restore --uploads --delete"}[key],
			prep: func(rep int) (runSpec, error) {
				t := live(key)
				if _, err := os.Lstat(t); err != nil {
					if out, err := exec.Command("cp", "-a", src, t).CombinedOutput(); err != nil {
						return runSpec{}, fmt.Errorf("cp -a: %v: %s", err, out)
					}
				}
				if changed {
					if err := dayOfChanges(t); err != nil {
						return runSpec{}, err
					}
				}
				syscall.Sync()
				if key == cBase {
					return runSpec{Argv: []string{"sh", "-c", `rsync -a --delete "$1"/ "$2"/ && sync`, "sh", src, t},
						Env: h.baseEnv(), Log: h.logPath(sn, key, rep), DiskPath: h.work}, nil
				}
				return runSpec{Argv: []string{h.cfg.Tool, "restore", name, "--uploads", "--delete", "--target-dir", t, "--no-progress", "--json"},
					Env: h.toolEnvFor(h.chains[cTool]), Dir: h.work, Log: h.logPath(sn, key, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				f, _, err := treeStats(live(key))
				if err == nil && f != wantFiles {
					err = fmt.Errorf("restored %d files, the backup has %d", f, wantFiles)
				}
				if err != nil || key != cTool {
					return nil, err
				}
				var doc struct {
					Uploads *struct {
						Copied float64 `json:"copied"`
					} `json:"uploads"`
				}
				if err := json.Unmarshal([]byte(s.Stdout), &doc); err != nil || doc.Uploads == nil {
					return nil, fmt.Errorf("restore --json printed no uploads report (%v): %.200s", err, s.Stdout)
				}
				return map[string]float64{mCopied: doc.Uploads.Copied}, nil
			},
		}
	}
	err := h.loop(sr, []runner{mk(cBase), mk(cTool)}, nil, nil)
	for _, key := range []string{cBase, cTool} {
		removeAll(live(key))
	}
	return err
}

// dayOfChanges applies the same change set to a folder that equals the
// backup: 1% of the files rewritten (same size, new bytes and mtime), 0.5%
// added, 0.5% deleted.
func dayOfChanges(root string) error {
	files, err := listFiles(root)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(dataSeed^0x11fe, 1))
	n := len(files)
	perm := r.Perm(n)
	mod, del := max(1, n/100), max(1, n/200)
	mt := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, i := range perm[:mod] {
		p := filepath.Join(root, files[i])
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		b := make([]byte, fi.Size())
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			return err
		}
	}
	for _, i := range perm[mod : mod+del] {
		if err := os.Remove(filepath.Join(root, files[i])); err != nil {
			return err
		}
	}
	for k := range del {
		d := path.Dir(files[perm[mod+del+k]])
		b := make([]byte, 16<<10+r.IntN(48<<10))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if err := os.WriteFile(filepath.Join(root, d, fmt.Sprintf("day-new-%d.bin", k)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
