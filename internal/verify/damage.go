package verify

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// RecordDamage writes the uploads files res found damaged (wrong content or
// size) into b's damage list (repo.DamageName), with their inodes, so that
// the next backup copies them afresh instead of linking the damage again.
// A check that found no damage and skipped nothing clears an older list;
// one that skipped the file checks leaves it alone. It returns how many
// files were recorded.
func RecordDamage(b repo.Backup, res Result) (int, error) {
	var list []repo.Damage
	now := time.Now()
	for _, p := range res.Problems {
		if p.Kind != KindContent && p.Kind != KindSize {
			continue
		}
		folder, rel, ok := cutFolder(b, p.Path)
		if !ok {
			continue
		}
		dir := b.UploadsPath()
		if folder != "" {
			dir = filepath.Join(b.Path, filepath.FromSlash(folder))
		}
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone since: nothing left to link
		}
		st := fi.Sys().(*syscall.Stat_t)
		list = append(list, repo.Damage{Path: rel, Folder: folder, Kind: p.Kind, Dev: uint64(st.Dev), Ino: st.Ino,
			Size: st.Size, MTime: repo.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}, Found: now})
	}
	if len(list) == 0 && len(res.Skipped) > 0 {
		return 0, nil
	}
	return len(list), b.WriteDamage(list)
}

// cutFolder splits a problem's path into the files folder it is in ("" for
// uploads/, else storage/<name> or extensions, as the manifest lists
// them) and the path inside it.
func cutFolder(b repo.Backup, p string) (folder, rel string, ok bool) {
	if rel, ok := repo.CutUploadsRel(p); ok {
		return "", rel, true
	}
	if b.Manifest == nil {
		return "", "", false
	}
	var folders []string
	for _, l := range b.Manifest.Storage {
		folders = append(folders, repo.StorageRel(l.Name))
	}
	if b.Manifest.Extensions != nil {
		folders = append(folders, repo.ExtensionsName)
	}
	for _, f := range folders {
		if rel, ok := strings.CutPrefix(p, f+"/"); ok {
			return f, rel, true
		}
	}
	return "", "", false
}
