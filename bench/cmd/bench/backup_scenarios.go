package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// backupScenario is one scenario of whole backups, made by every backup
// contender: full (each run into a new, empty BACKUPS_DIR) or incremental
// (each contender's next backup after a change set of the given kind).
type backupScenario struct {
	name, title, desc string
	full              bool
	// dbOnly backs up an empty uploads folder, so that the run's work is
	// the dump's (pg_dump and compression); its chains are apart from the
	// other scenarios'.
	dbOnly bool
	change string // incremental: the change set applied before each rep
}

// chainsOf returns the contender -> BACKUPS_DIR map of the scenario's
// kind: backups of the current data, whose latest the next incremental
// run follows.
func (h *harness) chainsOf(dbOnly bool) map[string]string {
	if !dbOnly {
		return h.chains
	}
	if h.dbChains == nil {
		h.dbChains = map[string]string{}
	}
	return h.dbChains
}

// emptyUploads returns the empty uploads folder of the database-only
// scenarios.
func (h *harness) emptyUploads() (string, error) {
	d := filepath.Join(h.work, "uploads-empty")
	return d, os.MkdirAll(d, 0o755)
}

// scenarioEnv is what a backup of the scenario sets beyond backupEnv's.
func (h *harness) scenarioEnv(bs backupScenario, key string) ([]string, error) {
	env := h.toolEnv(key)
	if bs.dbOnly {
		d, err := h.emptyUploads()
		if err != nil {
			return nil, err
		}
		// Later entries win in exec's environment: this replaces
		// backupEnv's BACKUP_UPLOADS_DIR.
		env = append(env, "BACKUP_UPLOADS_DIR="+d)
	}
	return env, nil
}

func (h *harness) backupScenario(bs backupScenario) error {
	sr := &scenarioResult{
		Name: bs.name, Title: bs.title, Description: bs.desc,
		Metrics: []string{mWall, mDurable, mCPU, mSys, mRSS, mPeakDisk, mDiskAdded, mDump, mTotal},
	}
	chains := h.chainsOf(bs.dbOnly)
	wantFiles := func() int64 {
		if bs.dbOnly {
			return 0
		}
		return h.srcFiles
	}
	var runners []runner
	for _, c := range h.backupContenders() {
		key := c[0]
		dirOf := func(rep int) string {
			if !bs.full {
				return chains[key]
			}
			return filepath.Join(h.work, fmt.Sprintf("%s-%s-%d", bs.name, key, rep+1))
		}
		runners = append(runners, runner{
			key: key, label: c[1],
			prep: func(rep int) (runSpec, error) {
				if bs.full {
					// Only the last run's backups are kept (they start
					// the incremental chain): drop the previous run's first.
					if old := chains[key]; old != "" {
						if err := removeAll(old); err != nil {
							return runSpec{}, err
						}
						delete(chains, key)
					}
					if err := removeAll(dirOf(rep)); err != nil {
						return runSpec{}, err
					}
				}
				env, err := h.scenarioEnv(bs, key)
				if err != nil {
					return runSpec{}, err
				}
				return runSpec{
					Argv: h.backupArgv(key), Env: h.backupEnv(dirOf(rep), compressionOf(key), env...), Dir: h.work,
					Log: h.logPath(bs.name, key, rep), DiskPath: h.work,
				}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				d := dirOf(rep)
				bc, err := h.checkBackup(d, key != cBase, wantFiles())
				if err != nil {
					return nil, err
				}
				if key == cBase && bs.name == "full" {
					if m := rawBytesRE.FindStringSubmatch(s.Stdout); m != nil {
						v, _ := strconv.ParseFloat(m[1], 64)
						h.rawDump = append(h.rawDump, v)
					}
				}
				chains[key] = d
				out := map[string]float64{mDump: mib(bc.DumpSize), mTotal: mib(bc.Total)}
				if key != cBase {
					if err := chunkMetrics(bc.Dir, out); err != nil {
						return nil, err
					}
				}
				return out, nil
			},
		})
	}
	var before func(rep int) error
	if !bs.full {
		before = func(rep int) error {
			// Make sure every chain exists before the changes, so that the
			// first incremental run really follows a backup of the old data.
			for _, c := range h.backupContenders() {
				if chains[c[0]] != "" {
					continue
				}
				env, err := h.scenarioEnv(bs, c[0])
				if err != nil {
					return err
				}
				d := filepath.Join(h.work, "chain-"+bs.name+"-"+c[0])
				if _, err := measure(runSpec{Argv: h.backupArgv(c[0]), Env: h.backupEnv(d, compressionOf(c[0]), env...), Dir: h.work,
					Log: h.logPath("chain-"+bs.name, c[0], 0), DiskPath: h.work}); err != nil {
					return err
				}
				chains[c[0]] = d
			}
			return h.changeOf(bs.change)
		}
	}
	err := h.loop(sr, runners, before, nil)
	sr.Extra = shareSection(sr)
	return err
}

