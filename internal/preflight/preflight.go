// Package preflight holds the checks made before a backup: required
// command, the pg_dump matched to the server's version (client.go),
// folders, permissions, the .env file's mode and free space against the
// last backup plus BACKUP_MIN_FREE. doctor prints every finding with its fix; the
// backup run applies the same checks before any work, stopping at a
// failure and logging the warnings. Keeping them in one place means the
// two never disagree about what a run needs.
package preflight

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/pgclient"
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

// Options change what Run checks.
type Options struct {
	// NoCommand skips the check for pg_dump (or docker): the caller dumps
	// the database another way.
	NoCommand bool
}

// Run makes the checks a backup run applies before it takes the lock: the
// .env file's mode, the dump command, the uploads folder and who can reach
// BACKUPS_DIR. doctor prints them too, among its own.
func Run(cfg *config.Config, opts Options) []Finding {
	var fs []Finding
	if f, ok := EnvFile(cfg); ok {
		fs = append(fs, f)
	}
	if !opts.NoCommand {
		fs = append(fs, Command(cfg))
	}
	if f, ok := DBHost(cfg); ok {
		fs = append(fs, f)
	}
	fs = append(fs, Storage(cfg)...)
	if f, ok := FolderMode("backups folder", cfg.BackupsDir); ok {
		fs = append(fs, f)
	}
	if f, ok := Owners(cfg.BackupsDir, os.Geteuid()); ok {
		fs = append(fs, f)
	}
	return fs
}

// EnvFile warns when the .env file that was read holds the database
// password and other users can read it.
func EnvFile(cfg *config.Config) (Finding, bool) {
	if !cfg.EnvFileHoldsPassword() {
		return Finding{}, false
	}
	fi, err := os.Stat(cfg.EnvFile)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return Finding{}, false
	}
	return Finding{Check: ".env file permissions", Status: Warn,
		Detail: fmt.Sprintf("%s holds DB_PASSWORD and has mode %04o: other users can read the password", cfg.EnvFile, fi.Mode().Perm()),
		Fix:    "chmod 600 " + cfg.EnvFile}, true
}

// Command checks that the program the dump needs is on PATH.
func Command(cfg *config.Config) Finding {
	method := dbtarget.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile)
	name := dbtarget.RequiredCommand(method)
	detail := fmt.Sprintf("method %s (BACKUP_DB_METHOD=%s)", method, cfg.DBMethod)
	if method == pgexec.MethodDocker {
		detail += fmt.Sprintf(", compose file(s) %s, service %s", strings.Join(cfg.ComposeFiles, ", "), cfg.DockerService)
		if cfg.ComposeProject != "" {
			detail += ", project " + cfg.ComposeProject
		}
	}
	if method == pgexec.MethodDocker {
		return composeCheck(cfg, detail)
	}
	p, err := exec.LookPath(name)
	if err != nil && method == pgexec.MethodLocal {
		// The version check picks one from the standard locations.
		if cs := pgclient.Installed(context.Background()); len(cs) > 0 {
			return Finding{Check: "command " + name, Status: OK,
				Detail: fmt.Sprintf("%s: not on PATH, but found in %d standard location(s), newest %s", detail, len(cs), cs[len(cs)-1].PgDump)}
		}
	}
	if err != nil {
		where := "on PATH"
		if method == pgexec.MethodLocal {
			where = "on PATH nor in the standard install folders"
		}
		return Finding{Check: "command " + name, Status: Fail,
			Detail: fmt.Sprintf("%s: required command %q not found %s (%v)", detail, name, where, err),
			Fix:    fmt.Sprintf("install it (apt-get install %s) or set BACKUP_DB_METHOD", dbtarget.InstallHint(name))}
	}
	return Finding{Check: "command " + name, Status: OK, Detail: detail + ": " + p}
}

