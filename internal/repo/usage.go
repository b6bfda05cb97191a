package repo

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
)

// Usage is the disk space a backup takes.
type Usage struct {
	Files       int64 // regular files in uploads/
	Bytes       int64 // all regular files in the backup folder
	UniqueBytes int64 // bytes held by this backup alone (not shared through hard links)
}

// DiskUsage walks a backup folder. A file whose link count is 1 belongs to
// this backup alone: it is what removing the backup frees.
func DiskUsage(b Backup) (Usage, error) {
	var u Usage
	uploads := b.UploadsPath() + string(filepath.Separator)
	err := filepath.WalkDir(b.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		u.Bytes += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 1 {
			u.UniqueBytes += fi.Size()
		}
		if strings.HasPrefix(p, uploads) {
			u.Files++
		}
		return nil
	})
	return u, err
}
