package config

import (
	"errors"
	"time"
)

const envLockWait = "BACKUP_LOCK_WAIT"

// maxLockWait bounds BACKUP_LOCK_WAIT: a run queued for longer than a day
// is a stuck one, and would overlap the next day's.
const maxLockWait = 24 * time.Hour

// lockWait reads BACKUP_LOCK_WAIT: a Go duration (30s, 5m, 1h30m) or 0.
// set reports whether a source sets it (the scheduler's own default
// applies otherwise).
func (r *resolver) lockWait() (d time.Duration, set bool) {
	v, _, set := r.get(envLockWait)
	if !set {
		v = settingDefault(envLockWait)
	}
	d, err := ParseLockWait(v)
	if err != nil {
		r.fail(envLockWait, v, "a duration such as 30s, 5m or 1h30m (at most 24h), or 0 (do not wait)", nil)
		return 0, set
	}
	return d, set
}

// ParseLockWait reads a BACKUP_LOCK_WAIT value: "0" or a Go duration from
// 0 to 24h; a bare number other than 0 is refused (seconds or minutes?).
func ParseLockWait(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > maxLockWait {
		return 0, errLockWaitRange
	}
	return d, nil
}

var errLockWaitRange = errors.New("out of range: 0 to 24h")
