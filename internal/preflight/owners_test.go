package preflight

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckOwnersWarnsAboutAnotherUsersBackupsFolder(t *testing.T) {
	base := t.TempDir() // root-owned 0700 under the sticky /tmp
	dir := filepath.Join(base, "directus", "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check is about root runs")
	}
	if f, ok := Owners(dir, 0); ok {
		t.Fatalf("root-owned folders: %+v", f)
	}
	if _, ok := Owners(dir, 1000); ok {
		t.Error("warned for a run that is not root")
	}
	// The Directus user owns the folder above BACKUPS_DIR.
	if err := os.Chown(filepath.Dir(dir), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("parent owned by another user: %+v %v", f, ok)
	}
	os.Chown(filepath.Dir(dir), 0, 0)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); !ok || f.Status != Warn {
		t.Errorf("world-writable BACKUPS_DIR: %+v %v", f, ok)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil { // sticky, like /tmp: others cannot rename root's folders
		t.Fatal(err)
	}
	if f, ok := Owners(dir, 0); ok {
		t.Errorf("sticky folder: %+v", f)
	}
}
