package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"golang.org/x/sys/unix"
)

// rotFile flips a byte of p in place, keeping its size and its mtime to the
// nanosecond, as bit rot or a stray write would. It returns the new bytes.
func rotFile(t *testing.T, p string) []byte {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	mt := fi.Sys().(*syscall.Stat_t).Mtim
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0x20
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[:1], 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ts := []unix.Timespec{unix.Timespec(mt), unix.Timespec(mt)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	return data
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkFresh fails unless the backup's copy of rel holds the live bytes and
// its manifest entry their hash, and verify passes on the backup.
func checkFresh(t *testing.T, f *fixture, backup, rel string) {
	t.Helper()
	live, err := os.ReadFile(filepath.Join(f.uploads, rel))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(backup, "uploads", rel))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, live) {
		t.Errorf("%s in %s holds the damaged bytes", rel, filepath.Base(backup))
	}
	_, entries := readManifest(t, backup)
	for _, e := range entries {
		if e.Path == rel && e.SHA256 != sha256Hex(live) {
			t.Errorf("%s recorded with SHA-256 %s, the live file's is %s", rel, e.SHA256, sha256Hex(live))
		}
	}
	if r := f.run("verify", filepath.Base(backup)); r.code != 0 {
		t.Errorf("verify %s: exit %d\n%s%s", filepath.Base(backup), r.code, r.stdout, r.stderr)
	}
}

// A legacy previous backup (no entry list) with a rotten file: the rotten
// copy is not linked and its hash not recorded as good.
func TestLegacyRottenNotLaundered(t *testing.T) {
	f := newFixture(t)
	legacy := makeLegacyBackup(t, f, time.Now().Unix()-7200, true)
	rotFile(t, filepath.Join(f.backups, legacy, "uploads", "a", "b.txt"))
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup exit %d\n%s", r.code, r.stderr)
	}
	b := f.latest()
	checkFresh(t, f, b, "a/b.txt")
	if !strings.Contains(r.stderr, "a/b.txt") {
		t.Errorf("no warning names a/b.txt:\n%s", r.stderr)
	}
	if !sameFile(t, filepath.Join(f.backups, legacy, "uploads/sub dir/deep/x.bin"), filepath.Join(b, "uploads/sub dir/deep/x.bin")) {
		t.Error("an intact file was not linked")
	}
	m, _ := readManifest(t, b)
	if m.Uploads.Refreshed != 1 || m.Uploads.Compared == 0 {
		t.Errorf("manifest uploads %+v, want 1 refreshed and the linked files compared", m.Uploads)
	}
}

// Damage found by verify is remembered in the backup and the next backup
// copies the file afresh, even with the recheck off.
func TestVerifyDamageCopiedAfresh(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_RECHECK_PERCENT"] = "0"
	first := f.mustBackup()
	rotFile(t, filepath.Join(first, "uploads", "a.jpg"))
	if r := f.run("verify"); r.code != 9 {
		t.Fatalf("verify of the rotten backup: exit %d, want 9\n%s", r.code, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(first, "damaged.jsonl")); err != nil {
		t.Fatalf("damage not recorded: %v", err)
	}
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup exit %d\n%s", r.code, r.stderr)
	}
	second := f.latest()
	if sameFile(t, filepath.Join(first, "uploads", "a.jpg"), filepath.Join(second, "uploads", "a.jpg")) {
		t.Error("the damaged file was linked again")
	}
	if !strings.Contains(r.stderr, "a.jpg") || !strings.Contains(r.stderr, filepath.Base(first)) {
		t.Errorf("no warning names a.jpg and %s:\n%s", filepath.Base(first), r.stderr)
	}
	checkFresh(t, f, second, "a.jpg")
	if m, _ := readManifest(t, second); m.Uploads.Refreshed != 1 {
		t.Errorf("refreshed = %d, want 1", m.Uploads.Refreshed)
	}
}

// A previous entry list that no longer matches its manifest's checksum is
// not trusted: here it was edited to vouch for a rotten copy.
func TestTamperedPreviousListNotTrusted(t *testing.T) {
	f := newFixture(t)
	f.env["BACKUP_RECHECK_PERCENT"] = "0"
	first := f.mustBackup()
	rotten := rotFile(t, filepath.Join(first, "uploads", "a.b"))
	_, entries := readManifest(t, first)
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	for _, e := range entries {
		if e.Path == "a.b" {
			e.SHA256 = sha256Hex(rotten)
		}
		if err := lw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(first, manifest.FilesListName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "does not match the checksum") {
		t.Errorf("no warning about the previous list's checksum:\n%s", r.stderr)
	}
	checkFresh(t, f, f.latest(), "a.b")
}

// --recheck-percent 100 finds a rotten linked file in the next run; an
// invalid value is refused naming the setting, its source and the range.
func TestRecheckFlag(t *testing.T) {
	f := newFixture(t)
	first := f.mustBackup()
	rotFile(t, filepath.Join(first, "uploads", "sub dir", "deep", "x.bin"))
	r := f.run("backup", "--recheck-percent", "100")
	if r.code != 0 {
		t.Fatalf("backup exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "x.bin") || !strings.Contains(r.stderr, filepath.Base(first)) {
		t.Errorf("no warning names x.bin and %s:\n%s", filepath.Base(first), r.stderr)
	}
	if !strings.Contains(r.stdout, "5 linked files re-read, 0 compared with the live files, 1 damaged copies replaced") {
		t.Errorf("the summary does not count the recheck:\n%s", r.stdout)
	}
	second := f.latest()
	checkFresh(t, f, second, "sub dir/deep/x.bin")
	if m, _ := readManifest(t, second); m.Uploads.Rechecked != 5 || m.Uploads.Refreshed != 1 || m.Uploads.Run != 1 {
		t.Errorf("manifest uploads %+v, want 5 rechecked, 1 refreshed, run 1", m.Uploads)
	}

	f.env["BACKUP_RECHECK_PERCENT"] = "150"
	r = f.run("backup")
	if r.code != 2 || !strings.Contains(r.stderr, `BACKUP_RECHECK_PERCENT="150"`) ||
		!strings.Contains(r.stderr, "in the environment") || !strings.Contains(r.stderr, "from 0 to 100") {
		t.Errorf("exit %d, want 2 naming the setting, its source and the range:\n%s", r.code, r.stderr)
	}
}
