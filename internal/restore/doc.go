// Package restore puts a backup back: the database dump (DB) and the uploads
// folder (Uploads).
//
// Neither changes what it restores into until the backup has been checked
// and the new state is complete, so a damaged backup, an error or a cancel
// leaves the target exactly as it was.
//
// Uploads first compares the backup with the target, reading only folders
// and attributes (rsync's quick check); a target that already is what the
// restore would make is left alone. Otherwise it builds a stage folder
// beside the target (same filesystem): files of the target that pass the
// quick check are hard-linked into it, every other file is copied from the
// backup (never a hard link into the backup, whose files are shared by
// several backups and must not be changed through the live folder). What is
// staged is compared, as a stream, with the entry list the backup recorded
// (SHA-256 of every copied file, and type, size, mode, times, owner and link
// target of every item); legacy backups of the old script have no list and
// are restored unverified. Items of the target that the backup does not
// have are carried over into the stage (files as hard links from the
// target) unless Force is set. What was written is made durable (an fsync
// each when few, else syncfs), then the stage is swapped with the target in
// one renameat2(RENAME_EXCHANGE), falling back to two renames where that is
// not supported, and the old tree is removed.
//
// The target is only ever read and linked from through open folder
// descriptors (openat with O_NOFOLLOW, linkat, fstatat), so a subfolder
// swapped for a symlink mid-restore cannot lead outside it. The target and
// the stage are flocked while a restore runs: a second restore into the
// same target is refused, and a stage whose lock is free was left by a dead
// run and is removed by the next one.
//
// Files by job: uploads.go (the run), uploads_check.go (checks, locks),
// uploads_compare.go (the read-only first pass), uploads_stage.go (the
// stage walk), uploads_fs.go (file-level steps), uploads_merge.go (what the
// target has beyond the backup), uploads_verify.go (the entry list),
// uploads_swap.go (the swap and leftovers).
package restore
