package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The units in contrib/systemd are hardened and valid: each service has
// the protections docs/scheduling.md promises, and systemd-analyze verify
// (when installed) accepts them all with the real binary as ExecStart.
func TestSystemdUnits(t *testing.T) {
	units, err := filepath.Glob("../../contrib/systemd/*")
	if err != nil || len(units) < 3 {
		t.Fatalf("units: %v %v", units, err)
	}
	dir := t.TempDir()
	project := filepath.Join(dir, "project")
	os.MkdirAll(filepath.Join(project, "directus", "data", "backups"), 0o700)
	var copies []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.HasSuffix(u, ".service") {
			for _, want := range []string{"ProtectSystem=strict", "ReadWritePaths=/path/to/backend-directus/directus/data/backups",
				"ProtectHome=read-only", "PrivateTmp=true", "NoNewPrivileges=true", "PrivateDevices=true",
				"CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX", "SuccessExitStatus=130", "SupplementaryGroups=docker"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks %q", filepath.Base(u), want)
				}
			}
		}
		text = strings.ReplaceAll(text, "/usr/local/bin/directus-backup", binPath)
		text = strings.ReplaceAll(text, "/path/to/backend-directus", project)
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed: the units' syntax is not checked")
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify"}, copies...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
