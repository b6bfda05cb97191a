package job

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

const testJobID = "job-0123abcd-0000-4000-8000-0123456789ab"

// swapRun is a run whose temporary folder has been made and opened, as
// init leaves it, in a BACKUPS_DIR the test (playing the folder's owner)
// can rename things in.
func swapRun(t *testing.T) *run {
	t.Helper()
	backups := t.TempDir()
	uploads := t.TempDir()
	if err := os.WriteFile(filepath.Join(uploads, "a.jpg"), []byte("upload"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{BackupsDir: backups, ErrorDir: filepath.Join(backups, "error_logs"),
		UploadsDir: uploads, FormattedDate: "2026-12-06_10-00-00"}
	if err := os.Mkdir(cfg.ErrorDir, 0o700); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &run{cfg: cfg, log: log, deps: Deps{Log: log, Now: time.Now, Progress: &Progress{}},
		rep:    &Report{JobID: testJobID, Name: repo.BackupName("2026-12-06_10-00-00", 1796551200)},
		stderr: &capbuf.Head{Max: 1 << 10}}
	r.temp = filepath.Join(backups, repo.TempPrefix+testJobID)
	if err := os.Mkdir(r.temp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := r.openTemp(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.tempDir.Close() })
	if r.inside == r.temp {
		t.Fatal("/proc does not reach the temporary folder")
	}
	return r
}

// victim is a file outside BACKUPS_DIR that only root may write.
func victim(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(p, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkVictim(t *testing.T, p string) {
	t.Helper()
	if data, err := os.ReadFile(p); err != nil || string(data) != "precious\n" {
		t.Errorf("file outside BACKUPS_DIR was written through a planted symlink: %q, %v", data, err)
	}
}

// swapTemp does what the owner of BACKUPS_DIR can do to a root-owned
// temp_<job>: rename it away and put a symlink to a folder of its own in
// its place. It returns that folder.
func swapTemp(t *testing.T, r *run) string {
	t.Helper()
	evil := t.TempDir()
	if err := os.Rename(r.temp, filepath.Join(r.cfg.BackupsDir, "moved-away")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(evil, r.temp); err != nil {
		t.Fatal(err)
	}
	return evil
}

func TestFinalizeNeverWritesThroughASwappedTempFolder(t *testing.T) {
	r := swapRun(t)
	target := victim(t)
	evil := swapTemp(t, r)
	if err := os.Symlink(target, filepath.Join(evil, manifest.FileName+".tmp")); err != nil {
		t.Fatal(err)
	}
	// The attacker's folder also looks like a finished backup.
	if err := os.WriteFile(filepath.Join(evil, "db_backup.sql"), []byte("-- evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := r.finalize(context.Background())
	if !errors.Is(err, errReplaced) {
		t.Errorf("finalize over a swapped temporary folder: %v, want %v", err, errReplaced)
	}
	checkVictim(t, target)
	if _, err := os.Lstat(r.backupPath(r.rep.Name)); err == nil {
		t.Errorf("%s was published", r.rep.Name)
	}
	if _, err := os.Lstat(filepath.Join(evil, manifest.FileName)); err == nil {
		t.Error("the manifest was written into the attacker's folder")
	}
	// The run's own folder got the manifest (through its descriptor).
	if _, err := os.Lstat(filepath.Join(r.cfg.BackupsDir, "moved-away", manifest.FileName)); err != nil {
		t.Errorf("manifest not in the run's own folder: %v", err)
	}
}

func TestPublishRefusesAFolderSwappedAfterTheManifest(t *testing.T) {
	r := swapRun(t)
	if err := manifest.Write(r.in(), r.buildManifest()); err != nil {
		t.Fatal(err)
	}
	evil := swapTemp(t, r)
	if err := manifest.Write(evil, &manifest.Manifest{Format: manifest.Format, Name: "evil"}); err != nil {
		t.Fatal(err)
	}
	if err := r.publishTemp(); !errors.Is(err, errReplaced) {
		t.Errorf("publish of a swapped folder: %v, want %v", err, errReplaced)
	}
	if backups, _ := repo.List(r.cfg.BackupsDir); len(backups) != 0 {
		t.Errorf("backups after a refused publish: %+v", backups)
	}
}

func TestUploadsStepWritesOnlyIntoItsOwnFolder(t *testing.T) {
	r := swapRun(t)
	evil := swapTemp(t, r)
	if err := r.snapshotUploads(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(evil); len(ents) != 0 {
		t.Errorf("the uploads step wrote into the attacker's folder: %v", ents)
	}
	own := filepath.Join(r.cfg.BackupsDir, "moved-away")
	for _, n := range []string{manifest.FilesListName, filepath.Join(repo.BackupUploadsName, "a.jpg")} {
		if _, err := os.Lstat(filepath.Join(own, n)); err != nil {
			t.Errorf("%s not in the run's own folder: %v", n, err)
		}
	}
}

func TestErrorFolderNeverFollowsPlantedSymlinks(t *testing.T) {
	r := swapRun(t)
	target := victim(t)
	// The job ID is visible in temp_<job>: a folder of the owner's is
	// planted (as a symlink) where the error folder will be made.
	evil := t.TempDir()
	if err := os.Symlink(target, filepath.Join(evil, "error.txt")); err != nil {
		t.Fatal(err)
	}
	name := repo.ErrorDirPrefix + r.cfg.FormattedDate + "_" + testJobID
	if err := os.Symlink(evil, filepath.Join(r.cfg.ErrorDir, name)); err != nil {
		t.Fatal(err)
	}
	if dir := r.writeErrorDir(StepDatabase, errors.New("boom")); dir != "" {
		t.Errorf("error folder written at %s, over a planted symlink", dir)
	}
	checkVictim(t, target)

	// error_logs itself swapped for a symlink: not followed either.
	elsewhere := t.TempDir()
	if err := os.Rename(r.cfg.ErrorDir, r.cfg.ErrorDir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, r.cfg.ErrorDir); err != nil {
		t.Fatal(err)
	}
	r.rep.JobID = "job-0123abcd-0000-4000-8000-0123456789ac"
	if dir := r.writeErrorDir(StepDatabase, errors.New("boom")); dir != "" {
		t.Errorf("error folder written through a symlinked error_logs: %s", dir)
	}
	old := filepath.Join(elsewhere, repo.ErrorDirPrefix+"2020-01-01_00-00-00_"+testJobID)
	if err := os.Mkdir(old, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(old, time.Unix(0, 0), time.Unix(0, 0))
	removed, _ := removeOldErrorDirs(r.cfg.ErrorDir, r.cfg.BackupsDir, 1, time.Now(), r.log, false)
	if _, err := os.Lstat(old); err != nil || len(removed) != 0 {
		t.Errorf("old error folder removed through a symlinked error_logs: %v %v", removed, err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 1 {
		t.Errorf("written through a symlinked error_logs: %v", ents)
	}
}

func TestErrorFolderIsWritten(t *testing.T) {
	r := swapRun(t)
	if err := os.WriteFile(filepath.Join(r.temp, "db_backup.sql"), []byte("-- dump"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := r.writeErrorDir(StepDatabase, errors.New("boom"))
	if dir == "" {
		t.Fatal("no error folder")
	}
	for _, n := range []string{"error.txt", "environment.txt", "temp_contents.txt"} {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v", n, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "temp_contents.txt")); !strings.Contains(string(data), "db_backup.sql\t7") {
		t.Errorf("temp_contents.txt does not list the temporary folder: %q", data)
	}
}

// A previous list is trusted only when its manifest says its hashes were
// vouched for: an earlier version's list, even with a matching checksum,
// may carry a rotten copy's hash.
func TestPreviousListTrustedOnlyWhenVouched(t *testing.T) {
	r := swapRun(t)
	prev := t.TempDir()
	list := []byte(`{"path":".","type":"dir","mode":"0755","mtime":"2026-01-01T00:00:00Z","uid":0,"gid":0}` + "\n")
	if err := os.WriteFile(filepath.Join(prev, manifest.FilesListName), list, 0o600); err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Format: manifest.Format, Uploads: manifest.Uploads{
		ListFile: manifest.FilesListName, ListSHA256: shaHex(list)}}
	r.prev = repo.Backup{Name: "backup_old", Path: prev, Manifest: m}
	if f := r.previousList(r.prev); f != nil {
		f.Close()
		t.Error("the list of a backup without uploads.vouched was trusted")
	}
	m.Uploads.Vouched = true
	f := r.previousList(r.prev)
	if f == nil {
		t.Fatal("a vouched list with a matching checksum was not trusted")
	}
	f.Close()
	if !r.buildManifest().Uploads.Vouched {
		t.Error("this version's manifest does not say its list is vouched")
	}
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Damage recorded by verify is matched by inode, size and mtime, not by
// st_dev, which can change across a reboot (device mapper, LVM, btrfs, NFS).
func TestRecordedDamageMatchedAfterDeviceNumberChanged(t *testing.T) {
	r := swapRun(t)
	prev := r.backupPath(repo.BackupName("2026-12-05_10-00-00", 1796464800))
	if err := os.MkdirAll(filepath.Join(prev, repo.BackupUploadsName), 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(r.cfg.UploadsDir, "a.jpg")
	old := filepath.Join(prev, repo.BackupUploadsName, "a.jpg")
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("uploaD"), 0o644); err != nil { // rotten, same size
		t.Fatal(err)
	}
	if err := os.Chtimes(old, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(old, &st); err != nil {
		t.Fatal(err)
	}
	// A vouched list with the hash the file had when it was backed up: the
	// rot came later, so only the recorded damage keeps it from being
	// linked (no recheck is due).
	var buf bytes.Buffer
	lw := manifest.NewListWriter(&buf)
	lw.Add(manifest.Entry{Path: ".", Type: manifest.TypeDir, Mode: "0700"})
	lw.Add(manifest.Entry{Path: "a.jpg", Type: manifest.TypeFile, Mode: "0644", Size: st.Size,
		MTime: manifest.TimeOf(st.Mtim), SHA256: shaHex([]byte("upload"))})
	lw.Close()
	if err := os.WriteFile(filepath.Join(prev, manifest.FilesListName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := manifest.Write(prev, &manifest.Manifest{Format: manifest.Format, Name: filepath.Base(prev),
		Uploads: manifest.Uploads{Vouched: true, ListFile: manifest.FilesListName, ListSHA256: lw.SHA256()}}); err != nil {
		t.Fatal(err)
	}
	// Recorded before a reboot that renumbered the device.
	if err := repo.WriteDamage(prev, []repo.Damage{{Path: "a.jpg", Kind: "content", Dev: uint64(st.Dev) + 7, Ino: st.Ino,
		Size: st.Size, MTime: repo.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}, Found: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	backups, err := repo.List(r.cfg.BackupsDir)
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups: %+v %v", backups, err)
	}
	r.backups, r.prev, r.hasPrev = backups, backups[0], true
	if err := r.snapshotUploads(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.rep.Uploads.Refreshed != 1 || r.rep.Uploads.Compared != 0 {
		t.Errorf("recorded damage not matched after the device number changed: %+v", r.rep.Uploads)
	}
	if data, _ := os.ReadFile(filepath.Join(r.in(), repo.BackupUploadsName, "a.jpg")); string(data) != "upload" {
		t.Errorf("backup holds %q", data)
	}
}

// finalize of an incremental run (few files: each is fsynced) reaches the
// folder through its descriptor.
func TestFinalizeSyncsThroughTheDescriptor(t *testing.T) {
	r := swapRun(t)
	r.writtenAll = true
	r.written = writeIncremental(t, r.temp, 3)
	if err := r.finalize(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Load(r.rep.Path); err != nil {
		t.Error(err)
	}
}
