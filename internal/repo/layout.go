package repo

import (
	"fmt"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// Paths inside BACKUPS_DIR and inside a backup folder. Every other package
// asks here instead of joining names itself, so the layout (which must stay
// the original backup.sh's) is written down once.

// BackupPath returns the folder of the backup (or any entry) called name
// in BACKUPS_DIR dir.
func BackupPath(dir, name string) string { return filepath.Join(dir, name) }

// TempName is the name of the folder a run with job ID jobID builds its
// backup in, before it is renamed to its backup name.
func TempName(jobID string) string { return TempPrefix + jobID }

// DumpName is the dump's file name for the compression codec (compress.Gzip,
// compress.Zstd or compress.None).
func DumpName(codec string) string { return DumpPlain + compress.Ext(codec) }

// UploadsIn returns the uploads folder of the backup folder dir (a backup,
// or a run's temporary folder, possibly reached through /proc/self/fd).
func UploadsIn(dir string) string { return filepath.Join(dir, BackupUploadsName) }

// UploadsRel returns the path, relative to a backup folder, of the file
// rel (slash-separated, relative to the uploads folder).
func UploadsRel(rel string) string {
	return filepath.Join(BackupUploadsName, filepath.FromSlash(rel))
}

// ListIn returns the entry list this tool writes in the backup folder dir.
func ListIn(dir string) string { return filepath.Join(dir, manifest.FilesListName) }

// ListName returns the file name of the entry list that m names:
// manifest.FilesListName when it names none. A name that is not a bare file
// name in the backup folder is refused with an error; the name returned
// with it is then manifest.FilesListName, for callers that fall back to it.
func ListName(m *manifest.Manifest) (string, error) {
	n := m.Uploads.ListFile
	if n == "" {
		return manifest.FilesListName, nil
	}
	if n != filepath.Base(n) || n == "." || n == ".." {
		return manifest.FilesListName, fmt.Errorf("names an entry list outside the backup: %q", n)
	}
	return n, nil
}

// UploadsPath returns the backup's uploads folder.
func (b Backup) UploadsPath() string { return UploadsIn(b.Path) }

// ListPath returns the path of the backup's entry list and its name (see
// ListName; a backup without a manifest gets the default name).
func (b Backup) ListPath() (path, name string, err error) {
	name = manifest.FilesListName
	if b.Manifest != nil {
		name, err = ListName(b.Manifest)
	}
	return filepath.Join(b.Path, name), name, err
}