// DBHost warns, for the local method, when DB_HOST does not resolve on
// this host: in a compose deployment it is usually the database service's
// name, reachable only inside the compose network, and the docker method
// is what works.
func DBHost(cfg *config.Config) (Finding, bool) {
	h := cfg.DB.Host
	if dbtarget.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile) != pgexec.MethodLocal ||
		h == "" || strings.HasPrefix(h, "/") || net.ParseIP(h) != nil {
		return Finding{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, h); err == nil {
		return Finding{}, false
	}
	f := Finding{Check: "database host", Status: Warn,
		Detail: fmt.Sprintf("DB_HOST %q does not resolve on this host (a compose service name is reachable only inside its compose network)", h)}
	if fi, err := os.Stat(cfg.DockerComposeFile); err == nil && fi.Mode().IsRegular() {
		f.Detail += "; compose file " + cfg.DockerComposeFile + " is here"
		f.Fix = "use the docker method: BACKUP_DB_METHOD=docker (or auto), BACKUP_DOCKER_SERVICE=<the database service>"
	} else {
		f.Fix = "set DB_HOST to an address this host reaches, or use the docker method: run from the folder holding the compose file, or set BACKUP_COMPOSE_FILES, with BACKUP_DB_METHOD=docker"
	}
	return f, true
}

// composeCheck checks that docker compose (the plugin, or the old
// docker-compose program) answers.
func composeCheck(cfg *config.Config, detail string) Finding {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dbtarget.ComposeCommand(ctx)
	if err != nil {
		return Finding{Check: "command docker compose", Status: Fail,
			Detail: detail + ": " + err.Error(), Fix: dbtarget.ComposeHint() + ", or set BACKUP_DB_METHOD=local"}
	}
	return Finding{Check: "command docker compose", Status: OK, Detail: detail + ": " + strings.Join(c, " ")}
}

// Uploads checks that the Directus uploads folder is a folder this user
// can list.
func Uploads(cfg *config.Config) Finding {
	const check = "uploads folder"
	fail := func(detail, fix string) Finding {
		return Finding{Check: check, Status: Fail, Detail: detail, Fix: fix}
	}
	fi, err := os.Stat(cfg.UploadsDir)
	if err != nil {
		return fail("uploads folder (BACKUP_UPLOADS_DIR): "+err.Error(), "set BACKUP_UPLOADS_DIR (or STORAGE_LOCAL_ROOT) to the Directus uploads folder; "+
			"if Directus runs in docker compose, STORAGE_LOCAL_ROOT in its .env is a path inside the container (e.g. /directus/uploads): set BACKUP_UPLOADS_DIR to the host folder mounted there")
	}
	if !fi.IsDir() {
		return fail(fmt.Sprintf("uploads folder (BACKUP_UPLOADS_DIR) %s is not a folder", cfg.UploadsDir), "set BACKUP_UPLOADS_DIR to the uploads folder")
	}
	// O_DIRECTORY: what is swapped in after the Stat (a FIFO) fails to
	// open instead of blocking the check.
	fd, err := unix.Open(cfg.UploadsDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		err = &os.PathError{Op: "open", Path: cfg.UploadsDir, Err: err}
		return fail("uploads folder (BACKUP_UPLOADS_DIR): "+err.Error(), "run as a user that can read the uploads folder")
	}
	f := os.NewFile(uintptr(fd), cfg.UploadsDir)
	_, rerr := f.Readdirnames(1)
	f.Close()
	if rerr != nil && rerr != io.EOF {
		return fail("uploads folder (BACKUP_UPLOADS_DIR): "+rerr.Error(), "run as a user that can read the uploads folder")
	}
	return Finding{Check: check, Status: OK, Detail: cfg.UploadsDir + " is readable"}
}

// Writable checks dir (or, when it does not exist yet, the nearest
// existing parent, since the run will create it) by creating a probe file
// there (probeWrite), and warns when others can read dir.
func Writable(check, dir, setting string) []Finding {
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
	if err := probeWrite(target); err != nil {
		return []Finding{{Check: check, Status: Fail, Detail: fmt.Sprintf("%s: cannot write in %s: %v", dir, target, err),
			Fix: "fix the permissions, or set " + setting + " to a writable folder"}}
	}
	detail := dir + " is writable"
	if target != dir {
		detail = dir + " will be created in " + target
	}
	out := []Finding{{Check: check, Status: OK, Detail: detail}}
	if f, ok := FolderMode(check, dir); ok {
		out = append(out, f)
	}
	return out
}

// FolderMode warns when other users can read or enter dir: a backup holds
// the whole database.
func FolderMode(check, dir string) (Finding, bool) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 == 0 {
		return Finding{}, false
	}
	return Finding{Check: check + " permissions", Status: Warn,
		Detail: fmt.Sprintf("%s has mode %04o: other users can read the backups", dir, fi.Mode().Perm()),
		Fix:    "chmod 700 " + dir}, true
}

