package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// The offsite scenarios push the tool's backups to an S3 server started by
// bench/run.sh (versitygw, through scripts/s3.sh), encrypted with an age
// key made here, against the aws-s3-cp-style copy of bench-s3 put. Every
// S3 and age operation runs in the bench-s3 binary, so that this one stays
// small (it is also the rusage-exec wrapper of every measured child). The S3
// server is not a child of the harness: its CPU (the same work for both
// contenders: receiving and storing the bytes) is not counted, as the
// PostgreSQL server's is not.

// Metric keys of the offsite scenarios.
const (
	mObjects    = "objects"
	mSent       = "sent"
	mFilesSent  = "files_sent"
	mDumpSent   = "dump_sent"
	mDumpStored = "dump_stored"
	mDumpShare  = "dump_share"
	mPieces     = "pieces_sent"
)

func init() {
	for k, v := range map[string]string{
		mObjects:    "objects sent",
		mSent:       "bytes sent, as stored (MiB)",
		mFilesSent:  "uploads files sent",
		mDumpSent:   "dump bytes sent, compressed, before encryption (MiB)",
		mDumpStored: "dump bytes sent, as stored (MiB)",
		mDumpShare:  "dump bytes sent / compressed dump (%)",
		mPieces:     "dump pieces sent",
	} {
		metricLabels[k] = v
	}
}

// offsite is the state of the offsite scenarios: the S3 server, the age
// key, and the tool's bucket, which holds the pushes of the tool's chain
// (its newest is pushed = the chain's latest backup) across scenarios.
type offsite struct {
	tool         string   // the bench-s3 binary
	vars         []string // the S3 server's settings (s3Env=...)
	env          []string // baseEnv plus vars, for bench-s3
	endpoint     string
	access       string
	secret       string
	recipient    string
	identityFile string
	n            int
	toolBucket   string
	pushed       string // newest backup in toolBucket
}

// s3Env names the variables the S3 test server's settings come in
// (scripts/s3.sh exports them).
var s3Env = []string{"DIRECTUS_BACKUP_TEST_S3_ENDPOINT", "DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY", "DIRECTUS_BACKUP_TEST_S3_SECRET_KEY"}

// offsiteSetup finds the S3 server and bench-s3 and makes the age key, once.
func (h *harness) offsiteSetup() (*offsite, error) {
	if h.off != nil {
		return h.off, nil
	}
	o := &offsite{tool: h.cfg.S3Tool, env: h.baseEnv()}
	if o.tool == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.tool = filepath.Join(filepath.Dir(self), "bench-s3")
	}
	if _, err := os.Stat(o.tool); err != nil {
		return nil, fmt.Errorf("no bench-s3 (bench/run.sh builds it beside bench; or give -s3-tool): %w", err)
	}
	var v [3]string
	for i, k := range s3Env {
		if v[i] = os.Getenv(k); v[i] == "" {
			return nil, fmt.Errorf("no S3 server: %s is not set (bench/run.sh starts one through scripts/s3.sh)", k)
		}
		o.vars = append(o.vars, k+"="+v[i])
	}
	o.env = append(o.env, o.vars...)
	o.endpoint, o.access, o.secret = v[0], v[1], v[2]
	// The private key is only for offsite-restore and for reading the
	// pushed objects list: the pushes themselves get the public key only,
	// as on a backup host.
	o.identityFile = filepath.Join(h.work, "age-identity.txt")
	out, err := o.run("keygen", "-out", o.identityFile)
	if err != nil {
		return nil, err
	}
	o.recipient = strings.TrimSpace(out)
	h.off = o
	return o, nil
}

// run runs bench-s3 (untimed) and returns its output.
func (o *offsite) run(args ...string) (string, error) {
	return run(o.env, "", append([]string{o.tool}, args...)...)
}

func (o *offsite) newBucket(kind string) (string, error) {
	o.n++
	name := fmt.Sprintf("bench-%s-%d", kind, o.n)
	_, err := o.run("mb", "-bucket", name)
	return name, err
}

func (o *offsite) drop(bucket string) error {
	if bucket == "" {
		return nil
	}
	_, err := o.run("rb", "-bucket", bucket)
	return err
}

// putArgv is the aws-s3-cp-style copy of dir under prefix/ (the baseline).
func (o *offsite) putArgv(dir, bucket, prefix string) []string {
	return []string{o.tool, "put", "-src", dir, "-bucket", bucket, "-prefix", prefix + "/", "-jobs", "8"}
}

