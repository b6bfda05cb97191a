package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// toolEnvFor is the tool's environment for a non-backup command on the
// tool's chain.
func (h *harness) toolEnvFor(backupsDir string, extra ...string) []string {
	return h.backupEnv(backupsDir, "gzip", extra...)
}

// toolLatest returns the tool's latest backup (name and folder).
func (h *harness) toolLatest() (string, string, error) {
	d := h.chains[cTool]
	if d == "" {
		// Nothing ran before: make one backup.
		d = filepath.Join(h.work, "chain-"+cTool)
		if _, err := measure(runSpec{Argv: h.backupArgv(cTool), Env: h.backupEnv(d, "gzip"), Dir: h.work,
			Log: h.logPath("chain", cTool, 0), DiskPath: h.work}); err != nil {
			return "", "", err
		}
		h.chains[cTool] = d
	}
	l, err := latest(d)
	return filepath.Base(l), l, err
}

// scenarioRestoreDB: directus-backup restore --db vs gunzip -c | psql.
func (h *harness) scenarioRestoreDB() error {
	name, dir, err := h.toolLatest()
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "restore-db",
		Title: "restore-db: database restore into a new empty database",
		Description: fmt.Sprintf("The same backup (%s, made by the tool). Baseline: `gunzip -c db_backup.sql.gz | psql -q X`. "+
			"Tool: `directus-backup restore --db --yes --target-db X`. X is created empty (owned by the DB user) before "+
			"each run and dropped after it. CPU and RSS count the client side only (gunzip/psql or the tool and its psql); "+
			"the PostgreSQL server's work is the same for both and only shows in the wall time.", name),
		Metrics: []string{mWall, mCPU, mSys, mRSS},
	}
	n := 0
	target := func() string { return fmt.Sprintf("bench_restore_%d", n) }
	mk := func(key string) runner {
		return runner{
			key: key, label: map[string]string{cBase: "gunzip -c | psql", cTool: "directus-backup restore --db"}[key],
			prep: func(rep int) (runSpec, error) {
				n++
				if err := h.db.exec("postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s; ", target())); err != nil {
					return runSpec{}, err
				}
				if err := h.db.exec("postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s", target(), pgIdent(h.pg.user))); err != nil {
					return runSpec{}, err
				}
				if key == cBase {
					return runSpec{Argv: []string{"sh", "-c", `gunzip -c "$1" | psql -X -q -d "$2"`, "sh",
						filepath.Join(dir, "db_backup.sql.gz"), target()},
						Env: h.pgEnv(), Log: h.logPath("restore-db", key, rep), DiskPath: h.work}, nil
				}
				return runSpec{Argv: []string{h.cfg.Tool, "restore", name, "--db", "--yes", "--target-db", target(), "--no-progress"},
					Env: h.toolEnvFor(h.chains[cTool]), Dir: h.work, Log: h.logPath("restore-db", key, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				got, err := h.db.query(target(), "SELECT (SELECT count(*) FROM directus_users) || ' ' || (SELECT count(*) FROM articles)")
				h.db.exec("postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s", target()))
				if err != nil {
					return nil, fmt.Errorf("restored database: %w", err)
				}
				if f := strings.Fields(got); len(f) != 2 || f[0] == "0" || f[1] == "0" {
					return nil, fmt.Errorf("restored database has counts %q", got)
				}
				return nil, nil
			},
		}
	}
	return h.loop(sr, []runner{mk(cBase), mk(cTool)}, nil, nil)
}

func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// scenarioRestoreUploads: directus-backup restore --uploads vs rsync -a.
func (h *harness) scenarioRestoreUploads() error {
	name, dir, err := h.toolLatest()
	if err != nil {
		return err
	}
	wantFiles, _, err := treeStats(filepath.Join(dir, "uploads"))
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "restore-uploads",
		Title: "restore-uploads: uploads restore into a new folder",
		Description: fmt.Sprintf("The same backup (%s). Baseline: `rsync -a backup/uploads/ NEW/`. Tool: "+
			"`directus-backup restore --uploads --target-dir NEW` (copies, checks every file's SHA-256 against the manifest, "+
			"swaps the folder in). NEW does not exist before a run and is removed after it.", name),
		Metrics: []string{mWall, mDurable, mCPU, mSys, mRSS, mPeakDisk},
	}
	target := func(key string, rep int) string {
		return filepath.Join(h.work, fmt.Sprintf("restored-uploads-%s-%d", key, rep+1))
	}
	mk := func(key string) runner {
		return runner{
			key: key, label: map[string]string{cBase: "rsync -a", cTool: "directus-backup restore --uploads"}[key],
			prep: func(rep int) (runSpec, error) {
				t := target(key, rep)
				if err := removeAll(t); err != nil {
					return runSpec{}, err
				}
				if key == cBase {
					return runSpec{Argv: []string{"rsync", "-a", filepath.Join(dir, "uploads") + "/", t + "/"},
						Env: h.baseEnv(), Log: h.logPath("restore-uploads", key, rep), DiskPath: h.work}, nil
				}
				return runSpec{Argv: []string{h.cfg.Tool, "restore", name, "--uploads", "--target-dir", t, "--no-progress"},
					Env: h.toolEnvFor(h.chains[cTool]), Dir: h.work, Log: h.logPath("restore-uploads", key, rep), DiskPath: h.work}, nil
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				t := target(key, rep)
				f, _, err := treeStats(t)
				removeAll(t)
				if err == nil && f != wantFiles {
					err = fmt.Errorf("restored %d files, the backup has %d", f, wantFiles)
				}
				return nil, err
			},
		}
	}
	return h.loop(sr, []runner{mk(cBase), mk(cTool)}, nil, nil)
}
