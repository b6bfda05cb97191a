package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// harness holds the state of one benchmark run.
type harness struct {
	cfg  config
	spec sizeSpec
	work string // scratch root (on the filesystem being measured)
	src  string // the live uploads folder
	logs string
	db   *db
	pg   struct{ host, port, user, password string }

	hasZstd  bool
	tsLast   int64
	nextK    int   // next change set
	srcFiles int64 // regular files in src now
	srcBytes int64

	data     datasetInfo
	rawDump  []float64 // raw dump bytes seen by the baseline
	changes  []changeStats
	chains   map[string]string // contender key -> BACKUPS_DIR whose latest backup is of the current data
	dbChains map[string]string // the same for the database-only scenarios (empty uploads folder)
	results  []*scenarioResult
	failures []string
	started  time.Time

	floorRSS, floorWall  float64   // what measuring "true" gives
	runRunnable, runAvg1 []float64 // load sampled during each timed and warm-up run
	memGrowth            float64   // memory scenario: peak RSS at 1M files minus at 10k (NaN: not run)
	off                  *offsite  // the offsite scenarios' S3 server, key and bucket (nil: none ran)
}

// contender keys and labels.
const (
	cBase    = "baseline"
	cTool    = "tool"
	cZstd    = "zstd"
	cRecheck = "recheck" // the tool with -recheck-percent's BACKUP_RECHECK_PERCENT
	cFloor   = "floor"
)

func newHarness(cfg config, spec sizeSpec) (*harness, error) {
	h := &harness{cfg: cfg, spec: spec, work: cfg.Work, chains: map[string]string{}, started: time.Now(), memGrowth: math.NaN()}
	h.pg.host = os.Getenv("DIRECTUS_BACKUP_TEST_PGHOST")
	h.pg.port = os.Getenv("DIRECTUS_BACKUP_TEST_PGPORT")
	h.pg.user = os.Getenv("DIRECTUS_BACKUP_TEST_PGUSER")
	h.pg.password = os.Getenv("DIRECTUS_BACKUP_TEST_PGPASSWORD")
	if h.pg.host == "" || h.pg.port == "" {
		return nil, errors.New("no PostgreSQL: set DIRECTUS_BACKUP_TEST_PG{HOST,PORT,USER,PASSWORD} (bench/run.sh does, through scripts/pg.sh)")
	}
	for _, p := range []string{cfg.Tool, cfg.Baseline} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	if err := removeAll(h.work); err != nil {
		return nil, err
	}
	h.src = filepath.Join(h.work, "uploads")
	h.logs = filepath.Join(h.work, "logs")
	if err := os.MkdirAll(h.logs, 0o755); err != nil {
		return nil, err
	}
	h.db = &db{env: h.pgEnv(), name: "directus_bench"}
	return h, nil
}

// baseEnv is the environment every child gets: nothing inherited but PATH
// and HOME, so no stray BACKUP_* or PG* setting changes a run.
func (h *harness) baseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/tmp"
	}
	return []string{"PATH=" + path, "HOME=" + home, "LANG=C.UTF-8", "TZ=UTC"}
}

func (h *harness) pgEnv() []string {
	return append(h.baseEnv(), "PGHOST="+h.pg.host, "PGPORT="+h.pg.port, "PGUSER="+h.pg.user, "PGPASSWORD="+h.pg.password)
}

// nextTS returns a fresh BACKUP_TIMESTAMP: now, but always after the last.
func (h *harness) nextTS() int64 {
	ts := max(time.Now().Unix(), h.tsLast+1)
	h.tsLast = ts
	return ts
}

// backupEnv is the environment of a backup, the same for the baseline and
// the tool: the original backup.sh's settings and Directus's DB_* names.
func (h *harness) backupEnv(backupsDir, compression string, extra ...string) []string {
	env := append(h.baseEnv(),
		"DB_CLIENT=pg",
		"DB_HOST="+h.pg.host,
		"DB_PORT="+h.pg.port,
		"DB_USER="+h.pg.user,
		"DB_PASSWORD="+h.pg.password,
		"DB_DATABASE="+h.db.name,
		"BACKUP_DB_METHOD=local",
		"BACKUP_UPLOADS_DIR="+h.src,
		"BACKUPS_DIR="+backupsDir,
		"BACKUP_GZIP_LEVEL=9",
		"BACKUP_TIMESTAMP="+strconv.FormatInt(h.nextTS(), 10),
	)
	if compression != "" {
		env = append(env, "BACKUP_COMPRESSION="+compression)
	}
	return append(env, extra...)
}

