package job

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/redact"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// writeErrorDir records a failed run in BACKUP_ERROR_DIR/error_<date>_<job>/:
// the job's log, the failed step and its error, pg_dump's stderr, the
// environment with secrets redacted, and a listing of what the temporary
// folder held. It returns the folder, or "" when none could be written
// (the run's error is what matters; this failure is only logged).
func (r *run) writeErrorDir(step string, stepErr error) string {
	name := fmt.Sprintf("%s%s_%s", ErrorDirPrefix, r.cfg.FormattedDate, r.rep.JobID)
	dir := filepath.Join(r.cfg.ErrorDir, name)
	d, err := r.makeErrorDir(name)
	if err != nil {
		r.log.Warn("could not write the error folder", "path", dir, "err", err)
		return ""
	}
	defer d.Close()
	secrets := r.cfg.Secrets()
	scrub := func(s string) string { return redact.String(s, secrets...) }

	var files []struct{ name, data string }
	add := func(n, d string) { files = append(files, struct{ name, data string }{n, d}) }
	add("error.txt", scrub(fmt.Sprintf("job: %s\nstep: %s\ntime: %s\nbackup: %s\nerror: %v\n",
		r.rep.JobID, step, time.Now().Format(time.RFC3339), r.rep.Name, stepErr)))
	if r.deps.JobLog != nil {
		add("job.log", scrub(string(r.deps.JobLog())))
	}
	if s := r.stderr.String(); s != "" {
		add("pg_dump.stderr", scrub(s))
	}
	env := redact.Env(r.deps.Environ)
	sort.Strings(env)
	add("environment.txt", scrub(strings.Join(env, "\n")+"\n"))
	if r.temp != "" {
		add("temp_contents.txt", listTree(r.in(), 200))
	}
	for _, f := range files {
		if err := writeAt(d, f.name, []byte(f.data)); err != nil {
			r.log.Warn("could not write to the error folder", "path", filepath.Join(dir, f.name), "err", err)
		}
	}
	r.log.Info("error details saved", "path", dir)
	return dir
}

// makeErrorDir creates the error folder name in BACKUP_ERROR_DIR and
// returns it open. The folder name comes from the job ID, which anyone who
// can list BACKUPS_DIR sees in temp_<job>, so something may be planted
// there: it is created with Mkdir (which fails on anything existing,
// symlinks included) and opened without following. BACKUP_ERROR_DIR itself
// is not followed when it is a symlink inside BACKUPS_DIR (the default
// error_logs), where the owner of BACKUPS_DIR could have put it.
func (r *run) makeErrorDir(name string) (*os.File, error) {
	// A run that failed early (a missing pg_dump) has not made it yet.
	if err := mkdirOwnerOnly(r.cfg.ErrorDir); err != nil {
		return nil, err
	}
	parent, err := openErrorParent(r.cfg.ErrorDir, r.cfg.BackupsDir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o700); err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(r.cfg.ErrorDir, name), Err: err}
	}
	fd, err := unix.Openat(int(parent.Fd()), name, ownDirFlags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(r.cfg.ErrorDir, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.cfg.ErrorDir, name)), nil
}

// openErrorParent opens BACKUP_ERROR_DIR: not through a symlink when it is
// inside BACKUPS_DIR.
func openErrorParent(errorDir, backupsDir string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if within(errorDir, backupsDir) {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(errorDir, flags, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("%s is not a folder (a symlink inside BACKUPS_DIR is not followed)", errorDir)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: errorDir, Err: err}
	}
	return os.NewFile(uintptr(fd), errorDir), nil
}

// within reports whether p is inside (not equal to) dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// writeAt writes a new file name in the open folder d: never over or
// through anything already there.
func writeAt(d *os.File, name string, data []byte) error {
	fd, err := unix.Openat(int(d.Fd()), name, createFlags, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(d.Name(), name), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.Name(), name))
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// listTree describes what a partial backup held (names and sizes, at most
// max lines) so the error folder shows how far the run got without keeping
// the bulky data itself.
func listTree(root string, max int) string {
	var b strings.Builder
	n := 0
	// The trailing slash makes WalkDir follow root itself, which is the
	// /proc/self/fd link to the temporary folder; nothing below is followed.
	filepath.WalkDir(root+string(filepath.Separator), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n >= max {
			b.WriteString("...\n")
			return filepath.SkipAll
		}
		rel, _ := filepath.Rel(root, p)
		size := int64(0)
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		fmt.Fprintf(&b, "%s\t%d\n", rel, size)
		n++
		return nil
	})
	return b.String()
}

// FailedRun is one error folder, as the list command shows it.
type FailedRun struct {
	Name  string    `json:"name"`
	Path  string    `json:"path"`
	Time  time.Time `json:"time"`
	Step  string    `json:"step"`
	Error string    `json:"error"`
}

// FailedRuns reads the error folders in dir, newest first.
func FailedRuns(dir string) ([]FailedRun, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []FailedRun
	for _, e := range ents {
		if !e.IsDir() || !errorDirRE.MatchString(e.Name()) {
			continue
		}
		fr := FailedRun{Name: e.Name(), Path: filepath.Join(dir, e.Name())}
		if fi, err := e.Info(); err == nil {
			fr.Time = fi.ModTime()
		}
		data, _ := regfile.ReadFile(filepath.Join(fr.Path, "error.txt")) // a FIFO there must not hang list
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "step: "); ok {
				fr.Step = v
			} else if v, ok := strings.CutPrefix(line, "error: "); ok {
				fr.Error = v
			}
		}
		out = append(out, fr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}
