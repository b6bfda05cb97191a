package repo

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A folder swapped for a symlink while the tree is removed must not have
// its target chmod-ed: as root that could open up /etc. The swap happens
// after the removal found the folder and before it opens it.
func TestRemoveTreeNeverChmodsThroughSymlink(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	sub := filepath.Join(tree, "sub")
	outside := filepath.Join(tmp, "outside")
	for _, d := range []string{sub, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sub, outside} {
		if err := os.Chmod(d, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(outside, 0o755); os.Chmod(filepath.Join(tmp, "moved"), 0o755) })
	swapped := false
	removeTreeHook = func(p string) {
		if p != sub || swapped {
			return
		}
		swapped = true
		os.Chmod(sub, 0o700) // a non-root rename to another folder writes sub's ".."
		if err := os.Rename(sub, filepath.Join(tmp, "moved")); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, sub); err != nil {
			t.Error(err)
		}
	}
	defer func() { removeTreeHook = nil }()

	err := removeTreeByFd(tree)
	if !swapped {
		t.Fatal("the removal never opened sub")
	}
	if err == nil {
		t.Error("no error, though a folder turned into a symlink")
	}
	fi, serr := os.Stat(outside)
	if serr != nil {
		t.Fatal(serr)
	}
	if fi.Mode().Perm() != 0o500 {
		t.Errorf("the symlink's target was chmod-ed: mode %04o, want 0500", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("the symlink's target lost its file: %v", err)
	}
}

// Read-only and closed folders (as backups keep them) are removed anyway,
// without touching the mode of a file (it may be a hard link shared with
// other backups). Root ignores modes, so as root the test reruns itself as
// nobody.
func TestRemoveTreeReadOnlyFolders(t *testing.T) {
	if os.Geteuid() == 0 {
		repoRerunAsNobody(t, "TestRemoveTreeReadOnlyFolders|TestRemoveTreeNeverChmodsThroughSymlink")
		return
	}
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	shared := filepath.Join(tmp, "shared")
	if err := os.WriteFile(shared, []byte("s"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"ro/deep/er", "closed/in", "wonly", "flat"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2500; i++ { // more than one batch of names
		if err := os.WriteFile(filepath.Join(tree, "flat", "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i)), nil, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(shared, filepath.Join(tree, "ro", "deep", "er", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(tree, "ro", "root")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir  string
		mode os.FileMode
	}{{"ro/deep/er", 0o500}, {"ro/deep", 0o500}, {"ro", 0o555}, {"closed/in", 0}, {"closed", 0}, {"wonly", 0o300}, {"flat", 0o500}} {
		if err := os.Chmod(filepath.Join(tree, c.dir), c.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(tree); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("os.RemoveAll: %v, want a permission error (the test needs one)", err)
	}
	if err := RemoveTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("the hard-linked file changed: %v %v", fi, err)
	}
}

func itoa(i int) string {
	return string([]byte{byte('0' + i/1000%10), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

// repoRerunAsNobody runs the tests matching run again as uid/gid 65534 and
// fails unless they pass there.
func repoRerunAsNobody(t *testing.T, run string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "repo.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^("+run+")$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	for _, n := range strings.Split(run, "|") {
		if !strings.Contains(string(out), "--- PASS: "+n+" ") {
			t.Errorf("as nobody, %s did not pass:\n%s", n, out)
		}
	}
	// t.TempDir of the child is inside tmp; let the parent remove it.
	filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
