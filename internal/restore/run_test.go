package restore

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// runLiveFolder makes a live uploads folder that differs from the backup
// of src: a copy of src with one file the backup does not have (which also
// changes the folder's mtime, so a restore has something to do).
func runLiveFolder(t *testing.T, src string) string {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live")
	uploadsCopyTree(t, src, live)
	if err := os.WriteFile(filepath.Join(live, "extra.txt"), []byte("made after the backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	return live
}

// Without --delete a restore keeps what the backup does not have; with it,
// removes it. Neither needs --yes, which is about the database only.
func TestRunUploadsKeepsOrDeletes(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, false, false)
	want := uploadsTree(t, src, false)
	live := runLiveFolder(t, src)
	req := Request{BackupsDir: filepath.Dir(b.Path), Uploads: true, UploadsDir: live}

	rep, err := Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Backup != b.Name || rep.State != string(repo.Complete) || rep.Database != nil || rep.Uploads == nil {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Uploads.Kept != 1 || rep.Uploads.Removed != 0 || !rep.Uploads.Verified || rep.Uploads.Target != live {
		t.Errorf("without Delete: %+v", *rep.Uploads)
	}
	if _, err := os.Lstat(filepath.Join(live, "extra.txt")); err != nil {
		t.Errorf("without Delete, the file not in the backup is gone: %v", err)
	}

	req.Delete = true
	rep, err = Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Uploads.Removed != 1 || rep.Uploads.Kept != 0 {
		t.Errorf("with Delete: %+v", *rep.Uploads)
	}
	uploadsSameTree(t, "after a restore with Delete", uploadsTree(t, live, false), want)
}

// A backup that does not exist is a usage error, and nothing is touched.
func TestRunNoSuchBackup(t *testing.T) {
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, false, false)
	live := runLiveFolder(t, src)
	before := uploadsTree(t, live, true)
	_, err := Run(t.Context(), Request{BackupsDir: filepath.Dir(b.Path), Backup: "backup_x_2", Uploads: true, UploadsDir: live})
	if !errors.Is(err, repo.ErrNoBackup) || exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("err %v (exit %d), want ErrNoBackup (exit %d)", err, exitcode.Of(err), exitcode.Usage)
	}
	uploadsSameTree(t, "after a refused restore", uploadsTree(t, live, true), before)
}

// runDump is a plain dump of one table, as pg_dump --clean --if-exists
// writes it.
const runDump = `DROP TABLE IF EXISTS public.articles;
CREATE TABLE public.articles (id integer, title text);
COPY public.articles (id, title) FROM stdin;
1	from the backup
\.

--
-- PostgreSQL database dump complete
--
`

// Restoring over a database that has tables is refused without Yes (exit
// 12, database and folder unchanged) and done with it; a missing database
// is refused without Create.
func TestRunDatabase(t *testing.T) {
	pg := testpg.Get(t)
	src := uploadsMakeSource(t)
	b := uploadsMakeBackup(t, src, false, true)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(runDump))
	w.Close()
	if err := os.WriteFile(filepath.Join(b.Path, repo.DumpGzip), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db := testpg.UniqueName("restore_run")
	pg.CreateDB(t, db, "")
	pg.MustExec(t, db, "CREATE TABLE articles (id integer, title text); INSERT INTO articles VALUES (1, 'live')")
	live := runLiveFolder(t, src)
	before := uploadsTree(t, live, true)
	target := pgexec.Target{Host: pg.Host, Port: pg.Port, User: pg.User, Password: pg.Password, Database: db, Method: pgexec.MethodLocal}
	req := Request{BackupsDir: filepath.Dir(b.Path), DB: true, Target: target, Uploads: true, UploadsDir: live}

	_, err := Run(t.Context(), req)
	if !errors.Is(err, ErrNotEmpty) || exitcode.Of(err) != exitcode.Refused {
		t.Fatalf("over a database with tables without Yes: err %v (exit %d)", err, exitcode.Of(err))
	}
	if got := pg.MustExec(t, db, "SELECT title FROM articles"); got != "live" {
		t.Errorf("refused restore changed the database: %q", got)
	}
	uploadsSameTree(t, "after a refused restore", uploadsTree(t, live, true), before)

	req.Yes = true
	rep, err := Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := pg.MustExec(t, db, "SELECT title FROM articles"); got != "from the backup" {
		t.Errorf("after the restore: %q", got)
	}
	// With Yes the tables before are not counted (HadTables -1).
	if d := rep.Database; d == nil || d.Database != db || d.Tables != 1 || d.HadTables != -1 || d.Created {
		t.Errorf("database report: %+v", d)
	}
	// Yes is not Delete: the file the backup does not have is kept.
	if rep.Uploads == nil || rep.Uploads.Kept != 1 || rep.Uploads.Verified {
		t.Errorf("uploads report: %+v", rep.Uploads)
	}
	if _, err := os.Lstat(filepath.Join(live, "extra.txt")); err != nil {
		t.Errorf("Yes removed a file not in the backup: %v", err)
	}

	req.Target = target.WithDatabase(db + "_missing")
	req.Uploads = false
	if _, err := Run(t.Context(), req); !errors.Is(err, ErrNoDatabase) || exitcode.Of(err) != exitcode.Refused {
		t.Errorf("into a missing database without Create: err %v (exit %d)", err, exitcode.Of(err))
	}
}
