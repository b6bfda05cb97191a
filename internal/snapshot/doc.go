// Package snapshot copies the live uploads folder into a new backup, the way
// the old script's `rsync -a --link-dest=<previous>/uploads` did, and records
// every item in the backup's manifest.files.jsonl.
//
// A regular file whose size, mtime (to the nanosecond), permission bits and,
// when owners are preserved, uid/gid equal those of the file at the same path
// in the previous backup is hard-linked to it instead of copied, so unchanged
// files cost no space. A linked file is never chmod-ed, chown-ed or touched:
// its inode belongs to the previous backup too. Every other file is copied
// and its mode, owner and times are set afterwards. Folders get their
// attributes after their children are written, so their mtimes survive.
// Symlinks are recreated, never followed. Sockets, FIFOs and devices are
// skipped with a warning.
//
// The SHA-256 of each file goes into the list. Copied files are hashed while
// they are copied (one read). For linked files the hash is taken from the
// previous backup's list, read as a stream in step with the walk (both are in
// manifest.ComparePaths order), so that memory does not grow with the number
// of files and unchanged files are not read at all; the caller passes that
// list only when its checksum matches its manifest. A rotating share of the
// linked files (Options.RecheckPercent, chosen by Options.Run and a hash of
// the path) is re-read and must match the listed hash. A linked file with no
// vouched entry is read and compared with the source. Either mismatch, a
// linked copy that cannot be read, and a previous file verify recorded as
// damaged (Options.Damaged, matched by inode, size and mtime) get a fresh
// copy from the source instead of the link, with a warning.
//
// The walk is by file descriptor: the root is opened once (a symlinked root
// is followed; anything but a folder, a FIFO included, is refused at once),
// the copy is made and opened relative to its open parent, and every item
// below it is opened, stat-ed, linked or created relative to its already
// open parent folder, with O_NOFOLLOW; no path is resolved again. A folder swapped for a symlink while the walk runs
// is recorded as the symlink, never followed. Three descriptors are open per
// level of depth (source, copy, previous backup); no file stays open.
//
// Items that disappear between being listed and being read (the uploads
// folder is live) are left out with a warning, like rsync's "file has
// vanished". Items that cannot be read are errors.
//
// On error the destination is left half-written; the caller owns it and
// removes it. Nothing is fsynced here: Options.OnWritten tells the caller
// what to sync.
package snapshot
