package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// ErrLocked means another run holds the lock on the backups folder.
var ErrLocked = exitcode.New(exitcode.Locked, "another directus-backup run is using this backups folder")

// Lock is an exclusive hold on a backups folder. It is an flock(2) lock, so
// the kernel releases it when the process dies, however it dies: a run
// killed with SIGKILL never leaves a stale lock behind.
type Lock struct {
	f         *os.File
	holderErr error
}

// Acquire takes the lock on dir without waiting. holder is written into the
// lock file so that a refused run can say who holds it. That line is only
// information: when it cannot be written (a full disk, a file size limit)
// the lock still holds, and the error is kept for HolderErr rather than
// returned, since refusing would stop a prune that could free the space.
func Acquire(dir, holder string) (*Lock, error) {
	return AcquireWait(context.Background(), dir, holder, 0, nil)
}

// lockPoll is how often AcquireWait tries again while another run holds
// the lock: runs last minutes, so a tenth of a second is prompt enough
// and costs nothing. Polling rather than a blocking flock(2): a goroutine
// blocked in flock cannot be stopped when ctx ends, and would take the
// lock later for a run that has already given up.
const lockPoll = 100 * time.Millisecond

// AcquireWait is Acquire, but while another run holds the lock it waits
// for up to wait (0: not at all) for it to be released. waiting, when not
// nil, is called once, with who holds the lock, when the wait begins, so
// the caller can say why nothing happens. When the wait runs out the error
// matches ErrLocked and says how long it waited; when ctx ends first it
// matches both ErrLocked and ctx's error (nothing was done; an interrupted
// run exits as interrupted).
func AcquireWait(ctx context.Context, dir, holder string, wait time.Duration, waiting func(who string)) (*Lock, error) {
	path := filepath.Join(dir, LockName)
	start := time.Now()
	for {
		l, who, err := tryAcquire(path, holder)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		waited := time.Since(start)
		if wait <= 0 {
			return nil, err
		}
		if waited >= wait {
			return nil, fmt.Errorf("%w (held by %s); waited %s for it (BACKUP_LOCK_WAIT, --lock-wait)", ErrLocked, who, roundWait(waited))
		}
		if waiting != nil {
			waiting(who)
			waiting = nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (held by %s); stopped waiting for it after %s: %w", ErrLocked, who, roundWait(time.Since(start)), ctx.Err())
		case <-time.After(min(lockPoll, wait-waited)):
		}
	}
}

// LogWaiting returns a waiting callback for AcquireWait that logs, once,
// at INFO, that the run waits for the lock and for whom.
func LogWaiting(log *slog.Logger, wait time.Duration) func(who string) {
	return func(who string) {
		log.Info("another run holds the backups folder; waiting for it", "held_by", who, "up_to", wait.String())
	}
}

// roundWait rounds a wait for messages to a tenth of a second: 1.000213s
// reads as 1s (the poll makes a wait end a little late).
func roundWait(d time.Duration) time.Duration {
	if d >= 100*time.Millisecond {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// tryAcquire takes the lock at path without waiting. When another run
// holds it, the error matches ErrLocked and who names that run.
func tryAcquire(path, holder string) (*Lock, string, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, "", err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data := make([]byte, 256)
		n, _ := f.ReadAt(data, 0)
		data = data[:n]
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(data))
			if who == "" {
				who = "a run that could not write its name into " + path
			}
			return nil, who, fmt.Errorf("%w (held by %s)", ErrLocked, who)
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	l := &Lock{f: f}
	if err := f.Truncate(0); err != nil {
		l.holderErr = fmt.Errorf("clear the holder line of %s: %w", path, err)
	} else if _, err := f.WriteAt([]byte(holder+"\n"), 0); err != nil {
		// A part of the line would name no one; an empty file says so.
		f.Truncate(0)
		l.holderErr = fmt.Errorf("write the holder line into %s (the lock holds; a refused run cannot say who holds it): %w", path, err)
	}
	return l, "", nil
}

// HolderErr is the error of writing the holder line into the lock file,
// nil when it was written. The caller may warn of it; the lock holds.
func (l *Lock) HolderErr() error {
	if l == nil {
		return nil
	}
	return l.holderErr
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// Held reports whether a run holds the lock on dir, and who, without
// taking it (taking it, even briefly, could refuse a backup starting at
// that moment). It reads the kernel's lock table, /proc/locks.
func Held(dir string) (bool, string) {
	path := filepath.Join(dir, LockName)
	fi, err := os.Lstat(path) // a symlink is never our lock: not followed
	if err != nil || !fi.Mode().IsRegular() {
		return false, ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, ""
	}
	if held, _ := flocks(st); len(held) == 0 {
		return false, ""
	}
	data, _ := regfile.ReadFile(path)
	return true, strings.TrimSpace(string(data))
}

// FlockHeld reports whether some process holds an flock on path (not
// followed when a symlink), from the kernel's lock table like Held: for
// locks that taking, even briefly, could make their owner fail to start.
func FlockHeld(path string) bool {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return false
	}
	held, _ := flocks(&st)
	return len(held) > 0
}

// flocks returns the access ("READ" or "WRITE") of each flock held on the
// file st describes, from /proc/locks.
func flocks(st *syscall.Stat_t) ([]string, error) {
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil, err
	}
	// Lines look like "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF";
	// the sixth field is major:minor:inode, the numbers in hex, hex, decimal.
	dev := uint64(st.Dev)
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), st.Ino)
	var out []string
	for _, line := range strings.Split(string(locks), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want {
			out = append(out, f[3])
		}
	}
	return out, nil
}
