package main

import "github.com/directus-backup/directus-backup/internal/repo"

// errNoBackup: the named backup does not exist, or there is none at all.
var errNoBackup = repo.ErrNoBackup

// pickBackup returns the backup named by arg (see repo.Pick).
func pickBackup(backupsDir, arg string) (repo.Backup, error) { return repo.Pick(backupsDir, arg) }