// toolEnv is the tool's environment for an offsite command on the tool's
// chain: the backup settings plus BACKUP_S3_* and the age recipient (and
// the identity file only when asked: restore).
func (h *harness) offsiteToolEnv(bucket string, identity bool) []string {
	o := h.off
	extra := []string{
		"BACKUP_S3_ENDPOINT=" + o.endpoint, "BACKUP_S3_BUCKET=" + bucket, "BACKUP_S3_REGION=us-east-1",
		"BACKUP_S3_ACCESS_KEY_ID=" + o.access, "BACKUP_S3_SECRET_ACCESS_KEY=" + o.secret,
		"BACKUP_S3_INSECURE=true", "BACKUP_S3_PATH_STYLE=true", "BACKUP_AGE_RECIPIENTS=" + o.recipient,
	}
	if identity {
		extra = append(extra, "BACKUP_AGE_IDENTITY_FILE="+o.identityFile)
	}
	return h.toolEnvFor(h.chains[cTool], extra...)
}

// pushReport is the part of `offsite push --json` the harness reads.
type pushReport struct {
	Encrypted   bool  `json:"encrypted"`
	ObjectsSent int64 `json:"objects_sent"`
	BytesSent   int64 `json:"bytes_sent"`
	Backups     []struct {
		Backup         string `json:"backup"`
		Already        bool   `json:"already"`
		Objects        int64  `json:"objects"`
		ObjectsSent    int64  `json:"objects_sent"`
		BytesSent      int64  `json:"bytes_sent"`
		DumpBytes      int64  `json:"dump_bytes"`
		DumpPieces     int64  `json:"dump_pieces"`
		DumpPiecesSent int64  `json:"dump_pieces_sent"`
		DumpBytesSent  int64  `json:"dump_bytes_sent"`
		Files          int64  `json:"files"`
		FilesSent      int64  `json:"files_sent"`
		FileBytesSent  int64  `json:"file_bytes_sent"`
	} `json:"backups"`
}

func parsePush(out, want string) (pushReport, error) {
	var r pushReport
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		return r, fmt.Errorf("offsite push --json output %q: %w", out, err)
	}
	if len(r.Backups) != 1 || r.Backups[0].Backup != want || r.Backups[0].Already {
		return r, fmt.Errorf("offsite push did not push %s: %s", want, strings.TrimSpace(out))
	}
	if !r.Encrypted {
		return r, errors.New("offsite push says the copy is not encrypted")
	}
	return r, nil
}

// copyResult is what bench-s3 put and get print.
type copyResult struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

func parseCopy(out string) (copyResult, error) {
	var r copyResult
	err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r)
	if err != nil {
		err = fmt.Errorf("s3 copy output %q: %w", out, err)
	}
	return r, err
}

// pushArgv is the tool's push of one backup.
func (h *harness) pushArgv(name string) []string {
	return []string{h.cfg.Tool, "offsite", "push", name, "--json", "--no-progress"}
}

// ensurePushed makes the tool's bucket hold the tool chain's latest backup
// (untimed), starting a bucket when there is none.
func (h *harness) ensurePushed() (string, string, error) {
	name, dir, err := h.toolLatest()
	if err != nil {
		return "", "", err
	}
	o := h.off
	if o.toolBucket != "" && o.pushed == name {
		return name, dir, nil
	}
	if o.toolBucket == "" {
		if o.toolBucket, err = o.newBucket("tool"); err != nil {
			return "", "", err
		}
	}
	if _, err := measure(runSpec{Argv: h.pushArgv(name), Env: h.offsiteToolEnv(o.toolBucket, false), Dir: h.work,
		Log: h.logPath("offsite-seed", cTool, 0), DiskPath: h.work}); err != nil {
		return "", "", err
	}
	o.pushed = name
	return name, dir, nil
}

