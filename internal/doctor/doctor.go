// Package doctor checks that a backup can run: settings, commands, the
// database connection, folder permissions and free space. It changes
// nothing (a probe file is created and removed to test writability) and
// says how to fix each problem it finds.
package doctor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// Status of a finding.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Finding is the result of one check.
type Finding struct {
	Check  string
	Status Status
	Detail string
	Fix    string // what to do, for Warn and Fail
}

// Run performs every check and returns the findings in order.
func Run(ctx context.Context, cfg *config.Config) []Finding {
	var fs []Finding
	add := func(check string, st Status, detail, fix string) {
		fs = append(fs, Finding{Check: check, Status: st, Detail: detail, Fix: fix})
	}
	if cfg.EnvFile != "" {
		add("settings", OK, "valid; .env file read: "+cfg.EnvFile, "")
	} else {
		add("settings", OK, "valid; no .env file read", "")
	}

	method := job.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile)
	cmdName := job.RequiredCommand(method)
	detail := fmt.Sprintf("method %s (BACKUP_DB_METHOD=%s)", method, cfg.DBMethod)
	if method == pgexec.MethodDocker {
		detail += fmt.Sprintf(", compose file %s, service %s", cfg.DockerComposeFile, cfg.DockerService)
	}
	cmdOK := true
	if p, err := exec.LookPath(cmdName); err != nil {
		cmdOK = false
		add("command "+cmdName, Fail, detail+": "+cmdName+" not found on PATH",
			"install it (apt-get install postgresql-client for pg_dump) or set BACKUP_DB_METHOD")
	} else {
		add("command "+cmdName, OK, detail+": "+p, "")
	}

	if cmdOK {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, err := pgdump.Probe(pctx, job.Target(cfg, method))
		cancel()
		if err != nil {
			add("database", Fail, fmt.Sprintf("cannot dump database %q: %v", cfg.DB.Database, err),
				"check DB_HOST, DB_PORT, DB_DATABASE, DB_USER and DB_PASSWORD; pg_dump must not be older than the server")
		} else {
			add("database", OK, fmt.Sprintf("pg_dump connects to %q (server %s)", cfg.DB.Database, v), "")
		}
	}

	fs = append(fs, checkUploads(cfg.UploadsDir))
	fs = append(fs, checkRestoreLeftovers(cfg.UploadsDir)...)

	fs = append(fs, checkWritable("backups folder", cfg.BackupsDir, "BACKUPS_DIR")...)
	if cfg.ErrorDir != filepath.Join(cfg.BackupsDir, "error_logs") {
		fs = append(fs, checkWritable("error folder", cfg.ErrorDir, "BACKUP_ERROR_DIR")...)
	}
	fs = append(fs, checkBackups(cfg)...)
	if f, ok := checkOwners(cfg.BackupsDir, os.Geteuid()); ok {
		fs = append(fs, f)
	}
	return fs
}

// checkOwners warns when a root run's BACKUPS_DIR, or a folder above it,
// can be changed by another user. The run never follows what is planted
// there, but that user can still delete or replace backups, and fill the
// disk; a root-owned BACKUPS_DIR avoids the whole question.
func checkOwners(dir string, euid int) (Finding, bool) {
	if euid != 0 {
		return Finding{}, false
	}
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err == nil {
			why := ""
			sticky := st.Mode&syscall.S_ISVTX != 0 // others cannot rename what root owns in it
			switch {
			case st.Uid != 0:
				why = fmt.Sprintf("is owned by uid %d", st.Uid)
			case st.Mode&0o002 != 0 && !sticky:
				why = "is writable by every user"
			case st.Mode&0o020 != 0 && st.Gid != 0 && !sticky:
				why = fmt.Sprintf("is writable by group %d", st.Gid)
			}
			if why != "" {
				return Finding{Check: "backups folder owner", Status: Warn,
					Detail: fmt.Sprintf("running as root, but %s %s: that user can rename, replace or delete backups (the run never follows what is planted there)", p, why),
					Fix:    "make BACKUPS_DIR and the folders above it root-owned and not writable by others (chown root: and chmod 700)"}, true
			}
		}
		if p == filepath.Dir(p) {
			return Finding{}, false
		}
	}
}

