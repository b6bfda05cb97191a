package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// mustJSON parses stdout as exactly one JSON document.
func mustJSON(t *testing.T, what string, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("%s: stdout is not one JSON document (%v), exit %d:\n%s\n%s", what, err, r.code, r.stdout, r.stderr)
	}
}

// backup, prune and doctor print one JSON document with --json, on
// success and on failure, with the fields docs/usage.md lists.
func TestJSONOutput(t *testing.T) {
	f := newFixture(t)
	var b struct {
		OK       bool
		Name     string
		Path     string
		Method   string
		Error    string
		Step     string `json:"failed_step"`
		ErrorDir string `json:"error_dir"`
		Database struct {
			Bytes  int64
			SHA256 string
			Tables int
		}
		Uploads struct{ Files int64 }
		Cleanup struct{ Kept []string }
	}
	r := f.run("backup", "--json", "--quiet")
	mustJSON(t, "backup --json", r, &b)
	if r.code != 0 || !b.OK || b.Name == "" || b.Path != filepath.Join(f.backups, b.Name) || b.Method != "local" ||
		b.Database.Bytes == 0 || len(b.Database.SHA256) != 64 || b.Database.Tables != 4 || b.Uploads.Files == 0 ||
		!slices.Contains(b.Cleanup.Kept, b.Name) {
		t.Errorf("backup --json: exit %d\n%s", r.code, r.stdout)
	}
	name := b.Name

	var p struct {
		OK      bool
		DryRun  bool `json:"dry_run"`
		Kept    []string
		Expired []string
		Reasons map[string]string
	}
	r = f.run("prune", "--dry-run", "--json")
	mustJSON(t, "prune --json", r, &p)
	if r.code != 0 || !p.OK || !p.DryRun || !slices.Contains(p.Kept, name) || p.Expired == nil || p.Reasons[name] == "" {
		t.Errorf("prune --dry-run --json: exit %d\n%s", r.code, r.stdout)
	}

	var d struct {
		OK     bool
		Checks []struct{ Check, Status, Detail, Fix string }
	}
	r = f.run("doctor", "--json")
	mustJSON(t, "doctor --json", r, &d)
	if r.code != 0 || !d.OK || len(d.Checks) == 0 || d.Checks[0].Status != "ok" {
		t.Errorf("doctor --json: exit %d\n%s", r.code, r.stdout)
	}

	f.env["DB_PORT"] = closedPort(t)
	r = f.run("doctor", "--json")
	d.OK, d.Checks = true, nil
	mustJSON(t, "failing doctor --json", r, &d)
	failed := slices.ContainsFunc(d.Checks, func(c struct{ Check, Status, Detail, Fix string }) bool {
		return c.Status == "FAIL" && c.Fix != ""
	})
	if r.code != exitDoctor || d.OK || !failed {
		t.Errorf("failing doctor --json: exit %d\n%s", r.code, r.stdout)
	}

	b.OK, b.Name = true, ""
	r = f.run("backup", "--json")
	mustJSON(t, "failing backup --json", r, &b)
	if r.code != exitDatabase || b.OK || b.Step != "database" || b.ErrorDir == "" || b.Error == "" {
		t.Errorf("failing backup --json: exit %d\n%s", r.code, r.stdout)
	}
}
