package repo

import (
	"context"
	"fmt"
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

// usageCtxEvery is how many entries DiskUsage walks between two checks of
// its context: often enough that a Ctrl-C stops it at once, rarely enough
// to cost nothing.
const usageCtxEvery = 256

// DiskUsage walks a backup folder. A file whose link count is 1 belongs to
// this backup alone: it is what removing the backup frees. It stops when
// ctx is done (a big backup takes minutes to walk on a cold cache).
func DiskUsage(ctx context.Context, b Backup) (Usage, error) {
	var u Usage
	// Files counts the files of every files folder: uploads/, the other
	// storage locations and the extensions.
	folders := []string{b.UploadsPath() + string(filepath.Separator),
		filepath.Join(b.Path, StorageName) + string(filepath.Separator),
		filepath.Join(b.Path, ExtensionsName) + string(filepath.Separator)}
	n := 0
	err := filepath.WalkDir(b.Path, func(p string, d fs.DirEntry, err error) error {
		if n++; n%usageCtxEvery == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("disk usage of %s stopped: %w", b.Path, cerr)
			}
		}
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
		for _, f := range folders {
			if strings.HasPrefix(p, f) {
				u.Files++
				break
			}
		}
		return nil
	})
	return u, err
}
