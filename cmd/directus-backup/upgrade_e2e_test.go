package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// launderAsOldVersion makes backup look as the version before
// uploads.vouched left it after linking a rotten copy of rel: the list
// records the rotten bytes' hash, its checksum in manifest.json matches,
// and nothing says the hashes were vouched for.
func launderAsOldVersion(t *testing.T, backup, rel string, rotten []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(backup, manifest.FilesListName))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	rd := manifest.NewReader(bytes.NewReader(data))
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == rel {
			e.SHA256 = sha256Hex(rotten)
		}
		if err := lw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	lw.Close()
	if err := os.WriteFile(filepath.Join(backup, manifest.FilesListName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(backup)
	if err != nil {
		t.Fatal(err)
	}
	m.Uploads.ListSHA256 = lw.SHA256()
	m.Uploads.Vouched = false
	if err := manifest.Write(backup, m); err != nil {
		t.Fatal(err)
	}
}

// A list written by an earlier version is not trusted for linking, even
// with a matching checksum: its rotten hash would otherwise be carried into
// every new backup. The first backup after upgrading compares linked files
// with the live ones; the next trusts its own, vouched, list.
func TestOlderVersionsListNotTrusted(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_RECHECK_PERCENT"] = "0"
	first := f.mustBackup()
	rotten := rotFile(t, filepath.Join(first, "uploads", "a", "b.txt"))
	launderAsOldVersion(t, first, "a/b.txt", rotten)

	second := f.mustBackup()
	checkFresh(t, f, second, "a/b.txt")
	m, _ := readManifest(t, second)
	if !m.Uploads.Vouched || m.Uploads.Refreshed != 1 || m.Uploads.Compared == 0 {
		t.Errorf("first backup after upgrading: uploads %+v, want vouched, 1 refreshed, linked files compared", m.Uploads)
	}

	third := f.mustBackup()
	if m, _ := readManifest(t, third); m.Uploads.Compared != 0 || m.Uploads.Linked == 0 {
		t.Errorf("second backup after upgrading: uploads %+v, want its list trusted (nothing compared)", m.Uploads)
	}
}

// The owner of BACKUPS_DIR (often the Directus user) swaps a root backup's
// temp_<job> folder for a symlink to a folder of its own, whose files are
// symlinks to root-only files, while backups run. No root-only file is
// written, and nothing of the attacker's is ever published as a backup.
// (Only the manifest's names are planted, so that a run reaching its folder
// by name would write the dump and uploads into the attacker's folder and
// get as far as the manifest.)
func TestTempFolderSwapDuringBackups(t *testing.T) {
	f := newFixture(t)
	// More files than finalize fsyncs one by one: it then syncs the
	// filesystem, which (unlike the per-path fsync) does not stop at a
	// symlinked folder, so a run that went by name would get to write its
	// manifest. Every run fails while swaps happen, so each is a full copy.
	many := filepath.Join(f.uploads, "many")
	os.Mkdir(many, 0o755)
	for i := range 1100 {
		os.WriteFile(filepath.Join(many, fmt.Sprint(i)), []byte{byte(i)}, 0o644)
	}
	outside := t.TempDir()
	victims := map[string]string{}
	for _, n := range []string{manifest.FileName + ".tmp", manifest.FileName} {
		p := filepath.Join(outside, "victim-"+n)
		if err := os.WriteFile(p, []byte("root only\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		victims[n] = p
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		swaps := 0
		defer func() { done <- swaps }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ents, _ := os.ReadDir(f.backups)
			for _, e := range ents {
				if !e.IsDir() || !strings.HasPrefix(e.Name(), "temp_") {
					continue
				}
				temp := filepath.Join(f.backups, e.Name())
				evil := filepath.Join(outside, fmt.Sprint("evil", i))
				if os.Mkdir(evil, 0o755) != nil {
					continue
				}
				for n, v := range victims {
					os.Symlink(v, filepath.Join(evil, n))
				}
				if os.Rename(temp, filepath.Join(f.backups, fmt.Sprint("moved", i))) == nil {
					os.Symlink(evil, temp)
					swaps++
				}
			}
		}
	}()
	for range 3 {
		f.run("backup") // fails when the swap hits; must not write outside
	}
	close(stop)
	swaps := <-done
	t.Logf("%d swaps", swaps)
	for n, v := range victims {
		if data, err := os.ReadFile(v); err != nil || string(data) != "root only\n" {
			t.Errorf("root-only file written through a planted %s: %q %v", n, data, err)
		}
	}
	for _, name := range f.backupNames() {
		fi, err := os.Lstat(filepath.Join(f.backups, name))
		if err != nil || !fi.IsDir() {
			t.Errorf("%s is not a folder: %v", name, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm() != 0o700 {
			t.Errorf("published %s is not the run's own folder (uid %d, mode %v)", name, st.Uid, fi.Mode().Perm())
		}
		if r := f.run("verify", name); r.code != 0 {
			t.Errorf("verify %s: exit %d\n%s", name, r.code, r.stdout)
		}
	}
}