// scenarioOffsitePush: the first push of a backup to an empty bucket.
func (h *harness) scenarioOffsitePush() error {
	o, err := h.offsiteSetup()
	if err != nil {
		return err
	}
	name, dir, err := h.toolLatest()
	if err != nil {
		return err
	}
	files, bytes, err := treeStats(dir)
	if err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "offsite-push",
		Title: "offsite-push: first push of a full backup to an empty bucket",
		Description: fmt.Sprintf("The same backup (%s, made by the tool: %d files, %.1f MiB), into a new empty bucket on a local "+
			"S3 server (versitygw, posix backend, on the bench filesystem) for every run. Baseline: every file of the backup folder "+
			"PUT as one object under `<backup>/`, 8 at a time, no encryption, as `aws s3 cp --recursive` does (`bench-s3 put`, "+
			"minio-go). Tool: `directus-backup offsite push %s`, encrypted with age to a recipient made by the harness (uploads files "+
			"by content, the dump in pieces, 8 at a time). CPU counts the client only: the S3 server's work shows in the wall time.",
			name, files, mib(bytes), name),
		Metrics: []string{mWall, mCPU, mSys, mRSS, mObjects, mSent},
	}
	bucket := map[string]string{}
	var lastTool pushReport
	runners := []runner{
		{
			key: cBase, label: "aws s3 cp --recursive style",
			prep: func(rep int) (runSpec, error) {
				b, err := o.newBucket("base")
				bucket[cBase] = b
				return runSpec{Argv: o.putArgv(dir, b, name), Env: o.env, Log: h.logPath("offsite-push", cBase, rep), DiskPath: h.work}, err
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				r, err := parseCopy(s.Stdout)
				if err == nil && r.Objects != files {
					err = fmt.Errorf("copied %d objects, the backup has %d files", r.Objects, files)
				}
				if derr := o.drop(bucket[cBase]); err == nil {
					err = derr
				}
				return map[string]float64{mObjects: float64(r.Objects), mSent: mib(r.Bytes)}, err
			},
		},
		{
			key: cTool, label: "directus-backup offsite push",
			prep: func(rep int) (runSpec, error) {
				b, err := o.newBucket("push")
				bucket[cTool] = b
				return runSpec{Argv: h.pushArgv(name), Env: h.offsiteToolEnv(b, false), Dir: h.work,
					Log: h.logPath("offsite-push", cTool, rep), DiskPath: h.work}, err
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				r, err := parsePush(s.Stdout, name)
				if err != nil {
					return nil, err
				}
				lastTool = r
				// The newest pushed bucket starts the incremental
				// scenarios; the one before is dropped.
				if err := o.drop(o.toolBucket); err != nil {
					return nil, err
				}
				o.toolBucket, o.pushed = bucket[cTool], name
				return map[string]float64{mObjects: float64(r.ObjectsSent), mSent: mib(r.BytesSent)}, nil
			},
		},
	}
	err = h.loop(sr, runners, nil, nil)
	if b := lastTool.Backups; len(b) == 1 {
		sr.Notes = append(sr.Notes, fmt.Sprintf("The tool's push: %d objects (%d uploads files stored once by content out of %d, "+
			"the dump in %d pieces, and the backup's manifest objects), %.1f MiB as stored (age adds a header and 16 bytes per 64 KiB); "+
			"the backup folder is %d files, %.1f MiB.",
			lastTool.ObjectsSent, b[0].FilesSent, b[0].Files, b[0].DumpPieces, mib(lastTool.BytesSent), files, mib(bytes)))
	}
	return err
}