// backupArgv is the command of a backup by contender c.
func (h *harness) backupArgv(c string) []string {
	if c == cBase {
		return []string{"bash", h.cfg.Baseline}
	}
	return []string{h.cfg.Tool, "backup", "--no-progress"}
}

// toolEnv is what contender c sets beyond the shared backup settings.
func (h *harness) toolEnv(c string) []string {
	if c == cRecheck {
		return []string{"BACKUP_RECHECK_PERCENT=" + strconv.Itoa(h.cfg.Recheck)}
	}
	return nil
}

func compressionOf(c string) string {
	switch c {
	case cZstd:
		return "zstd"
	case cTool, cRecheck:
		return "gzip"
	}
	return ""
}

func (h *harness) logPath(scenario, c string, rep int) string {
	r := fmt.Sprint(rep)
	if rep < 0 {
		r = "warmup"
	}
	return filepath.Join(h.logs, fmt.Sprintf("%s-%s-%s.log", scenario, c, r))
}

func (h *harness) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.failures = append(h.failures, msg)
	logf("FAILED: %s", msg)
}

// toolCommand is the tool command a scenario needs beyond backup.
var toolCommand = map[string]string{"offsite-push": "offsite", "offsite-push-incremental": "offsite", "offsite-push-append": "offsite", "offsite-restore": "offsite", "restore-db": "restore", "restore-uploads": "restore", "restore-uploads-live": "restore", "verify": "verify", "prune": "prune"}

// hasCommand reports whether the tool knows the command (its --help works).
func (h *harness) hasCommand(cmd string) bool {
	out, err := exec.Command(h.cfg.Tool, cmd, "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), "directus-backup "+cmd)
}

// detectZstd reports whether the tool's --compression accepts zstd,
// according to its own --help.
func (h *harness) detectZstd() bool {
	out, _ := exec.Command(h.cfg.Tool, "backup", "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--compression") && strings.Contains(line, "zstd") {
			return true
		}
	}
	return false
}

func (h *harness) refreshSource() error {
	f, b, err := treeStats(h.src)
	h.srcFiles, h.srcBytes = f, b
	return err
}