// checkWritable checks dir (or, when it does not exist yet, the nearest
// existing parent, since the run will create it).
func checkWritable(check, dir, setting string) []Finding {
	target := dir
	for {
		if _, err := os.Stat(target); err == nil {
			break
		}
		parent := filepath.Dir(target)
		if parent == target {
			break
		}
		target = parent
	}
	probe := filepath.Join(target, fmt.Sprintf(".directus-backup-doctor-%d", os.Getpid()))
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return []Finding{{Check: check, Status: Fail, Detail: fmt.Sprintf("%s: cannot write in %s: %v", dir, target, err),
			Fix: "fix the permissions, or set " + setting + " to a writable folder"}}
	}
	f.Close()
	os.Remove(probe)
	var out []Finding
	detail := dir + " is writable"
	if target != dir {
		detail = dir + " will be created in " + target
	}
	out = append(out, Finding{Check: check, Status: OK, Detail: detail})
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		out = append(out, Finding{Check: check + " permissions", Status: Warn,
			Detail: fmt.Sprintf("%s has mode %04o: other users can read the backups", dir, fi.Mode().Perm()),
			Fix:    "chmod 700 " + dir})
	}
	return out
}

func checkBackups(cfg *config.Config) []Finding {
	var out []Finding
	backups, err := repo.List(cfg.BackupsDir)
	if err != nil {
		if os.IsNotExist(err) {
			return []Finding{{Check: "backups", Status: OK, Detail: "no backups yet"}}
		}
		return []Finding{{Check: "backups", Status: Fail, Detail: err.Error(), Fix: "fix the permissions of BACKUPS_DIR"}}
	}
	usable := 0
	var needed int64
	for _, b := range backups {
		if b.Usable() {
			usable++
		}
		if b.Manifest != nil && needed == 0 {
			needed = b.Manifest.Database.Bytes + b.Manifest.Uploads.CopiedBytes
		}
	}
	out = append(out, Finding{Check: "backups", Status: OK, Detail: fmt.Sprintf("%d complete of %d", usable, len(backups))})
	if target, ok := repo.Latest(cfg.BackupsDir); target != "" && !ok {
		out = append(out, Finding{Check: "backup_latest", Status: Warn, Detail: "points at missing " + target,
			Fix: "the next successful backup repairs it"})
	}
	if free, err := repo.FreeBytes(cfg.BackupsDir); err == nil {
		st, fix := OK, ""
		if int64(free) < needed {
			st, fix = Warn, "free space, or lower BACKUP_RETENTION_DAYS/BACKUP_RETENTION_COUNT"
		}
		out = append(out, Finding{Check: "free space", Status: st,
			Detail: fmt.Sprintf("%s free; the last backup needed %s", job.HumanBytes(int64(free)), job.HumanBytes(needed)), Fix: fix})
	}
	for _, err := range repo.CheckLockFiles(cfg.BackupsDir) {
		out = append(out, Finding{Check: "lock", Status: Fail, Detail: err.Error(),
			Fix: "check who made it, then remove it; the tool creates a fresh one"})
	}
	if held, who := repo.Held(cfg.BackupsDir); held {
		out = append(out, Finding{Check: "lock", Status: Warn, Detail: "a run is in progress: " + who,
			Fix: "wait for it to finish"})
	}
	return out
}

// checkUploads checks that the uploads folder can be read. The configured
// path may be a symlink (followed), but whatever it ends at is opened
// O_DIRECTORY|O_NONBLOCK in one step: a FIFO put there must not hang the
// doctor, as one found after a separate stat would.
func checkUploads(dir string) Finding {
	const check = "uploads folder"
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return Finding{Check: check, Status: Fail, Detail: dir + " is not a folder", Fix: "set BACKUP_UPLOADS_DIR to the uploads folder"}
	case errors.Is(err, os.ErrNotExist):
		return Finding{Check: check, Status: Fail, Detail: err.Error(),
			Fix: "set BACKUP_UPLOADS_DIR (or STORAGE_LOCAL_ROOT) to the Directus uploads folder"}
	case err != nil:
		return Finding{Check: check, Status: Fail, Detail: err.Error(), Fix: "run as a user that can read the uploads folder"}
	}
	_, rerr := f.Readdirnames(1)
	f.Close()
	if rerr != nil && rerr != io.EOF {
		return Finding{Check: check, Status: Fail, Detail: rerr.Error(), Fix: "run as a user that can read the uploads folder"}
	}
	return Finding{Check: check, Status: OK, Detail: dir + " is readable"}
}

