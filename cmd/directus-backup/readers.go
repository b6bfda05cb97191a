package main

import "github.com/directus-backup/directus-backup/internal/repo"

// readBackups holds the readers lock of a backups folder (see repo.ReadBackups).
var readBackups = repo.ReadBackups

// removedWhileRead is what a reader says of a backup retired while it read it.
const removedWhileRead = repo.RemovedWhileRead
