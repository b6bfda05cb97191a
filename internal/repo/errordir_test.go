package repo

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const testJob = "job-0123abcd-0000-4000-8000-0123456789ab"

// An error folder is read back from its error.json, not from its name or
// its change time.
func TestErrorRecordReadBack(t *testing.T) {
	backups := t.TempDir()
	errDir := DefaultErrorDir(backups)
	if err := os.Mkdir(errDir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := ErrorDirName("2026-01-02_03-04-05", testJob)
	d, err := CreateErrorDir(errDir, backups, name)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	rec := ErrorRecord{Job: testJob, Step: "database", Time: when, Backup: "backup_x_1", ExitCode: 4, Error: "dump failed:\nline two"}
	if err := WriteErrorRecord(d, rec); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := CreateErrorDir(errDir, backups, name); err == nil {
		t.Error("an existing error folder was made again")
	}
	// Not an error folder of this tool: left out.
	os.Mkdir(filepath.Join(errDir, "error_notes"), 0o700)

	runs, err := FailedRuns(errDir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%+v %v", runs, err)
	}
	want := FailedRun{Name: name, Path: filepath.Join(errDir, name), Time: when, Job: testJob, Step: "database", ExitCode: 4, Error: rec.Error}
	if got := runs[0]; !got.Time.Equal(want.Time) || got.Name != want.Name || got.Path != want.Path || got.Job != want.Job ||
		got.Step != want.Step || got.ExitCode != want.ExitCode || got.Error != want.Error {
		t.Errorf("read back %+v, want %+v", got, want)
	}
}

// Error folders written before error.json are read from error.txt, and
// timed by the folder's change time.
func TestFailedRunsReadsOldErrorFolders(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ErrorDirName("2025-01-01_00-00-00", testJob))
	if err := os.Mkdir(old, 0o700); err != nil {
		t.Fatal(err)
	}
	txt := "job: " + testJob + "\nstep: uploads\ntime: 2025-01-01T00:00:00Z\nbackup: backup_x_1\nerror: no space left\n"
	if err := os.WriteFile(filepath.Join(old, "error.txt"), []byte(txt), 0o600); err != nil {
		t.Fatal(err)
	}
	// A broken error.json does not hide the error.txt.
	broken := filepath.Join(dir, ErrorDirName("2025-02-01_00-00-00", testJob))
	os.Mkdir(broken, 0o700)
	os.WriteFile(filepath.Join(broken, ErrorRecordName), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(broken, "error.txt"), []byte("step: cleanup\nerror: x\n"), 0o600)
	mtime := time.Unix(1_700_000_000, 0)
	os.Chtimes(old, mtime, mtime)
	os.Chtimes(broken, mtime.Add(time.Hour), mtime.Add(time.Hour))

	runs, err := FailedRuns(dir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("%+v %v", runs, err)
	}
	if r := runs[1]; r.Step != "uploads" || r.Error != "no space left" || r.Job != testJob || !r.Time.Equal(mtime) {
		t.Errorf("old error folder read as %+v", r)
	}
	if r := runs[0]; r.Step != "cleanup" || r.Error != "x" {
		t.Errorf("error folder with a broken error.json read as %+v", r)
	}
}

func TestExpiredErrorDirs(t *testing.T) {
	backups := t.TempDir()
	errDir := DefaultErrorDir(backups)
	os.Mkdir(errDir, 0o700)
	oldName := ErrorDirName("2020-01-01_00-00-00", testJob)
	newName := ErrorDirName("2026-01-01_00-00-00", "job-0123abcd-0000-4000-8000-0123456789ac")
	for _, n := range []string{oldName, newName, "error_notes"} {
		os.Mkdir(filepath.Join(errDir, n), 0o700)
		os.Chtimes(filepath.Join(errDir, n), time.Unix(0, 0), time.Unix(0, 0))
	}
	os.Chtimes(filepath.Join(errDir, newName), time.Now(), time.Now())
	names, err := ExpiredErrorDirs(errDir, backups, time.Now().Add(-time.Hour))
	if err != nil || len(names) != 1 || names[0] != oldName {
		t.Fatalf("%v %v", names, err)
	}
	if err := RemoveErrorDir(errDir, oldName); err != nil {
		t.Fatal(err)
	}
	if names, err := ExpiredErrorDirs(filepath.Join(backups, "none"), backups, time.Now()); err != nil || names != nil {
		t.Errorf("missing error folder: %v %v", names, err)
	}
}
