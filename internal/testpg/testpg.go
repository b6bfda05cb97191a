// Package testpg gives tests a real PostgreSQL server: the throwaway cluster
// that scripts/test.sh starts and describes in DIRECTUS_BACKUP_TEST_PG*
// variables. Tests talk to it with the real psql binary.
//
// Without those variables the tests that need a server are skipped, unless
// DIRECTUS_BACKUP_TEST_REQUIRE_PG is set (as scripts/test.sh does), in which
// case they fail: CI must never pass by skipping.
package testpg

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Server is the address of the test cluster (a superuser login).
type Server struct {
	Host, Port, User, Password string
}

// Get returns the test server, or skips (or fails, when required) the test.
func Get(t testing.TB) Server {
	t.Helper()
	s := Server{
		Host:     os.Getenv("DIRECTUS_BACKUP_TEST_PGHOST"),
		Port:     os.Getenv("DIRECTUS_BACKUP_TEST_PGPORT"),
		User:     os.Getenv("DIRECTUS_BACKUP_TEST_PGUSER"),
		Password: os.Getenv("DIRECTUS_BACKUP_TEST_PGPASSWORD"),
	}
	if s.Host == "" || s.Port == "" {
		if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
			t.Fatal("DIRECTUS_BACKUP_TEST_REQUIRE_PG is set but no test cluster is described; run scripts/test.sh")
		}
		t.Skip("no PostgreSQL test cluster; run scripts/test.sh")
	}
	return s
}

// Env is the libpq environment that reaches the server (password included),
// for commands the test runs itself.
func (s Server) Env() []string {
	return append(os.Environ(),
		"PGHOST="+s.Host, "PGPORT="+s.Port, "PGUSER="+s.User, "PGPASSWORD="+s.Password,
		"PGCONNECT_TIMEOUT=10")
}

// UniqueName returns a database or role name not used by another test.
func UniqueName(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// CreateDB creates an empty database owned by owner (the superuser when
// owner is "") and drops it when the test ends.
func (s Server) CreateDB(t testing.TB, name, owner string) {
	t.Helper()
	sql := `CREATE DATABASE "` + name + `"`
	if owner != "" {
		sql += ` OWNER "` + owner + `"`
	}
	s.MustExec(t, "postgres", sql)
	t.Cleanup(func() {
		s.Exec("postgres", `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	})
}

// CreateRole creates a login role with a password (and CREATEDB, as a
// Directus database owner that restores into new databases has) and drops
// it at the end.
func (s Server) CreateRole(t testing.TB, name, password string) {
	t.Helper()
	s.MustExec(t, "postgres", `CREATE ROLE "`+name+`" LOGIN CREATEDB PASSWORD '`+password+`'`)
	t.Cleanup(func() { s.Exec("postgres", `DROP ROLE IF EXISTS "`+name+`"`) })
}

// Exec runs SQL through psql with ON_ERROR_STOP and returns its
// unaligned, tuples-only output.
func (s Server) Exec(db, sql string) (string, error) {
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, "-c", sql)
	cmd.Env = s.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &ExecError{SQL: sql, Stderr: errb.String(), Err: err}
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

// MustExec is Exec that fails the test on error.
func (s Server) MustExec(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := s.Exec(db, sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ExecError is a failed psql run.
type ExecError struct {
	SQL, Stderr string
	Err         error
}

func (e *ExecError) Error() string {
	return "psql: " + e.Err.Error() + ": " + strings.TrimSpace(e.Stderr) + "\nSQL: " + e.SQL
}
