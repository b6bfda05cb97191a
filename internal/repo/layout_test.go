package repo

import (
	"path/filepath"
	"testing"

	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// The layout is the original backup.sh's: these names must not change.
func TestLayoutNames(t *testing.T) {
	dir := "/b"
	b := Backup{Name: "backup_2026_1", Path: BackupPath(dir, "backup_2026_1")}
	for _, c := range []struct{ got, want string }{
		{b.Path, "/b/backup_2026_1"},
		{b.UploadsPath(), "/b/backup_2026_1/uploads"},
		{DumpName(compress.Gzip), "db_backup.sql.gz"},
		{DumpName(compress.Zstd), "db_backup.sql.zst"},
		{DumpName(compress.None), "db_backup.sql"},
		{DumpIn(b.Path, compress.Gzip), "/b/backup_2026_1/db_backup.sql.gz"},
		{ListIn(b.Path), "/b/backup_2026_1/manifest.files.jsonl"},
		{TempName("job-1"), "temp_job-1"},
		{UploadsRel("a/b.jpg"), "uploads/a/b.jpg"},
		{DefaultErrorDir(dir), "/b/error_logs"},
		{ErrorDirName("2026-01-02_03-04-05", "job-1"), "error_2026-01-02_03-04-05_job-1"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if rel, ok := CutUploadsRel("uploads/a/b.jpg"); !ok || rel != "a/b.jpg" {
		t.Errorf("CutUploadsRel: %q %v", rel, ok)
	}
	if _, ok := CutUploadsRel("manifest.json"); ok {
		t.Error("CutUploadsRel accepted a path outside uploads/")
	}
}

// An entry list is only ever read from the backup folder itself.
func TestListPathStaysInTheBackup(t *testing.T) {
	b := Backup{Path: "/b/backup_x_1", Manifest: &manifest.Manifest{}}
	for _, c := range []struct {
		name, want string
		bad        bool
	}{
		{"", manifest.FilesListName, false},
		{"list.jsonl", "list.jsonl", false},
		{"../x", manifest.FilesListName, true},
		{"sub/x", manifest.FilesListName, true},
		{".", manifest.FilesListName, true},
		{"..", manifest.FilesListName, true},
	} {
		b.Manifest.Uploads.ListFile = c.name
		p, name, err := b.ListPath()
		if name != c.want || p != filepath.Join(b.Path, c.want) || (err != nil) != c.bad {
			t.Errorf("%q: %q %q %v", c.name, p, name, err)
		}
	}
	if p, _, err := (Backup{Path: "/b/backup_x_1"}).ListPath(); err != nil || p != "/b/backup_x_1/"+manifest.FilesListName {
		t.Errorf("legacy backup: %q %v", p, err)
	}
}
