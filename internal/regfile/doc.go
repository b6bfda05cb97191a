// Package regfile opens files for reading only when they are regular files.
// Inside BACKUPS_DIR anyone who can write the folder (often the Directus
// user, while backups run as root) can put a symlink or a FIFO where a
// manifest, dump or entry list should be: following the symlink reads a
// file outside, and opening the FIFO waits forever for a writer.
package regfile