// The database-only and append-mostly scenarios.

func (h *harness) scenarioDBFull() error {
	return h.backupScenario(backupScenario{
		name:  "db-full",
		title: "db-full: first backup of the database alone (empty uploads folder) into an empty BACKUPS_DIR",
		desc: "As `full`, but BACKUP_UPLOADS_DIR is an empty folder for every contender, so the run's CPU is the dump's: " +
			"pg_dump and compression.",
		full: true, dbOnly: true,
	})
}

func (h *harness) scenarioDBIncremental() error {
	return h.backupScenario(backupScenario{
		name:  "db-incremental",
		title: "db-incremental: next backup of the database alone after one day of changes",
		desc: "As `incremental` with an empty uploads folder: before each run, the database part of one day of changes " +
			"(about 1% of the rows of every table updated, activity 1% inserted; directus_files untouched, as the files are). " +
			"Isolates the dump step's CPU against the share of the dump that changed.",
		dbOnly: true, change: changeDayDB,
	})
}

func (h *harness) scenarioIncrementalAppend() error {
	return h.backupScenario(backupScenario{
		name:  "incremental-append",
		title: "incremental-append: next backup after an append-mostly day",
		desc: fmt.Sprintf("Before each run, an ordinary Directus day: new directus_activity and directus_revisions rows "+
			"(about 1%% of each table), %d articles edited, 0.5%% uploads files added (with their directus_files rows); "+
			"nothing rewritten or deleted. Then each contender makes its next backup.", editedArticles),
		change: changeAppend,
	})
}

func (h *harness) scenarioDBIncrementalAppend() error {
	return h.backupScenario(backupScenario{
		name:  "db-incremental-append",
		title: "db-incremental-append: next backup of the database alone after an append-mostly day",
		desc: fmt.Sprintf("As `incremental-append` with an empty uploads folder and the database part of the day: "+
			"about 1%% new directus_activity and directus_revisions rows, %d articles edited.", editedArticles),
		dbOnly: true, change: changeAppendDB,
	})
}

// backupCheck is what checkBackup found.
type backupCheck struct {
	Dir      string
	Dump     string
	DumpSize int64
	Total    int64 // apparent bytes of every file in the backup folder
	Files    int64 // files in uploads/
}

// checkBackup checks that the latest backup in backupsDir is complete: a
// dump that decompresses (gzip -t / zstd -t), manifest.json when the tool
// made it, and wantFiles uploads files (as many as the source has).
func (h *harness) checkBackup(backupsDir string, tool bool, wantFiles int64) (backupCheck, error) {
	var bc backupCheck
	dir, err := latest(backupsDir)
	if err != nil {
		return bc, err
	}
	bc.Dir = dir
	dumps, _ := filepath.Glob(filepath.Join(dir, "db_backup.sql*"))
	if len(dumps) != 1 {
		return bc, fmt.Errorf("%s: expected one db_backup.sql* file, found %d", dir, len(dumps))
	}
	bc.Dump = dumps[0]
	fi, err := os.Stat(bc.Dump)
	if err != nil {
		return bc, err
	}
	bc.DumpSize = fi.Size()
	if bc.DumpSize == 0 {
		return bc, fmt.Errorf("%s is empty", bc.Dump)
	}
	switch filepath.Ext(bc.Dump) {
	case ".gz":
		if _, err := run(h.baseEnv(), "", "gzip", "-t", bc.Dump); err != nil {
			return bc, fmt.Errorf("gunzip cannot read %s: %w", bc.Dump, err)
		}
	case ".zst":
		if _, err := exec.LookPath("zstd"); err == nil {
			if _, err := run(h.baseEnv(), "", "zstd", "-q", "-t", bc.Dump); err != nil {
				return bc, fmt.Errorf("zstd cannot read %s: %w", bc.Dump, err)
			}
		}
	}
	if tool {
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
			return bc, fmt.Errorf("tool backup %s has no manifest.json: %w", dir, err)
		}
	}
	files, _, err := treeStats(filepath.Join(dir, "uploads"))
	if err != nil {
		return bc, err
	}
	bc.Files = files
	if files != wantFiles {
		return bc, fmt.Errorf("%s/uploads has %d files, the source %d", dir, files, wantFiles)
	}
	_, bc.Total, err = treeStats(dir)
	return bc, err
}

var rawBytesRE = regexp.MustCompile(`(?m)^raw_bytes=(\d+)$`)
