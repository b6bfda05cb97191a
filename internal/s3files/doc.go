// Package s3files copies a Directus storage location that lives in an S3
// bucket (driver s3) into a backup, and back into a bucket on restore.
//
// Pull lists the objects under the location's root prefix and writes each
// as a file of the backup's folder for the location, incrementally: an
// object whose key, size and ETag equal the previous backup's entry (from
// its entry list, which the caller vouches for) becomes a hard link to the
// previous backup's file, once that file is found with that size; every
// other object is downloaded, several at a time, into a temporary name in
// its folder, hashed (SHA-256) while written, fsynced and renamed. Each
// item is recorded with manifest.ListWriter like a local file (mode 0644,
// mtime = the object's Last-Modified, plus its ETag); folder markers (keys
// ending in "/") and the folders a key implies become folders.
//
// A key that cannot be a relative path in the backup (an empty, "." or
// ".." segment, a NUL byte, a segment longer than 255 bytes, or a key that
// is also a folder of another key) fails the run before anything is
// downloaded, naming the keys: skipping them would make a backup that
// looks complete but lacks objects. Directus itself never writes such keys
// (it names files <uuid>.<ext>); whoever put them there must rename them.
//
// Push uploads a backup's folder (per its entry list) into a bucket and
// prefix, which may differ from the location's (restore --to-bucket /
// --to-prefix). Each file's SHA-256 is checked against the list before its
// upload; objects already in the bucket with the same size and ETag (as
// recorded, or as computed from the file) are skipped. With Delete, objects
// under the prefix that the backup does not hold are deleted afterwards
// (their current version: older versions of a versioned bucket stay).
//
// Errors name the caller's settings to fix (Settings), so that the package
// serves any configuration source. Library code: nothing is printed, and a
// cancelled context stops the transfers; on failure Pull leaves its folder
// half-written (with temporary files) and no entry list finished: the
// caller removes the unfinished backup.
package s3files
