package repo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/regfile"
)

// Error folders: BACKUP_ERROR_DIR (default BACKUPS_DIR/error_logs) holds
// one error_<date>_<job-id>/ per failed run. Its ErrorRecordName file
// says what failed, as data; folders written before it existed are read
// from their error.txt.
const (
	ErrorDirPrefix  = "error_"
	ErrorRecordName = "error.json"
	errorTextName   = "error.txt" // human-readable; the record before error.json
)

var errorDirRE = regexp.MustCompile(`^error_.+_job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ErrorDirName is the name of the error folder of the run jobID, started
// at the formatted date.
func ErrorDirName(date, jobID string) string { return ErrorDirPrefix + date + "_" + jobID }

// IsErrorDirName reports whether name is an error folder this tool made
// (BACKUP_ERROR_DIR may be shared with other things).
func IsErrorDirName(name string) bool { return errorDirRE.MatchString(name) }

// ErrorDirPath returns the error folder name in errorDir.
func ErrorDirPath(errorDir, name string) string { return filepath.Join(errorDir, name) }

// ErrorRecord is what an error folder's error.json holds.
type ErrorRecord struct {
	Job      string    `json:"job"`
	Step     string    `json:"step"`
	Time     time.Time `json:"time"`
	Backup   string    `json:"backup,omitempty"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error"`
}

// Text is the record as error.txt shows it.
func (r ErrorRecord) Text() string {
	return fmt.Sprintf("job: %s\nstep: %s\ntime: %s\nbackup: %s\nexit code: %d\nerror: %s\n",
		r.Job, r.Step, r.Time.Format(time.RFC3339), r.Backup, r.ExitCode, r.Error)
}

// OpenErrorParent opens BACKUP_ERROR_DIR errorDir: not through a symlink
// when it is inside BACKUPS_DIR backupsDir, where the owner of BACKUPS_DIR
// could have put one.
func OpenErrorParent(errorDir, backupsDir string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if inside(errorDir, backupsDir) {
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

// CreateErrorDir creates the error folder name in the existing errorDir
// and returns it open. The name comes from the job ID, which anyone who
// can list BACKUPS_DIR sees in temp_<job>, so something may be planted
// there: it is created with mkdir (which fails on anything existing,
// symlinks included) and opened without following.
func CreateErrorDir(errorDir, backupsDir, name string) (*os.File, error) {
	parent, err := OpenErrorParent(errorDir, backupsDir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	p := ErrorDirPath(errorDir, name)
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o700); err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: p, Err: err}
	}
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// WriteErrorRecord writes rec in the open error folder d, as error.json
// and as error.txt (for people). The caller redacts secrets first.
func WriteErrorRecord(d *os.File, rec ErrorRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return errors.Join(WriteNewAt(d, ErrorRecordName, append(data, '\n')), WriteNewAt(d, errorTextName, []byte(rec.Text())))
}

// WriteNewAt writes a new file name, mode 0600, in the open folder d:
// never over or through anything already there.
func WriteNewAt(d *os.File, name string, data []byte) error {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
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

// FailedRun is one error folder, as the list command shows it.
type FailedRun struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Time     time.Time `json:"time"`
	Job      string    `json:"job,omitempty"`
	Step     string    `json:"step"`
	ExitCode int       `json:"exit_code,omitempty"`
	Error    string    `json:"error"`
}

// FailedRuns reads the error folders in dir, newest first. Each is read
// from its error.json; an older folder without one from its error.txt,
// with the folder's change time as its time.
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
		if !e.IsDir() || !IsErrorDirName(e.Name()) {
			continue
		}
		fr := FailedRun{Name: e.Name(), Path: ErrorDirPath(dir, e.Name())}
		if fi, err := e.Info(); err == nil {
			fr.Time = fi.ModTime()
		}
		// regfile: a FIFO planted there must not hang list.
		if rec, ok := readErrorRecord(fr.Path); ok {
			fr.Job, fr.Step, fr.ExitCode, fr.Error = rec.Job, rec.Step, rec.ExitCode, rec.Error
			if !rec.Time.IsZero() {
				fr.Time = rec.Time
			}
		} else {
			data, _ := regfile.ReadFile(filepath.Join(fr.Path, errorTextName))
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "step: "); ok {
					fr.Step = v
				} else if v, ok := strings.CutPrefix(line, "error: "); ok {
					fr.Error = v
				} else if v, ok := strings.CutPrefix(line, "job: "); ok {
					fr.Job = v
				}
			}
		}
		out = append(out, fr)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// readErrorRecord reads the error.json in the error folder p.
func readErrorRecord(p string) (ErrorRecord, bool) {
	var rec ErrorRecord
	data, err := regfile.ReadFile(filepath.Join(p, ErrorRecordName))
	if err != nil || json.Unmarshal(data, &rec) != nil {
		return ErrorRecord{}, false
	}
	return rec, true
}

// ExpiredErrorDirs returns the error folders in errorDir last changed
// before cutoff. errorDir is not followed when it is a symlink inside
// backupsDir: the folders removed must be this tool's, where it put them.
// A missing errorDir has none.
func ExpiredErrorDirs(errorDir, backupsDir string, cutoff time.Time) ([]string, error) {
	d, err := OpenErrorParent(errorDir, backupsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || !IsErrorDirName(e.Name()) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveErrorDir removes the error folder name in errorDir.
func RemoveErrorDir(errorDir, name string) error { return RemoveTree(ErrorDirPath(errorDir, name)) }

// inside reports whether p is inside (not equal to) dir.
func inside(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}