// latest returns the folder backup_latest points at in backupsDir.
func latest(backupsDir string) (string, error) {
	target, err := os.Readlink(filepath.Join(backupsDir, "backup_latest"))
	if err != nil {
		return "", fmt.Errorf("no backup_latest in %s: %w", backupsDir, err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(backupsDir, target)
	}
	return target, nil
}

// main runs everything and writes the report. Exit code 1 if any run failed.
func (h *harness) main() int {
	handleSignals()
	logf("size %s, %d timed run(s) per contender after one warm-up, work dir %s", h.spec.Name, h.cfg.Reps, h.work)
	h.hasZstd = h.detectZstd()
	if h.hasZstd {
		logf("the tool lists zstd in --compression: adding a BACKUP_COMPRESSION=zstd column")
	}
	if err := h.generate(); err != nil {
		h.fail("dataset: %v", err)
		h.writeReport()
		return 1
	}
	if s, err := measure(runSpec{Argv: []string{"true"}, Env: h.baseEnv(), Log: h.logPath("floor", "true", 0), DiskPath: h.work}); err == nil {
		h.floorRSS, h.floorWall = s.MaxRSS, s.Wall
	} else {
		h.fail("measuring `true`: %v", err)
	}
	var load *loadGen
	if h.cfg.Load > 0 {
		var err error
		if load, err = startLoad(h.cfg.Load); err != nil {
			h.fail("%v", err)
			h.writeReport()
			return 1
		}
		logf("load: %d busy process(es) running beside every run", h.cfg.Load)
		defer load.stop() // stop is idempotent; this one is for a panic
	}
	for _, s := range h.cfg.Scenarios {
		groupsMu.Lock()
		stop := stopping
		groupsMu.Unlock()
		if stop {
			break
		}
		var err error
		logf("scenario %s", s)
		start := time.Now()
		if cmd := toolCommand[s]; cmd != "" && !h.hasCommand(cmd) {
			logf("scenario %s skipped: this directus-backup has no %q command", s, cmd)
			h.results = append(h.results, &scenarioResult{Name: s, Title: s + ": skipped",
				Description: fmt.Sprintf("This directus-backup has no `%s` command.", cmd)})
			continue
		}
		if s == "offsite-restore" && !h.hasOffsiteRestore() {
			logf("scenario %s skipped: this directus-backup's restore has no --offsite", s)
			h.results = append(h.results, &scenarioResult{Name: s, Title: s + ": skipped",
				Description: "This directus-backup's `restore` has no `--offsite`."})
			continue
		}
		switch s {
		case "full":
			err = h.scenarioFull()
		case "incremental":
			err = h.scenarioIncremental()
		case "incremental-append":
			err = h.scenarioIncrementalAppend()
		case "db-full":
			err = h.scenarioDBFull()
		case "db-incremental":
			err = h.scenarioDBIncremental()
		case "db-incremental-append":
			err = h.scenarioDBIncrementalAppend()
		case "uploads":
			err = h.scenarioUploads()
		case "restore-db":
			err = h.scenarioRestoreDB()
		case "restore-uploads":
			err = h.scenarioRestoreUploads()
		case "restore-uploads-live":
			err = h.scenarioRestoreUploadsLive()
		case "verify":
			err = h.scenarioVerify()
		case "prune":
			err = h.scenarioPrune()
		case "memory":
			err = h.scenarioMemory()
		case "offsite-push":
			err = h.scenarioOffsitePush()
		case "offsite-push-incremental":
			err = h.scenarioOffsitePushIncremental(s, changeDay)
		case "offsite-push-append":
			err = h.scenarioOffsitePushIncremental(s, changeAppend)
		case "offsite-restore":
			err = h.scenarioOffsiteRestore()
		}
		if err != nil {
			h.fail("scenario %s: %v", s, err)
		}
		logf("scenario %s done in %.1fs", s, time.Since(start).Seconds())
	}
	load.stop()
	if err := h.writeReport(); err != nil {
		h.fail("report: %v", err)
	}
	if len(h.failures) > 0 {
		logf("%d failure(s):", len(h.failures))
		for _, f := range h.failures {
			fmt.Fprintln(os.Stderr, "  -", strings.SplitN(f, "\n", 2)[0])
		}
		return 1
	}
	return 0
}

// generate makes the dataset: uploads tree and database.
func (h *harness) generate() error {
	start := time.Now()
	logf("generating %d uploads files in %s", h.spec.Files, h.src)
	plan, err := generateUploads(h.src, h.spec.Files)
	if err != nil {
		return err
	}
	logf("generating the database (about %d MB of plain dump)", h.spec.DumpBytes/1e6)
	info, err := generateDatabase(h.db, h.spec, plan)
	if err != nil {
		return err
	}
	h.data = info
	for _, f := range plan {
		if f.Random {
			h.data.RandomFiles++
			h.data.RandomBytes += f.Size
		}
	}
	if err := h.refreshSource(); err != nil {
		return err
	}
	h.data.Files, h.data.FileBytes = h.srcFiles, h.srcBytes
	h.data.GenSeconds = time.Since(start).Seconds()
	h.settle()
	logf("dataset ready in %.1fs: %d files, %.1f MiB of uploads", h.data.GenSeconds, h.srcFiles, mib(h.srcBytes))
	return nil
}

// settle flushes dirty data and waits (up to 10 s) until the filesystem's
// use stops moving, so that writeback of the generated data and
// PostgreSQL's checkpoint work do not land in the first timed run.
func (h *harness) settle() {
	syscall.Sync()
	last, _ := diskUsed(h.work)
	for i := 0; i < 20; i++ {
		time.Sleep(500 * time.Millisecond)
		u, _ := diskUsed(h.work)
		if d := u - last; d > -(1<<20) && d < 1<<20 {
			return
		}
		last = u
		syscall.Sync()
	}
}

// change applies the next change set (one ordinary day of changes).
func (h *harness) change() error { return h.changeOf(changeDay) }

// uploadsStepResult is the JSON printed by the uploads-step subcommand.
type uploadsStepResult struct {
	Files, Dirs, Linked, Copied, CopiedBytes int64
}

func parseStep(out string) (uploadsStepResult, error) {
	var r uploadsStepResult
	err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r)
	return r, err
}
