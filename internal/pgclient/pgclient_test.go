package pgclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeClient writes a pg_dump that answers --version with version, and a
// psql beside it unless noPsql.
func fakeClient(t *testing.T, dir, version string, noPsql bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\necho 'pg_dump (PostgreSQL) %s'\n", version)
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if !noPsql {
		if err := os.WriteFile(filepath.Join(dir, "psql"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindPicksLowestNewEnough(t *testing.T) {
	ctx := context.Background()
	root, path := t.TempDir(), t.TempDir()
	t.Setenv(SearchRootsEnv, root)
	t.Setenv("PATH", path)
	fakeClient(t, filepath.Join(root, "usr/lib/postgresql/13/bin"), "13.16 (Debian 13.16-1.pgdg120+1)", false)
	fakeClient(t, filepath.Join(root, "usr/pgsql-17/bin"), "17.2", false)
	fakeClient(t, filepath.Join(root, "opt/homebrew/opt/postgresql@16/bin"), "16.6 (Homebrew)", false)
	fakeClient(t, filepath.Join(root, "usr/local/opt/postgresql@15/bin"), "15.1", true) // no psql: not a client

	c, err := Find(ctx, 15, "15.4")
	if err != nil || c.Major != 16 || c.BinDir != filepath.Join(root, "opt/homebrew/opt/postgresql@16/bin") || c.Version != "16.6" {
		t.Fatalf("server 15: %+v, %v", c, err)
	}
	if c, err := Find(ctx, 17, "17.0"); err != nil || c.Major != 17 {
		t.Errorf("server 17: %+v, %v", c, err)
	}

	// PATH's pg_dump wins when it is new enough, even over a closer match.
	fakeClient(t, path, "18beta1", false)
	if c, err := Find(ctx, 15, "15.4"); err != nil || c.BinDir != "" || c.Major != 18 || c.PgDump != filepath.Join(path, "pg_dump") {
		t.Errorf("new enough on PATH: %+v, %v", c, err)
	}

	_, err = Find(ctx, 19, "19.1")
	var none *NoneError
	if !errors.As(err, &none) || !errors.Is(err, ErrNone) {
		t.Fatalf("server 19: %v", err)
	}
	for _, want := range []string{"PostgreSQL 19.1", "pg_dump 19 or newer", "apt-get install postgresql-client-19", "BACKUP_DB_METHOD=docker",
		filepath.Join(path, "pg_dump") + " (18beta1)", "(13.16)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

func TestProbeVersions(t *testing.T) {
	dir := t.TempDir()
	for in, major := range map[string]int{"15.18 (Debian 15.18-0+deb12u1)": 15, "9.6.24": 9, "17beta1": 17, "10.23": 10} {
		fakeClient(t, dir, in, true)
		c, err := probe(context.Background(), filepath.Join(dir, "pg_dump"))
		if err != nil || c.Major != major {
			t.Errorf("%q: %+v, %v", in, c, err)
		}
	}
}
