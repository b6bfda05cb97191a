package job

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/redact"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// writeErrorDir records a failed run in BACKUP_ERROR_DIR/error_<date>_<job>/:
// the failed step, its error and exit code (error.json, and error.txt for
// people), the job's log, pg_dump's stderr, the environment with secrets
// redacted, and a listing of what the temporary folder held. It returns
// the folder, or "" when none could be written (the run's error is what
// matters; this failure is only logged).
func (r *run) writeErrorDir(step string, stepErr error) string {
	name := repo.ErrorDirName(r.cfg.FormattedDate, r.rep.JobID)
	dir := repo.ErrorDirPath(r.cfg.ErrorDir, name)
	d, err := r.makeErrorDir(name)
	if err != nil {
		r.log.Warn("could not write the error folder", "path", dir, "err", err)
		return ""
	}
	defer d.Close()
	secrets := r.cfg.Secrets()
	scrub := func(s string) string { return redact.String(s, secrets...) }

	// Each field is redacted before it is encoded: JSON escaping could
	// hide a secret from the redaction of the encoded text.
	rec := repo.ErrorRecord{Job: r.rep.JobID, Step: step, Time: time.Now(), Backup: r.rep.Name,
		ExitCode: (&StepError{Step: step, Err: stepErr}).ExitCode(), Error: scrub(fmt.Sprint(stepErr))}
	if err := repo.WriteErrorRecord(d, rec); err != nil {
		r.log.Warn("could not write to the error folder", "path", dir, "err", err)
	}
	var files []struct{ name, data string }
	add := func(n, d string) { files = append(files, struct{ name, data string }{n, d}) }
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
		if err := repo.WriteNewAt(d, f.name, []byte(f.data)); err != nil {
			r.log.Warn("could not write to the error folder", "path", dir, "err", err) // err names the file
		}
	}
	r.log.Info("error details saved", "path", dir)
	return dir
}

// makeErrorDir creates the error folder name in BACKUP_ERROR_DIR (see
// repo.CreateErrorDir) and returns it open.
func (r *run) makeErrorDir(name string) (*os.File, error) {
	// A run that failed early (a missing pg_dump) has not made it yet.
	if err := mkdirOwnerOnly(r.cfg.ErrorDir); err != nil {
		return nil, err
	}
	return repo.CreateErrorDir(r.cfg.ErrorDir, r.cfg.BackupsDir, name)
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
