// Package verify checks backups already on disk, without any database
// server: that the dump reads back whole and matches the manifest, that the
// uploads folder holds exactly what the manifest lists, and that every file
// Directus knows about (directus_files.filename_disk in the dump) is in the
// backup's uploads folder.
//
// Everything is streamed. The dump is read once: the bytes on disk are
// hashed, decompressed, and the decompressed stream is hashed, scanned for
// row counts and directus_files rows, and its end is checked for pg_dump's
// completion line. The entry list (manifest.files.jsonl) is read as a stream
// in step with a sorted walk of uploads/, both in manifest.ComparePaths
// order, so memory does not grow with the number of files; only the
// directus_files file names are held (one string per Directus file).
//
// Findings are Problems, not errors: Backup returns an error only when it
// could not check at all (unreadable folder, cancelled context). Mode, owner
// and mtime differences are not reported: unchanged files are hard links
// shared between backups, so their inode attributes can legitimately differ
// from what one backup's list recorded, and they do not affect a restore.
package verify
