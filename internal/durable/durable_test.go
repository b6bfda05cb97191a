package durable

import (
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
