package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// Damage found is recorded with the damaged inode; a clean check clears it.
func TestRecordDamage(t *testing.T) {
	dir, bdir := fixture(t)
	p := filepath.Join(bdir, "uploads", "aaa.jpg")
	data, _ := os.ReadFile(p)
	orig := append([]byte(nil), data...)
	data[1234] ^= 0x01
	os.WriteFile(p, data, 0o644)
	res := check(t, dir)
	b := load(t, dir)
	n, err := RecordDamage(b, res)
	if err != nil || n != 1 {
		t.Fatalf("RecordDamage: %d, %v", n, err)
	}
	list, err := repo.ReadDamage(bdir)
	if err != nil || len(list) != 1 {
		t.Fatalf("damage list %+v, %v", list, err)
	}
	fi, _ := os.Lstat(p)
	st := fi.Sys().(*syscall.Stat_t)
	if d := list[0]; d.Path != "aaa.jpg" || d.Kind != KindContent || d.Ino != st.Ino || d.Dev != uint64(st.Dev) {
		t.Errorf("recorded %+v, want aaa.jpg content ino %d", d, st.Ino)
	}

	os.WriteFile(p, orig, 0o644)
	res = check(t, dir)
	if n, err := RecordDamage(b, res); err != nil || n != 0 {
		t.Fatalf("RecordDamage of a clean backup: %d, %v", n, err)
	}
	if _, err := os.Lstat(filepath.Join(bdir, repo.DamageName)); !os.IsNotExist(err) {
		t.Errorf("a clean verify kept the damage list: %v", err)
	}
}

// The owner of BACKUPS_DIR may swap the backup folder for a symlink, or
// another folder, while a long verify runs: the damage list must then not
// be written (nor an old one removed) anywhere, least of all where the
// symlink points.
func TestRecordDamageRefusesSwappedFolder(t *testing.T) {
	for _, how := range []string{"symlink", "folder"} {
		t.Run(how, func(t *testing.T) {
			dir, bdir := fixture(t)
			p := filepath.Join(bdir, "uploads", "aaa.jpg")
			data, _ := os.ReadFile(p)
			data[1234] ^= 0x01
			os.WriteFile(p, data, 0o644)
			res := check(t, dir)
			b := load(t, dir)

			// elsewhere: a copy of the backup, where root must not write.
			elsewhere := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Rename(bdir, elsewhere); err != nil {
				t.Fatal(err)
			}
			if how == "symlink" {
				if err := os.Symlink(elsewhere, bdir); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Rename(elsewhere, bdir); err == nil {
				// Same name, but a new folder: copy it so the inode differs.
				if err := os.Rename(bdir, bdir+".moved"); err != nil {
					t.Fatal(err)
				}
				if err := exec.Command("cp", "-a", bdir+".moved", bdir).Run(); err != nil {
					t.Fatal(err)
				}
				elsewhere = bdir
			} else {
				t.Fatal(err)
			}
			if _, err := RecordDamage(b, res); err == nil {
				t.Error("RecordDamage wrote into a swapped backup folder without an error")
			}
			for _, n := range []string{repo.DamageName, repo.DamageName + ".tmp"} {
				if _, err := os.Lstat(filepath.Join(elsewhere, n)); !os.IsNotExist(err) {
					t.Errorf("%s written into the swapped-in folder: %v", n, err)
				}
			}

			// An empty list must not remove a list there either.
			os.WriteFile(filepath.Join(elsewhere, repo.DamageName), []byte("{}\n"), 0o600)
			if _, err := RecordDamage(b, Result{}); err == nil {
				t.Error("RecordDamage cleared a swapped backup folder without an error")
			}
			if _, err := os.Lstat(filepath.Join(elsewhere, repo.DamageName)); err != nil {
				t.Errorf("the list in the swapped-in folder was removed: %v", err)
			}
		})
	}
}
