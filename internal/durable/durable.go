// Package durable makes what was written survive a power cut: a backup is
// only called complete, and a restored folder only swapped in, after this.
package durable

import (
	"context"
	"errors"
	"os"
	"sync"

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

// SyncPaths fsyncs each file and folder in paths (never through a symlink),
// a few at a time: the filesystem folds concurrent fsyncs into one journal
// commit. Use it instead of SyncFS when a run wrote few items, so it does
// not wait for other processes' writes.
func SyncPaths(ctx context.Context, paths []string) error {
	const workers = 8
	ch := make(chan string)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				if errs[i] == nil {
					errs[i] = syncPath(p)
				}
			}
		}()
	}
	var err error
	for _, p := range paths {
		if err = ctx.Err(); err != nil {
			break
		}
		ch <- p
	}
	close(ch)
	wg.Wait()
	return errors.Join(append(errs, err)...)
}

func syncPath(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "fsync", Path: p, Err: err}
	}
	return nil
}
