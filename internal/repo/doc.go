// Package repo owns the on-disk layout of BACKUPS_DIR: backup folder names,
// the backup_latest link, temporary job folders, the run lock, and removal.
// Names inside BACKUPS_DIR are defined here, and only here, and so are the
// paths: other packages ask repo (BackupPath, Backup.UploadsPath, ListPath,
// DumpIn, TempName, Retired, the error folders) instead of joining names.
//
//	BACKUPS_DIR/
//	├── backup_<date>_<timestamp>/   a backup; complete once manifest.json is in it
//	│   ├── db_backup.sql.gz         (.sql.zst with zstd, .sql when compression is off)
//	│   ├── uploads/
//	│   ├── manifest.files.jsonl
//	│   └── manifest.json
//	├── backup_latest -> backup_<date>_<timestamp>
//	├── error_logs/error_<date>_<job-id>/  a failed run; error.json says what failed
//	├── temp_<job-id>/               a run in progress (or one that died)
//	├── deleting_<name>/             a backup being removed (renamed first)
//	├── .directus-backup.lock          run lock (backup, prune, restore)
//	├── .directus-backup-purge.lock    held while deleting_ folders are deleted
//	├── .directus-backup-readers.lock  shared by readers; purge waits for none
//	└── .directus-backup-readers-waiting.lock  shared by readers waiting; purge stops
//
// Lock files are opened without following symlinks and refused when they
// are not plain regular files (ErrBadLockFile): BACKUPS_DIR often belongs
// to the Directus user while backups run as root. Files of a backup are
// read through regfile, so a FIFO or symlink planted there is never opened.
package repo