// scenarioOffsitePushIncremental: the push that follows a day of changes
// and the backup after it.
func (h *harness) scenarioOffsitePushIncremental(name, kind string) error {
	o, err := h.offsiteSetup()
	if err != nil {
		return err
	}
	if _, _, err := h.ensurePushed(); err != nil {
		return err
	}
	day := "one day of changes (the `incremental` scenario's: about 1% of the uploads files rewritten, 0.5% added, 0.5% deleted, 1% of the rows updated)"
	if kind == changeAppend {
		day = fmt.Sprintf("an append-mostly day (the `incremental-append` scenario's: about 1%% new directus_activity and "+
			"directus_revisions rows, %d articles edited, 0.5%% uploads files added)", editedArticles)
	}
	sr := &scenarioResult{
		Name:  name,
		Title: name + ": the next push after " + strings.SplitN(day, " (", 2)[0],
		Description: "Before each timed run: " + day + ", then the tool's next `backup` into its chain (untimed; the warm-up run follows a backup without changes). " +
			"Tool: `directus-backup offsite push` of that new backup into the bucket that holds the previous ones (encrypted, age): " +
			"it sends the new and changed files, the dump's new pieces and the manifest objects. Baseline: the aws-s3-cp-style copy " +
			"of the new backup folder into an empty prefix (it sends everything again). \"dump bytes sent, as stored\" are the " +
			"stored sizes of the dump pieces the push created (read back from the bucket and the backup's objects list).",
		Metrics: []string{mWall, mCPU, mSys, mRSS, mObjects, mSent, mFilesSent, mPieces, mDump, mDumpSent, mDumpStored, mDumpShare},
	}
	var cur, curDir string
	var curFiles, curDump int64
	var baseBucket string
	before := func(rep int) error {
		// The warm-up follows a backup without changes: it only warms the
		// caches, and a day of changes costs the smoke run seconds.
		if rep >= 0 {
			if err := h.changeOf(kind); err != nil {
				return err
			}
		}
		// The other contenders' chains now lag behind the data: later
		// scenarios start them afresh.
		for k := range h.chains {
			if k != cTool {
				delete(h.chains, k)
			}
		}
		if _, err := measure(runSpec{Argv: h.backupArgv(cTool), Env: h.backupEnv(h.chains[cTool], "gzip"), Dir: h.work,
			Log: h.logPath(name+"-backup", cTool, rep), DiskPath: h.work}); err != nil {
			return err
		}
		bc, err := h.checkBackup(h.chains[cTool], true, h.srcFiles)
		if err != nil {
			return err
		}
		cur, curDir, curFiles, curDump = filepath.Base(bc.Dir), bc.Dir, bc.Files, bc.DumpSize
		return nil
	}
	listBefore := filepath.Join(h.work, "offsite-data-before.json")
	runners := []runner{
		{
			key: cBase, label: "aws s3 cp --recursive style",
			prep: func(rep int) (runSpec, error) {
				b, err := o.newBucket("base")
				baseBucket = b
				return runSpec{Argv: o.putArgv(curDir, b, cur), Env: o.env, Log: h.logPath(name, cBase, rep), DiskPath: h.work}, err
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				r, err := parseCopy(s.Stdout)
				if derr := o.drop(baseBucket); err == nil {
					err = derr
				}
				if err != nil {
					return nil, err
				}
				return map[string]float64{mObjects: float64(r.Objects), mSent: mib(r.Bytes), mFilesSent: float64(curFiles),
					mDump: mib(curDump), mDumpSent: mib(curDump), mDumpStored: mib(curDump), mDumpShare: 100}, nil
			},
		},
		{
			key: cTool, label: "directus-backup offsite push",
			prep: func(rep int) (runSpec, error) {
				_, err := o.run("list", "-bucket", o.toolBucket, "-prefix", "data/", "-out", listBefore)
				return runSpec{Argv: h.pushArgv(cur), Env: h.offsiteToolEnv(o.toolBucket, false), Dir: h.work,
					Log: h.logPath(name, cTool, rep), DiskPath: h.work}, err
			},
			check: func(rep int, s sample) (map[string]float64, error) {
				r, err := parsePush(s.Stdout, cur)
				if err != nil {
					return nil, err
				}
				o.pushed = cur
				b := r.Backups[0]
				out, err := o.run("dump-stored", "-bucket", o.toolBucket, "-backup", cur, "-identity", o.identityFile, "-before", listBefore)
				if err != nil {
					return nil, err
				}
				var ds struct{ Stored int64 }
				if err := json.Unmarshal([]byte(out), &ds); err != nil {
					return nil, fmt.Errorf("bench-s3 dump-stored output %q: %w", out, err)
				}
				stored := ds.Stored
				return map[string]float64{mObjects: float64(r.ObjectsSent), mSent: mib(r.BytesSent), mFilesSent: float64(b.FilesSent),
					mPieces: float64(b.DumpPiecesSent), mDump: mib(b.DumpBytes), mDumpSent: mib(b.DumpBytesSent),
					mDumpStored: mib(stored), mDumpShare: pct(b.DumpBytesSent, b.DumpBytes)}, nil
			},
		},
	}
	err = h.loop(sr, runners, before, nil)
	if t := sr.contender(cTool); t != nil && len(t.Values[mDumpShare]) > 0 {
		sr.Notes = append(sr.Notes, fmt.Sprintf("The second push (median): %.0f objects, %.1f MiB as stored; of the dump, "+
			"%.1f MiB of %.1f MiB compressed sent: **%.1f%%** of the compressed dump (%.1f MiB as stored, in %.0f pieces); %.0f uploads files.",
			t.median(mObjects), t.median(mSent), t.median(mDumpSent), t.median(mDump), t.median(mDumpShare),
			t.median(mDumpStored), t.median(mPieces), t.median(mFilesSent)))
	}
	return err
}

