package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// errNoBackup: the named backup does not exist, or there is none at all.
var errNoBackup = exitcode.New(exitcode.Usage, "no such backup")

// pickBackup returns the backup named by arg (a folder name, or a path to
// one inside backupsDir; "latest" or "" means the one backup_latest points
// at, or else the newest complete one).
func pickBackup(backupsDir, arg string) (repo.Backup, error) {
	if arg != "" && arg != "latest" && arg != repo.LatestLink {
		name := filepath.Base(strings.TrimRight(arg, "/"))
		b, err := repo.Get(backupsDir, name)
		if err != nil {
			return b, fmt.Errorf("%w: %s in %s: %v", errNoBackup, name, backupsDir, err)
		}
		return b, nil
	}
	if target, ok := repo.Latest(backupsDir); ok {
		if b, err := repo.Get(backupsDir, target); err == nil && b.Usable() {
			return b, nil
		}
	}
	backups, err := repo.List(backupsDir)
	if err != nil {
		return repo.Backup{}, fmt.Errorf("%w: cannot read %s: %v", errNoBackup, backupsDir, err)
	}
	if b, ok := repo.NewestUsable(backups); ok {
		return b, nil
	}
	return repo.Backup{}, fmt.Errorf("%w: no complete backup in %s", errNoBackup, backupsDir)
}
