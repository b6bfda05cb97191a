package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ReadersLockName is the lock that readers of backups (verify, list,
// restore, offsite pushes) hold shared for as long as they read. Purge
// deletes a retired folder only while it can hold it exclusively, so a
// backup retired under a reader's feet stays on disk (as deleting_*) until
// the reader is done. Retiring needs no such lock: a backup run never
// waits for a reader.
const ReadersLockName = ".directus-backup-readers.lock"

// ErrReaders is returned (wrapped) by Purge when readers hold the readers
// lock: the retired folders are left for the next run. Not a failure.
var ErrReaders = errors.New("backups are being read (verify, list or restore); retired folders are left for the next run to delete")

// ReadLock is a shared hold on the readers lock of a backups folder.
type ReadLock struct{ f *os.File }

// readPoll is how often Read retries while a purge deletes a folder.
const readPoll = 50 * time.Millisecond

// Read takes the readers lock of dir shared. It waits while a purge is
// deleting a folder (the purge gives the lock up between folders) or until
// ctx ends. A reader that cannot create the lock file (BACKUPS_DIR not
// writable for it) gets an error that matches os.ErrPermission, and may
// read without the lock.
func Read(ctx context.Context, dir string) (*ReadLock, error) {
	path := filepath.Join(dir, ReadersLockName)
	f, err := openLockFile(path)
	if errors.Is(err, os.ErrPermission) {
		var rerr error
		if f, rerr = openLockFileReadOnly(path); rerr == nil || !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return &ReadLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for the removal of retired backups to finish: %w", ctx.Err())
		case <-time.After(readPoll):
		}
	}
}

// Release gives the shared lock up.
func (l *ReadLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Gone reports whether b's folder is no longer there under its name (it
// was retired, and maybe deleted, since it was listed). A reader whose read
// failed checks this before it calls anything damaged.
func (b Backup) Gone() bool {
	fi, err := os.Lstat(b.Path)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	if !fi.IsDir() {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || b.ino == 0 {
		return false
	}
	return uint64(st.Dev) != b.dev || uint64(st.Ino) != b.ino
}

// exclusiveReaders tries to hold the readers lock exclusively, without
// waiting; ok is false when readers hold it.
func exclusiveReaders(dir string) (f *os.File, ok bool, err error) {
	path := filepath.Join(dir, ReadersLockName)
	f, err = openLockFile(path)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, true, nil
}