// scenarioOffsiteRestore: restore --offsite against downloading the
// folder and restoring by hand.
func (h *harness) scenarioOffsiteRestore() error {
	o, err := h.offsiteSetup()
	if err != nil {
		return err
	}
	name, dir, err := h.ensurePushed()
	if err != nil {
		return err
	}
	wantFiles, _, err := treeStats(filepath.Join(dir, "uploads"))
	if err != nil {
		return err
	}
	baseBucket, err := o.newBucket("base-restore")
	if err != nil {
		return err
	}
	defer o.drop(baseBucket)
	if _, err := run(o.env, "", o.putArgv(dir, baseBucket, name)...); err != nil {
		return err
	}
	sr := &scenarioResult{
		Name:  "offsite-restore",
		Title: "offsite-restore: database and uploads from the bucket into an empty database and folder",
		Description: fmt.Sprintf("The same backup (%s), in the bucket twice: pushed by the tool (encrypted) and copied aws-s3-cp style (plain). "+
			"Baseline, the manual path: download the whole folder with 8 parallel GETs (`bench-s3 get`), then "+
			"`gunzip -c db_backup.sql.gz | psql -q X` and `cp -a` of its uploads/ to NEW. Tool: `directus-backup restore --offsite %s --yes "+
			"--target-db X --target-dir NEW` (streamed from the bucket, decrypted, every hash checked). X is a new empty database, "+
			"NEW does not exist; both are removed after each run, as is the baseline's download.", name, name),
		Metrics: []string{mWall, mDurable, mCPU, mSys, mRSS, mPeakDisk},
	}
	n := 0
	target := func() string { return fmt.Sprintf("bench_offrestore_%d", n) }
	newDir := func(key string, rep int) string {
		return filepath.Join(h.work, fmt.Sprintf("offrestore-%s-%d", key, rep+1))
	}
	dl := func(rep int) string { return filepath.Join(h.work, fmt.Sprintf("offrestore-download-%d", rep+1)) }
	mk := func(key string) runner {
		return runner{
			key: key, label: map[string]string{cBase: "s3 get + gunzip | psql + cp -a", cTool: "directus-backup restore --offsite"}[key],
			prep: func(rep int) (runSpec, error) {
				n++
				if err := h.db.exec("postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s", target())); err != nil {
					return runSpec{}, err
				}
				if err := h.db.exec("postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s", target(), pgIdent(h.pg.user))); err != nil {
					return runSpec{}, err
				}
				if err := errors.Join(removeAll(newDir(key, rep)), removeAll(dl(rep))); err != nil {
					return runSpec{}, err
				}
				if key == cBase {
					script := `"$1" get -bucket "$2" -prefix "$3/" -dest "$4" -jobs 8 >/dev/null &&
gunzip -c "$4/db_backup.sql.gz" | psql -X -q -v ON_ERROR_STOP=1 -d "$5" &&
cp -a "$4/uploads" "$6"`
					return runSpec{Argv: []string{"sh", "-c", script, "sh", o.tool, baseBucket, name, dl(rep), target(), newDir(key, rep)},
						Env: append(h.pgEnv(), o.vars...), Log: h.logPath("offsite-restore", key, rep), DiskPath: h.work}, nil
				}
				return runSpec{Argv: []string{h.cfg.Tool, "restore", "--offsite", name, "--yes", "--target-db", target(),
					"--target-dir", newDir(key, rep), "--no-progress"},
					Env: h.offsiteToolEnv(o.toolBucket, true), Dir: h.work, Log: h.logPath("offsite-restore", key, rep), DiskPath: h.work}, nil
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
				f, _, err := treeStats(newDir(key, rep))
				removeAll(newDir(key, rep))
				removeAll(dl(rep))
				if err == nil && f != wantFiles {
					err = fmt.Errorf("restored %d files, the backup has %d", f, wantFiles)
				}
				return nil, err
			},
		}
	}
	return h.loop(sr, []runner{mk(cBase), mk(cTool)}, nil, nil)
}

// hasOffsiteRestore reports whether the tool's restore knows --offsite.
func (h *harness) hasOffsiteRestore() bool {
	out, err := exec.Command(h.cfg.Tool, "restore", "--help").CombinedOutput()
	return err == nil && offsiteFlagRE.Match(out)
}

// offsiteFlagRE finds --offsite among the flags of a --help (not in prose).
var offsiteFlagRE = regexp.MustCompile(`(?m)^\s+--offsite\s`)
