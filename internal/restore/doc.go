// Package restore puts a backup back: the database dump (DB) and the uploads
// folder (Uploads).
//
// Neither changes what it restores into until the backup has been checked
// and the new state is complete, so a damaged backup, an error or a cancel
// leaves the target exactly as it was.
//
// Uploads copies the backup's uploads into a stage folder beside the target
// (same filesystem), with snapshot.Take and no previous backup: every
// restored file is an independent copy, never a hard link into the backup,
// whose files are shared by several backups and must not be changed through
// the live folder. The copy's fresh entry list is compared, as a stream, with
// the one the backup recorded (SHA-256 of every file, and type, size, mode,
// times, owner and link target of every item); legacy backups of the old
// script have no list and are restored unverified. Items of the target that
// the backup does not have are carried over into the stage (files as hard
// links from the target) unless Force is set. The stage is synced and then
// swapped with the target in one renameat2(RENAME_EXCHANGE), falling back to
// two renames where that is not supported, and the old tree is removed.
package restore
