package job

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.log.Warn("could not write the error folder", "path", dir, "err", err)
		return ""
	}
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
		add("temp_contents.txt", listTree(r.temp, 200))
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.data), 0o600); err != nil {
			r.log.Warn("could not write to the error folder", "path", filepath.Join(dir, f.name), "err", err)
		}
	}
	r.log.Info("error details saved", "path", dir)
	return dir
}

// listTree describes what a partial backup held (names and sizes, at most
// max lines) so the error folder shows how far the run got without keeping
// the bulky data itself.
func listTree(root string, max int) string {
	var b strings.Builder
	n := 0
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
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
