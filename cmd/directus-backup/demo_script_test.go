package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scripts/demo.sh deletes DEMO_DIR before it starts; it must refuse a
// folder it did not make (a mistyped DEMO_DIR), before doing anything else.
func TestDemoRefusesForeignFolder(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	foreign := filepath.Join(base, "mine")
	os.MkdirAll(foreign, 0o755)
	keep := filepath.Join(foreign, "important.txt")
	os.WriteFile(keep, []byte("keep me"), 0o644)
	// A symlink to a folder the demo made is not that folder.
	made := filepath.Join(base, "made")
	os.MkdirAll(made, 0o755)
	os.WriteFile(filepath.Join(made, ".directus-backup-demo"), nil, 0o644)
	os.WriteFile(filepath.Join(made, "data"), []byte("x"), 0o644)
	link := filepath.Join(base, "link")
	os.Symlink(made, link)

	for _, dir := range []string{foreign, link, keep} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Env = append(os.Environ(), "DEMO_DIR="+dir)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "refusing to delete "+dir) {
			t.Errorf("DEMO_DIR=%s: err %v, want a refusal:\n%s", dir, err, out)
		}
	}
	if data, err := os.ReadFile(keep); err != nil || string(data) != "keep me" {
		t.Errorf("the foreign folder was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(made, "data")); err != nil {
		t.Errorf("the folder behind the symlink was touched: %v", err)
	}
}
