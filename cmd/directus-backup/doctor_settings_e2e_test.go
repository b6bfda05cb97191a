package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/config"
)

// doctor lists the settings in effect with where each came from: a flag,
// the environment, the .env file (named), a default. Secrets show as [set]
// and their values appear nowhere, in the text and in the JSON.
func TestDoctorSettings(t *testing.T) {
	dir := t.TempDir()
	const password = "Pw-from-dotenv-9f3k"
	const pingToken = "0b5e2a8c-ping-token"
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte("DB_DATABASE=directus\nDB_PASSWORD="+password+
		"\nBACKUP_RETENTION_DAYS=14\nBACKUP_PING_URL=http://127.0.0.1:1/"+pingToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(binPath, args...)
		cmd.Dir = dir
		// The database is down: doctor fails its checks, and still says
		// which settings it used.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC",
			"DB_HOST=127.0.0.1", "DB_PORT=" + closedPort(t), "BACKUP_DB_METHOD=local"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err == nil {
			t.Fatalf("doctor %v passed with the database down:\n%s", args, stdout.String())
		}
		if out := stdout.String() + stderr.String(); strings.Contains(out, password) || strings.Contains(out, pingToken) {
			t.Errorf("doctor %v printed a secret:\n%s", args, out)
		}
		return stdout.String(), stderr.String()
	}
	fromFile := ".env file " + envFile

	text, stderr := run("doctor", "--gzip-level", "5")
	_, table, ok := strings.Cut(text, "\nSettings not at their default")
	if !ok {
		t.Fatalf("no settings table after the checks:\n%s%s", text, stderr)
	}
	for _, want := range [][]string{
		{"BACKUP_GZIP_LEVEL", "5", "flag"},
		{"DB_HOST", "127.0.0.1", "environment"},
		{"BACKUP_RETENTION_DAYS", "14", fromFile},
		{"DB_PASSWORD", "[set]", fromFile},
		{"BACKUP_PING_URL", "[set]", fromFile},
	} {
		if !strings.Contains(table, "\n  "+want[0]+" ") || !hasRow(table, want...) {
			t.Errorf("settings table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "BACKUP_COMPRESSION") {
		t.Errorf("a default setting is listed without --all-settings:\n%s", table)
	}
	if all, _ := run("doctor", "--all-settings"); !hasRow(all, "BACKUP_COMPRESSION", "gzip", "default") ||
		!hasRow(all, "BACKUP_S3_SECRET_ACCESS_KEY", "(not set)", "default") {
		t.Errorf("--all-settings does not list the defaults:\n%s", all)
	}

	out, _ := run("doctor", "--json", "--gzip-level", "5")
	var doc struct {
		Settings []struct{ Name, Value, From string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	got := map[string][2]string{}
	for _, s := range doc.Settings {
		got[s.Name] = [2]string{s.Value, s.From}
	}
	for name, want := range map[string][2]string{
		"BACKUP_GZIP_LEVEL":     {"5", "flag"},
		"DB_HOST":               {"127.0.0.1", "environment"},
		"BACKUP_RETENTION_DAYS": {"14", fromFile},
		"DB_PASSWORD":           {"[set]", fromFile},
		"BACKUP_PING_URL":       {"[set]", fromFile},
		"BACKUP_COMPRESSION":    {"gzip", "default"},
	} {
		if got[name] != want {
			t.Errorf("doctor --json: %s = %q, want %q", name, got[name], want)
		}
	}
	if len(doc.Settings) != len(config.Settings) {
		t.Errorf("doctor --json lists %d settings, want every one", len(doc.Settings))
	}
}

// hasRow reports whether a line of text holds exactly these fields.
func hasRow(text string, fields ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
