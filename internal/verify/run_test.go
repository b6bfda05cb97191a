package verify

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// Run reports a clean backup as OK, a damaged one with its problem and
// exit code 9, and a missing one as a usage error; the JSON form keeps the
// field names scripts rely on.
func TestRun(t *testing.T) {
	dir, bdir := fixture(t)
	rep, err := Run(t.Context(), Request{BackupsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Latest != nil || len(rep.Backups) != 1 {
		t.Fatalf("clean backup: %+v", rep)
	}
	if b := rep.Backups[0]; b.Backup != backupName || !b.OK || b.Files != 3 || b.Directus != 2 || b.RestoreTest != nil {
		t.Errorf("clean backup: %+v", b)
	}
	data, _ := json.Marshal(rep)
	for _, k := range []string{`"backups":`, `"latest_problem":null`, `"ok":true`, `"backup":`, `"state":"complete"`, `"problems":[]`,
		`"skipped":[]`, `"files_checked":3`, `"bytes_read":`, `"directus_files_checked":2`, `"seconds":`} {
		if !strings.Contains(string(data), k) {
			t.Errorf("JSON lacks %s: %s", k, data)
		}
	}

	p := filepath.Join(bdir, repo.BackupUploadsName, "bbb.png")
	os.WriteFile(p, []byte("png dat!"), 0o644)
	rep, err = Run(t.Context(), Request{BackupsDir: dir, All: true})
	var pe ProblemsError
	if !errors.As(err, &pe) || exitcode.Of(err) != exitcode.Problems {
		t.Fatalf("damaged backup: err %v (exit %d)", err, exitcode.Of(err))
	}
	if rep.OK || len(rep.Backups) != 1 || rep.Backups[0].OK || len(rep.Backups[0].Problems) != 1 ||
		rep.Backups[0].Problems[0].Path != "uploads/bbb.png" {
		t.Errorf("damaged backup: %+v", rep)
	}

	rep, err = Run(t.Context(), Request{BackupsDir: dir, Backup: "backup_2026-01-01_1"})
	if !errors.Is(err, repo.ErrNoBackup) || exitcode.Of(err) != exitcode.Usage || rep.Backups != nil {
		t.Errorf("no such backup: err %v (exit %d), report %+v", err, exitcode.Of(err), rep)
	}
}

// With RestoreTest, the dump is restored into a scratch database, its row
// counts compared, and the database dropped.
func TestRunRestoreTest(t *testing.T) {
	pg := testpg.Get(t)
	dir, _ := fixture(t)
	scratch := testpg.UniqueName("verify_run")
	target := pgexec.Target{Host: pg.Host, Port: pg.Port, User: pg.User, Password: pg.Password, Database: "postgres", Method: pgexec.MethodLocal}
	rep, err := Run(t.Context(), Request{BackupsDir: dir, RestoreTest: true, Target: target, Scratch: scratch})
	if err != nil {
		t.Fatalf("%v: %+v", err, rep)
	}
	rt := rep.Backups[0].RestoreTest
	if rt == nil || rt.Scratch != scratch || rt.Tables != 2 || rt.Rows != 5 || !rep.OK {
		t.Errorf("restore test: %+v", rt)
	}
	if got := pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scratch+"'"); got != "0" {
		t.Errorf("scratch database %s left behind", scratch)
	}
}
