// Package durable makes what was written survive a power cut: a backup is
// only called complete, and a restored folder only swapped in, after this.
package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncDir fsyncs a folder, so that renames and new entries in it are on
// disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// SyncFS flushes the whole filesystem dir is on (syncfs): one call for
// every file of a backup or restore, far cheaper than an fsync per file.
// It also flushes other processes' pending writes on that filesystem.
func SyncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
