package repo

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// Paths inside BACKUPS_DIR and inside a backup folder. Every other package
// asks here instead of joining names itself, so the layout (which must stay
// the original backup.sh's) is written down once.

// BackupPath returns the folder of the backup (or any entry) called name
// in BACKUPS_DIR dir.
func BackupPath(dir, name string) string { return filepath.Join(dir, name) }

// LatestPath returns the backup_latest link in BACKUPS_DIR dir.
func LatestPath(dir string) string { return filepath.Join(dir, LatestLink) }

// TempName is the name of the folder a run with job ID jobID builds its
// backup in, before it is renamed to its backup name.
func TempName(jobID string) string { return TempPrefix + jobID }

// DumpName is the dump's file name for the compression codec (compress.Gzip,
// compress.Zstd or compress.None).
func DumpName(codec string) string { return DumpPlain + compress.Ext(codec) }

// DumpIn returns the dump's path in the backup folder dir.
func DumpIn(dir, codec string) string { return filepath.Join(dir, DumpName(codec)) }

// UploadsIn returns the uploads folder of the backup folder dir (a backup,
// or a run's temporary folder, possibly reached through /proc/self/fd).
func UploadsIn(dir string) string { return filepath.Join(dir, BackupUploadsName) }

// UploadsRel returns the slash-separated path, relative to a backup
// folder, of rel (slash-separated, relative to the uploads folder): how
// reports and the damage list name an uploads file.
func UploadsRel(rel string) string { return path.Join(BackupUploadsName, rel) }

// CutUploadsRel is UploadsRel's inverse: false when p is not inside the
// uploads folder.
func CutUploadsRel(p string) (rel string, ok bool) {
	return strings.CutPrefix(p, BackupUploadsName+"/")
}

// ErrorLogsName is the default BACKUP_ERROR_DIR's name inside BACKUPS_DIR.
const ErrorLogsName = "error_logs"

// DefaultErrorDir is BACKUP_ERROR_DIR when it is not set.
func DefaultErrorDir(backupsDir string) string { return filepath.Join(backupsDir, ErrorLogsName) }

// ListIn returns the entry list this tool writes in the backup folder dir.
func ListIn(dir string) string { return filepath.Join(dir, manifest.FilesListName) }

// ChunksIn returns the dump's chunk list in the backup folder dir.
func ChunksIn(dir string) string { return filepath.Join(dir, manifest.ChunksListName) }

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

// UploadsPath returns the backup's uploads folder (the area's folder for
// a value from Area).
func (b Backup) UploadsPath() string {
	if b.area != "" {
		return filepath.Join(b.Path, filepath.FromSlash(b.area))
	}
	return UploadsIn(b.Path)
}

// FilesRel returns the slash-separated path, relative to the backup
// folder, of rel inside the files folder b stands for (UploadsRel for
// uploads/).
func (b Backup) FilesRel(rel string) string {
	if b.area != "" {
		return path.Join(b.area, rel)
	}
	return UploadsRel(rel)
}

// FilesFolder is the files folder b stands for, relative to the backup.
func (b Backup) FilesFolder() string {
	if b.area != "" {
		return b.area
	}
	return BackupUploadsName
}

// Folders and entry lists of the storage locations besides the default one
// and of the extensions folder, inside a backup.
const (
	StorageName        = "storage"
	ExtensionsName     = "extensions"
	ExtensionsListName = "manifest.extensions.jsonl"
)

// locationNameRE is what a location's name may be to become a folder name:
// Directus reads STORAGE_<NAME>_DRIVER, so names are word characters.
var locationNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidLocationName reports whether name can name a storage location.
func ValidLocationName(name string) bool { return locationNameRE.MatchString(name) }

// StorageRel is the folder of storage location name, relative to a backup:
// storage/<name, lower-cased>.
func StorageRel(name string) string { return StorageName + "/" + strings.ToLower(name) }

// StorageListName is the entry list of storage location name.
func StorageListName(name string) string {
	return "manifest.storage." + strings.ToLower(name) + ".jsonl"
}

// Area returns a view of b whose files folder, entry list and manifest
// Uploads figures are those of the storage location name, or of the
// extensions folder when name is ExtensionsName and extensions is true: the
// uploads code (verify, restore, snapshot) then works on it unchanged.
// For the default location (m.DefaultLocation) it returns b itself.
func (b Backup) Area(name string, extensions bool) (Backup, error) {
	m := b.Manifest
	if m == nil {
		return Backup{}, fmt.Errorf("%s has no manifest: it holds only uploads/", b.Name)
	}
	var loc manifest.Location
	switch {
	case extensions:
		if m.Extensions == nil {
			return Backup{}, fmt.Errorf("%s holds no extensions folder", b.Name)
		}
		loc = *m.Extensions
		b.area = ExtensionsName
	case m.DefaultLocation != "" && strings.EqualFold(name, m.DefaultLocation):
		return b, nil
	default:
		l, ok := m.Location(name)
		if !ok || !ValidLocationName(l.Name) {
			return Backup{}, fmt.Errorf("%s holds no storage location %q", b.Name, name)
		}
		loc = l
		b.area = StorageRel(l.Name)
	}
	mc := *m
	mc.Uploads = loc.Uploads
	b.Manifest = &mc
	return b, nil
}

// ListPath returns the path of the backup's entry list and its name (see
// ListName; a backup without a manifest gets the default name).
func (b Backup) ListPath() (path, name string, err error) {
	name = manifest.FilesListName
	if b.Manifest != nil {
		name, err = ListName(b.Manifest)
	}
	return filepath.Join(b.Path, name), name, err
}

// IsRetired reports whether name is a folder set aside for deletion
// (Retire), not yet purged.
func IsRetired(name string) bool { return strings.HasPrefix(name, DeletingPrefix) }

// Retired returns the folders in dir set aside for deletion, not yet
// purged.
func Retired(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && IsRetired(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
