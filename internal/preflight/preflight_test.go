package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/pgclient"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// load reads the settings as the CLI does, with a .env file in dir.
func load(t *testing.T, dir string, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{
		Env:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		WorkDir: dir,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestEnvFileHoldingThePasswordMustNotBeReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	write := func(content string, mode os.FileMode) {
		if err := os.WriteFile(envFile, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(envFile, mode); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DB_DATABASE": "directus"}

	write("DB_PASSWORD=s3cret\n", 0o644)
	f, ok := EnvFile(load(t, dir, env))
	if !ok || f.Status != Warn || !strings.Contains(f.Fix, "chmod 600 "+envFile) || strings.Contains(f.Detail, "s3cret") {
		t.Errorf("readable .env with a password: %+v %v", f, ok)
	}
	// Overridden by the environment, the password is still in the file.
	env["DB_PASSWORD"] = "other"
	if _, ok := EnvFile(load(t, dir, env)); !ok {
		t.Error("no warning when the environment overrides the file's password")
	}
	delete(env, "DB_PASSWORD")

	write("DB_PASSWORD=s3cret\n", 0o600)
	if f, ok := EnvFile(load(t, dir, env)); ok {
		t.Errorf("owner-only .env: %+v", f)
	}
	write("DB_HOST=db\n", 0o644)
	if f, ok := EnvFile(load(t, dir, env)); ok {
		t.Errorf(".env without a password: %+v", f)
	}
	// The run applies it too.
	write("DB_PASSWORD=s3cret\n", 0o640)
	if fs := Run(load(t, dir, env), Options{NoCommand: true}); !has(fs, ".env file permissions", Warn) {
		t.Errorf("Run: %+v", fs)
	}
}

func TestMissingCommandAndUploadsFail(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)                  // no pg_dump here
	t.Setenv(pgclient.SearchRootsEnv, dir) // nor in the standard locations
	cfg := load(t, dir, map[string]string{"DB_DATABASE": "directus", "BACKUP_DB_METHOD": "local",
		"BACKUP_UPLOADS_DIR": filepath.Join(dir, "nowhere")})
	fs := Run(cfg, Options{})
	if !has(fs, "command pg_dump", Fail) || !has(fs, "uploads folder", Fail) {
		t.Fatalf("%+v", fs)
	}
	err := FirstFailure(fs)
	if err == nil || !strings.Contains(err.Error(), `required command "pg_dump" not found on PATH nor in the standard install folders`) ||
		!strings.Contains(err.Error(), "apt-get install postgresql-client") {
		t.Errorf("first failure: %v", err)
	}
	if fs := Run(cfg, Options{NoCommand: true}); has(fs, "command pg_dump", Fail) {
		t.Errorf("NoCommand still checks pg_dump: %+v", fs)
	}
	cfg.UploadsDir = dir
	if err := FirstFailure(Run(cfg, Options{NoCommand: true})); err != nil {
		t.Errorf("readable uploads folder: %v", err)
	}
}

// Free space is measured against the backup the next run builds on, by
// one formula: its dump plus the upload bytes it copied.
func TestFreeSpaceAgainstTheLastBackup(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, dump, copied int64) {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, repo.DumpGzip), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := &manifest.Manifest{Format: manifest.Format, Name: name,
			Database: manifest.Database{File: repo.DumpGzip, Bytes: dump},
			Uploads:  manifest.Uploads{CopiedBytes: copied}}
		if err := manifest.Write(p, m); err != nil {
			t.Fatal(err)
		}
	}
	older, newer := repo.BackupName("2026-01-01", 1767225600), repo.BackupName("2026-01-02", 1767312000)
	mk(older, 10, 5)
	mk(newer, 1<<62, 1<<61) // more than any disk has
	backups, err := repo.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	last, ok := LastBackup(dir, backups)
	if !ok || last.Name != newer || Needed(last) != 1<<62+1<<61 {
		t.Fatalf("last %s (%v), needed %d", last.Name, ok, Needed(last))
	}
	if f, ok := FreeSpace(dir, last, true, config.MinFree{}); !ok || f.Status != Warn || f.Fix == "" {
		t.Errorf("more needed than free, BACKUP_MIN_FREE=0: %+v", f)
	}
	if f, ok := FreeSpace(dir, last, true, config.MinFree{Bytes: 1}); !ok || f.Status != Fail ||
		!strings.Contains(f.Detail, "not enough free space") || !strings.Contains(f.Fix, "BACKUP_MIN_FREE") {
		t.Errorf("more needed than free: %+v", f)
	}
	// backup_latest wins over the newest: the run links against it.
	if err := repo.SetLatest(dir, older); err != nil {
		t.Fatal(err)
	}
	last, _ = LastBackup(dir, backups)
	if last.Name != older || Needed(last) != 15 {
		t.Errorf("last %s, needed %d", last.Name, Needed(last))
	}
	if f, ok := FreeSpace(dir, last, true, config.MinFree{Bytes: 1}); !ok || f.Status != OK || !strings.Contains(f.Detail, "needs about 15 B") {
		t.Errorf("enough space: %+v", f)
	}
	if f, ok := FreeSpace(dir, repo.Backup{}, false, config.MinFree{Bytes: 1}); !ok || f.Status != OK {
		t.Errorf("no backup yet: %+v", f)
	}
	// The margin alone refuses: no filesystem keeps 99.999% of itself free.
	if f, ok := FreeSpace(dir, repo.Backup{}, false, config.MinFree{Percent: 99.999}); !ok || f.Status != Fail {
		t.Errorf("margin above the free space: %+v", f)
	}
}

func has(fs []Finding, check string, st Status) bool {
	for _, f := range fs {
		if f.Check == check && f.Status == st {
			return true
		}
	}
	return false
}

// The writability check leaves nothing in the folder it checks (doctor
// changes nothing), and fails on a folder that cannot take a file.
func TestWritableLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	if fs := Writable("backups folder", dir, "BACKUPS_DIR"); fs[0].Status != OK {
		t.Fatalf("writable folder: %+v", fs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if fs := Writable("backups folder", file, "BACKUPS_DIR"); fs[0].Status != Fail {
		t.Errorf("a plain file as the folder: %+v", fs)
	}
}
