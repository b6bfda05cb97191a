package repo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// AcquireWait gets the lock once its holder lets go, says once who it
// waits for, gives up with ErrLocked after the wait, and stops at once
// when its context ends. flock(2) locks belong to the open file, so a
// second open in this process contends like another process would.
func TestAcquireWait(t *testing.T) {
	dir := t.TempDir()
	held, err := Acquire(dir, "pid 1, the first run")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { held.Release() })
	var told []string
	start := time.Now()
	l, err := AcquireWait(context.Background(), dir, "second", 5*time.Second, func(who string) { told = append(told, who) })
	if err != nil {
		t.Fatalf("AcquireWait: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("got the lock after %v, want soon after 300ms", took)
	}
	if len(told) != 1 || told[0] != "pid 1, the first run" {
		t.Errorf("waiting called with %q, want once with the holder", told)
	}

	start = time.Now()
	_, err = AcquireWait(context.Background(), dir, "third", 200*time.Millisecond, nil)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "held by second") || !strings.Contains(err.Error(), "waited 200ms") {
		t.Errorf("after the wait: %v", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > time.Second {
		t.Errorf("gave up after %v, want 200ms", took)
	}

	if _, err := AcquireWait(context.Background(), dir, "fourth", 0, func(string) { t.Error("no wait, but waiting was called") }); !errors.Is(err, ErrLocked) {
		t.Errorf("without a wait: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = AcquireWait(ctx, dir, "fifth", time.Hour, nil)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrLocked) {
		t.Errorf("cancelled: %v, want ErrLocked and context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopped %v after the cancel, want at once", took)
	}
	l.Release()
	if l, err := AcquireWait(ctx, dir, "sixth", time.Hour, nil); err != nil {
		t.Errorf("a free lock with a cancelled context: %v", err)
	} else {
		l.Release()
	}
}
