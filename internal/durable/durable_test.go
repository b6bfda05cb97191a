package durable

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestSyncs(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Error(err)
	}
	if err := SyncFS(dir); err != nil {
		t.Error(err)
	}
	missing := filepath.Join(dir, "missing")
	if SyncDir(missing) == nil || SyncFS(missing) == nil {
		t.Error("no error for a missing folder")
	}
}

func TestSyncPaths(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"a", "b", "c"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, dir)
	if err := SyncPaths(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	// A symlink is not followed, and a missing path is an error.
	link := filepath.Join(dir, "link")
	os.Symlink(paths[0], link)
	for _, p := range []string{link, filepath.Join(dir, "missing")} {
		if SyncPaths(context.Background(), []string{paths[0], p}) == nil {
			t.Errorf("no error for %s", p)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := SyncPaths(ctx, paths); err == nil {
		t.Error("no error for a cancelled context")
	}
}