// restoreRandomLen is the length of the random hex part of the names a
// restore gives the folders it makes beside the uploads folder.
const restoreRandomLen = 16

// restoreLeftover reports what the name, beside an uploads folder called
// base, is: "old" for ".<base>.old-<hex>", the previous uploads moved aside
// by a restore whose swap was interrupted; "stage" for
// ".<base>.restore-<hex>", a restore's staging folder. These are the names
// internal/restore makes.
func restoreLeftover(base, name string) string {
	rest, ok := strings.CutPrefix(name, "."+base+".")
	if !ok {
		return ""
	}
	isRandom := func(s string) bool {
		if len(s) != restoreRandomLen {
			return false
		}
		_, err := hex.DecodeString(s)
		return err == nil && strings.ToLower(s) == s
	}
	if r, ok := strings.CutPrefix(rest, "old-"); ok && isRandom(r) {
		return "old"
	}
	if r, ok := strings.CutPrefix(rest, "restore-"); ok && isRandom(r) {
		return "stage"
	}
	return ""
}

// checkRestoreLeftovers reports the folders an interrupted restore left
// beside the uploads folder. A previous uploads folder moved aside may
// hold the only copy of those uploads (when the swap stopped half-way,
// the uploads folder itself may be missing), so it is never just removed.
func checkRestoreLeftovers(uploads string) []Finding {
	uploads = filepath.Clean(uploads)
	parent, base := filepath.Dir(uploads), filepath.Base(uploads)
	if parent == uploads {
		return nil
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil // the uploads check reports an unreadable uploads folder
	}
	_, uerr := os.Lstat(uploads)
	missing := errors.Is(uerr, os.ErrNotExist)
	var out []Finding
	for _, e := range ents {
		kind := restoreLeftover(base, e.Name())
		if kind == "" || !e.IsDir() {
			continue
		}
		p := filepath.Join(parent, e.Name())
		switch {
		case kind == "old" && missing:
			out = append(out, Finding{Check: "restore leftovers", Status: Fail,
				Detail: fmt.Sprintf("%s is missing and %s is beside it: the previous uploads, moved aside by a restore that was interrupted while swapping the folders; it may be the only copy of them", uploads, p),
				Fix:    fmt.Sprintf("put it back: mv %s %s (then run the restore again if you wanted the backup's uploads)", p, uploads)})
		case kind == "old":
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: fmt.Sprintf("%s: the previous uploads, moved aside by a restore that was interrupted after swapping the folders; it may hold the only copy of uploads that are not in the restored folder nor in a backup", p),
				Fix:    fmt.Sprintf("check that %s holds the uploads you want, copy back anything missing from %s, then delete it (rm -rf %s); the next restore removes it too", uploads, p, p)})
		case restoreRunning(p):
			out = append(out, Finding{Check: "restore leftovers", Status: OK,
				Detail: p + ": the staging folder of a restore that is running now"})
		default:
			out = append(out, Finding{Check: "restore leftovers", Status: Warn,
				Detail: p + ": the staging folder of an interrupted restore; the uploads folder was not changed by it",
				Fix:    "the next restore removes it; or delete it (rm -rf " + p + ")"})
		}
	}
	return out
}

// restoreRunning reports whether a restore holds the lock on its staging
// folder p. Like Held for the run lock, it reads the kernel's lock table
// instead of trying the lock: taking it, even briefly, could make a
// restore starting at that moment fail.
func restoreRunning(p string) bool {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return false
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	for _, line := range strings.Split(string(locks), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want {
			return true
		}
	}
	return false
}
