// Package filetable holds Directus's file table (directus_files, read from
// the dump) against the files a backup holds, per storage location, in both
// directions: rows whose bytes are missing, and files no row names
// (orphans). The backup run records the result in its manifest and report;
// verify repeats it on the backup as it is now.
//
// The files of a location are read from its entry list (the manifest's
// JSON Lines list), never by walking a disk: what counts is what the backup
// recorded. Directus's generated thumbnails (see thumbnail.go) are matched
// to their original's row and are not orphans while that row exists.
package filetable
