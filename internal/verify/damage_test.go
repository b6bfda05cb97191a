package verify

import (
	"os"
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