// Owners warns when a root run's BACKUPS_DIR, or a folder above it, can be
// changed by another user. The run never follows what is planted there,
// but that user can still delete or replace backups, and fill the disk; a
// root-owned BACKUPS_DIR avoids the whole question.
func Owners(dir string, euid int) (Finding, bool) {
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

// LastBackup is the backup a new one builds on: the one backup_latest
// points at (the last one that passed every step, verify included), else
// the newest complete one. The run links uploads against it, and free
// space is measured against what it took.
func LastBackup(dir string, backups []repo.Backup) (repo.Backup, bool) {
	if target, ok := repo.Latest(dir); ok {
		for _, b := range backups {
			if b.Name == target && b.Usable() {
				return b, true
			}
		}
	}
	return repo.NewestUsable(backups)
}

// Needed is the space a backup like b needs: its dump plus the file
// bytes it copied (uploads, other storage locations, extensions) (linked files take no new space). 0 when b has no
// manifest to say.
func Needed(b repo.Backup) int64 {
	if b.Manifest == nil {
		return 0
	}
	n := b.Manifest.Database.Bytes + b.Manifest.Uploads.CopiedBytes
	for _, l := range b.Manifest.Storage {
		n += l.CopiedBytes
	}
	if e := b.Manifest.Extensions; e != nil {
		n += e.CopiedBytes
	}
	return n
}

// FreeSpace compares the free space in dir with this run's estimated
// need, the last backup's (Needed; 0 for a first backup, whose size
// nothing tells without reading everything), plus the margin min
// (BACKUP_MIN_FREE). Falling below is a failure: a run that fills the disk
// fails late, after the dump, and leaves the filesystem full for Directus
// and PostgreSQL too. With min off, a shortfall against the estimate is
// only a warning, as the new data may be smaller. ok is false when the
// free space cannot be read.
func FreeSpace(dir string, last repo.Backup, hasLast bool, min config.MinFree) (f Finding, ok bool) {
	free, total, err := statfs(dir)
	if err != nil {
		return Finding{}, false
	}
	var need int64
	estimate := "no earlier backup to estimate this run's need from"
	if hasLast {
		need = Needed(last)
		estimate = fmt.Sprintf("this run needs about %s (estimated from backup %s: its dump plus the uploads it copied)", humanize.Bytes(need), last.Name)
	}
	f = Finding{Check: "free space", Status: OK,
		Detail: fmt.Sprintf("%s free in %s; %s", humanize.Bytes(int64(free)), dir, estimate)}
	if min.Off() {
		f.Detail += "; BACKUP_MIN_FREE=0 (no margin enforced)"
		if free < uint64(need) {
			f.Status, f.Fix = Warn, "free space, lower BACKUP_RETENTION_DAYS/BACKUP_RETENTION_COUNT, or set BACKUP_MIN_FREE to refuse such runs"
		}
		return f, true
	}
	margin := min.Of(total)
	keep := fmt.Sprintf("BACKUP_MIN_FREE=%s keeps %s free", min, humanize.Bytes(int64(margin)))
	f.Detail += "; " + keep
	if free < uint64(need)+margin {
		f.Status = Fail
		f.Detail = fmt.Sprintf("not enough free space to start: %s free in %s, %s needed; %s; %s",
			humanize.Bytes(int64(free)), dir, humanize.Bytes(int64(uint64(need)+margin)), estimate, keep)
		f.Fix = "free space (or lower BACKUP_RETENTION_DAYS/BACKUP_RETENTION_COUNT so older backups are removed), or lower BACKUP_MIN_FREE (0 = off)"
	}
	return f, true
}

// statfs returns the bytes free to this user and the filesystem's size.
func statfs(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// Err is a failed finding as an error, for the backup run.
type Err struct{ Finding Finding }

func (e *Err) Error() string {
	if e.Finding.Fix == "" {
		return e.Finding.Detail
	}
	return e.Finding.Detail + "; " + e.Finding.Fix
}

// FirstFailure returns the first failed finding as an error, or nil.
func FirstFailure(fs []Finding) error {
	for _, f := range fs {
		if f.Status == Fail {
			return &Err{Finding: f}
		}
	}
	return nil
}

// probeWrite checks that a file can be created in dir. The file has no
// name (fsmeta.UnnamedFile), so nothing is left behind even if the check is
// killed.
func probeWrite(dir string) error {
	f, err := fsmeta.UnnamedFile(dir, ".directus-backup-doctor-", true)
	if err != nil {
		return err
	}
	return f.Close()
}
