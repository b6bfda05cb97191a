package main

import (
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lockTable holds an ACCESS EXCLUSIVE lock on table in db from a separate
// session until the returned function is called, so a restore can be
// caught half-way through its transaction.
func (f *fixture) lockTable(db, table string) (release func()) {
	f.t.Helper()
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db)
	cmd.Env = f.userEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	io.WriteString(in, "BEGIN; LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
	waitFor(f.t, "the lock", func() bool {
		return f.pg.MustExec(f.t, db, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '"+table+"' AND l.mode = 'AccessExclusiveLock' AND l.granted") != "0"
	})
	done := false
	return func() {
		if done {
			return
		}
		done = true
		io.WriteString(in, "ROLLBACK;\n")
		in.Close()
		cmd.Wait()
	}
}

// sessionsIn counts the other sessions connected to db.
func (f *fixture) sessionsIn(db string) string {
	return f.pg.MustExec(f.t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = '"+db+"' AND pid <> pg_backend_pid()")
}

// A restore whose process dies half-way (SIGKILL, or SIGHUP from a closed
// terminal) must leave the database as it was: psql's transaction is
// committed only by an explicit COMMIT sent after every check passed, and
// psql does not outlive the tool.
//
// The dump is made so that where the tool dies is harmless to psql's
// parser (and no statement writes output, which would kill a psql whose
// reader died): the statements are separated by long comment lines, so psql's
// input almost surely ends inside a comment and a psql that commits at the
// end of its input (psql --single-transaction) would commit the update.
func TestKilledRestoreCommitsNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			if sig == syscall.SIGHUP && signal.Ignored(syscall.SIGHUP) {
				// Under nohup the tool would inherit the ignored SIGHUP and,
				// rightly, run on. A handler here means the child starts
				// with the default disposition instead.
				signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
			}
			f := newFixture(t)
			name := makeLegacyBackup(t, f, f.ts-100000, false)
			os.Remove(filepath.Join(f.backups, name, "db_backup.sql.gz"))
			filler := "-- " + strings.Repeat("x", 256<<10) + "\n"
			dump := "UPDATE articles SET title = 'half-restored';\n" + filler +
				"LOCK TABLE tags IN ACCESS SHARE MODE;\n" + filler + filler +
				"--\n-- PostgreSQL database dump complete\n--\n"
			if err := os.WriteFile(filepath.Join(f.backups, name, "db_backup.sql"), []byte(dump), 0o600); err != nil {
				t.Fatal(err)
			}
			want := f.tableData(f.db)

			// The restore's transaction blocks on the lock after its update.
			release := f.lockTable(f.db, "tags")
			defer release()
			cmd, _, stderr := f.command("restore", "--db", "--force", name)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the restore to wait for the lock", func() bool {
				return f.pg.MustExec(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = '"+f.db+"' AND wait_event_type = 'Lock'") != "0"
			})
			cmd.Process.Signal(sig)
			// Never hang the suite on a tool that does not stop: its psql
			// waits for the lock that is released only after this.
			stopped := make(chan struct{})
			go func() {
				select {
				case <-stopped:
				case <-time.After(60 * time.Second):
					t.Errorf("the restore did not stop within 60 s of %s", sig)
					cmd.Process.Kill()
					release()
				}
			}()
			err := cmd.Wait()
			close(stopped)
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if sig == syscall.SIGHUP && code != exitInterrupted {
				t.Errorf("SIGHUP: exit %d, want %d\n%s", code, exitInterrupted, stderr)
			}
			// Let whatever psql still has go on, then see what it left.
			release()
			waitFor(t, "the restore's session to end", func() bool { return f.sessionsIn(f.db) == "0" })
			compareData(t, "after a "+sig.String()+" of the restore", f.tableData(f.db), want)
		})
	}
}
