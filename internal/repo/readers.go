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

// ReadersWaitingName is held shared by a reader while it waits for the
// readers lock. Purge checks it before each folder and, when it is held,
// stops and leaves the rest for the next run: a reader waits for the
// removal of at most one folder. Without it a reader that polls the
// readers lock almost never finds it free in the microseconds between two
// folders, and so waited for the whole purge.
const ReadersWaitingName = ".directus-backup-readers-waiting.lock"

// ReadLock is a shared hold on the readers lock of a backups folder.
type ReadLock struct{ f *os.File }

// readPoll is how often Read retries while a purge deletes a folder:
// often enough that a reader gets in soon after the purge stops for it.
const readPoll = 10 * time.Millisecond

// readWaitNotice is how long Read waits before it calls its waiting
// callback: deleting one folder of a few thousand files takes less.
const readWaitNotice = time.Second

// Read takes the readers lock of dir shared. While a purge is deleting a
// folder it waits, until ctx ends, for that folder only: it announces
// itself in ReadersWaitingName, and the purge stops before the next one.
// waiting (may be nil) is called once when the wait lasts longer than
// about a second, so that the caller can say why nothing happens. A reader
// that cannot create the lock file (BACKUPS_DIR not writable for it) gets
// an error that matches os.ErrPermission, and may read without the lock.
func Read(ctx context.Context, dir string, waiting func()) (*ReadLock, error) {
	path := filepath.Join(dir, ReadersLockName)
	f, err := openOrReadOnly(path)
	if err != nil {
		return nil, err
	}
	var announce *os.File // the shared hold on ReadersWaitingName, once taken
	defer func() {
		if announce != nil {
			announce.Close()
		}
	}()
	start := time.Now()
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return &ReadLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if announce == nil {
			if announce, err = announceWaiting(dir); err != nil {
				f.Close()
				return nil, err
			}
		}
		if !said && waiting != nil && time.Since(start) >= readWaitNotice {
			said = true
			waiting()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for the removal of retired backups to finish: %w", ctx.Err())
		case <-time.After(readPoll):
		}
	}
}

// openOrReadOnly opens a lock file that readers use; a reader who may not
// write BACKUPS_DIR opens an existing one read-only (flock works on it).
func openOrReadOnly(path string) (*os.File, error) {
	f, err := openLockFile(path)
	if errors.Is(err, os.ErrPermission) {
		var rerr error
		if f, rerr = openLockFileReadOnly(path); rerr == nil || !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	return f, err
}

// announceWaiting holds ReadersWaitingName shared. It returns nil, nil
// when the reader cannot (the file cannot be made, or something else holds
// it exclusively): it then just waits, and tries again on the next poll.
func announceWaiting(dir string) (*os.File, error) {
	f, err := openOrReadOnly(filepath.Join(dir, ReadersWaitingName))
	if err != nil {
		if errors.Is(err, ErrBadLockFile) {
			return nil, err
		}
		return nil, nil
	}
	// A purge holds it exclusively for two system calls while it checks:
	// retried at once rather than on the next poll, by which time the
	// purge may have started on another folder. Never a blocking flock:
	// whoever can replace the file could then hold a reader forever.
	for try := 0; try < 100; try++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	f.Close()
	return nil, nil
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

// readersWaiting reports whether a reader holds ReadersWaitingName, that
// is, waits for the readers lock. w is the purge's descriptor of that file.
func readersWaiting(w *os.File) (bool, error) {
	err := syscall.Flock(int(w.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", w.Name(), err)
	}
	// Given up at once: a reader that comes now waits for one folder.
	return false, syscall.Flock(int(w.Fd()), syscall.LOCK_UN)
}
