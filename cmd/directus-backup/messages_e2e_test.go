package main

import (
	"regexp"
	"strings"
	"testing"
)

// The refusal of a restore, the restore summary and the restore test count
// the same thing when they say "tables"; a failure's last line points to
// doctor, a refusal's does not.
func TestTableCountsAgreeAndFailuresPointToDoctor(t *testing.T) {
	f := newFixture(t)
	f.mustBackup()
	// The fixture has 4 tables, plus a view and a sequence.
	const tables = "4 tables"

	r := f.run("restore", "--db")
	if r.code != exitRefused || !strings.Contains(r.stderr, "has 4 tables (and 2 views, sequences and other relations)") {
		t.Errorf("refusal: exit %d\n%s", r.code, r.stderr)
	}
	if last := lastLine(r.stderr); strings.Contains(last, "doctor") {
		t.Errorf("a refusal points to doctor: %q", last)
	}
	r = f.run("restore", "--db", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, ", "+tables+",") {
		t.Errorf("restore summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.run("verify", "--restore-test")
	if r.code != 0 || !regexp.MustCompile(`restore test in \S+: `+tables+`,`).MatchString(r.stdout) {
		t.Errorf("restore test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	f.env["DB_PORT"] = closedPort(t)
	r = f.run("backup")
	if r.code != exitDatabase || !strings.Contains(lastLine(r.stderr), "directus-backup doctor") {
		t.Errorf("a failed backup's last line does not point to doctor: exit %d\n%s", r.code, r.stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
