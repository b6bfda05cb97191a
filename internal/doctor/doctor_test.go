package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Folders a restore left beside the uploads folder are reported: the
// previous uploads moved aside (Fail when the uploads folder is missing,
// since it may be the only copy), staging folders (OK while their
// restore runs, which holds a lock on them), the previous uploads of a
// finished restore being deleted (trash), stages being made (new) and
// the entry lists of earlier versions' stages.
func TestCheckRestoreLeftovers(t *testing.T) {
	parent := t.TempDir()
	uploads := filepath.Join(parent, "uploads")
	old := filepath.Join(parent, ".uploads.old-0123456789abcdef")
	stage := filepath.Join(parent, ".uploads.restore-fedcba9876543210")
	trash := filepath.Join(parent, ".uploads.trash-00112233445566ff")
	newStage := filepath.Join(parent, ".uploads.new-aabbccddeeff0011")
	list := filepath.Join(parent, ".uploads.restore-1111111111111111.list") // its stage is gone
	for _, d := range []string{uploads, old, stage, trash, newStage, filepath.Join(parent, ".uploads.old-short"),
		filepath.Join(parent, ".other.old-0123456789abcdef"), filepath.Join(parent, ".uploads.restore-0123456789ABCDEF")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{stage + ".list", list} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := func() map[string]Finding {
		m := map[string]Finding{}
		for _, f := range checkRestoreLeftovers(uploads) {
			switch {
			case strings.Contains(f.Detail, old):
				m["old"] = f
			case strings.Contains(f.Detail, stage+".list"):
				t.Errorf("the list of a stage that is still there is reported apart: %+v", f)
			case strings.Contains(f.Detail, stage):
				m["stage"] = f
			case strings.Contains(f.Detail, trash):
				m["trash"] = f
			case strings.Contains(f.Detail, newStage):
				m["new"] = f
			case strings.Contains(f.Detail, list):
				m["list"] = f
			default:
				t.Errorf("unexpected finding %+v", f)
			}
		}
		return m
	}
	m := got()
	if f := m["old"]; f.Status != Warn || !strings.Contains(f.Fix, "rm -rf "+old) {
		t.Errorf("old uploads beside the uploads folder: %+v", f)
	}
	if f := m["stage"]; f.Status != Warn || !strings.Contains(f.Fix, "next restore") {
		t.Errorf("stage: %+v", f)
	}
	// The previous uploads after a finished restore, being deleted: safe.
	if f := m["trash"]; f.Status != Warn || !strings.Contains(f.Fix, "safe to delete (rm -rf "+trash+")") {
		t.Errorf("trash: %+v", f)
	}
	if f := m["new"]; f.Status != Warn || !strings.Contains(f.Detail, "being made") || !strings.Contains(f.Fix, "rm -rf "+newStage) {
		t.Errorf("new stage: %+v", f)
	}
	if f := m["list"]; f.Status != Warn || !strings.Contains(f.Fix, "rm "+list) {
		t.Errorf("list of a stage that is gone: %+v", f)
	}

	// A restore holding its stage.
	fd, err := syscall.Open(stage, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if f := got()["stage"]; f.Status != OK || !strings.Contains(f.Detail, "running") {
		t.Errorf("stage of a running restore: %+v", f)
	}

	// A restore deleting the previous uploads holds its lock on them.
	tfd, err := syscall.Open(trash, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(tfd)
	if err := syscall.Flock(tfd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if f := got()["trash"]; f.Status != OK || !strings.Contains(f.Detail, "being deleted") || !strings.Contains(f.Detail, "running") {
		t.Errorf("trash of a running restore: %+v", f)
	}

	// The swap stopped half-way: no uploads folder, only the old one.
	if err := os.Remove(uploads); err != nil {
		t.Fatal(err)
	}
	if f := got()["old"]; f.Status != Fail || !strings.Contains(f.Fix, "mv "+old+" "+uploads) {
		t.Errorf("old uploads, uploads folder missing: %+v", f)
	}
}
