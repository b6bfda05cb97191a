package schedule

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
)

// fakeClock moves only when the test says so; registered reports each
// After call, so the test knows the loop is waiting.
type fakeClock struct {
	mu         sync.Mutex
	now        time.Time
	waiters    []waiter
	registered chan time.Duration
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0, registered: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.registered <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) waitRegistered(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.registered:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the scheduler did not wait for its next run")
		return 0
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestParse(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.Local)
	for spec, want := range map[string]time.Time{
		"0 2 * * *":  time.Date(2026, 3, 5, 2, 0, 0, 0, time.Local),
		"@daily":     time.Date(2026, 3, 5, 0, 0, 0, 0, time.Local),
		"0 4 * * 0":  time.Date(2026, 3, 8, 4, 0, 0, 0, time.Local), // Sunday
		"@every 90s": t0.Add(90 * time.Second),
	} {
		s, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		if got := s.Next(t0); !got.Equal(want) {
			t.Errorf("Parse(%q).Next = %v, want %v", spec, got, want)
		}
	}
	for _, bad := range []string{"", "daily", "61 * * * *", "* * * *", "@every soon", "0 2 * * * *"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// Two runs on schedule, and a run due while the first is still running is
// skipped with a warning, not queued.
func TestRunSkipsOverlap(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	every, _ := Parse("@every 1m")
	started := make(chan struct{})
	release := make(chan struct{})
	var runs int
	logs := capbuf.Head{Max: 1 << 20} // shared with the jobs' goroutines
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done []string
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, []Job{{Name: "backup", Schedule: every, Run: func(context.Context) error {
			runs++
			started <- struct{}{}
			<-release
			return nil
		}}}, Options{Clock: clock, Log: slog.New(slog.NewTextHandler(&logs, nil)),
			Done: func(name string, _, _ time.Time, err error) { done = append(done, name) }})
	}()

	clock.waitRegistered(t)
	clock.Advance(time.Minute)
	recv(t, started, "the first run")
	clock.waitRegistered(t)
	clock.Advance(time.Minute) // due while the first run is still going
	clock.waitRegistered(t)
	if n := strings.Count(logs.String(), "run skipped"); n != 1 {
		t.Fatalf("%d skipped runs logged, want 1:\n%s", n, logs.String())
	}
	release <- struct{}{}
	clock.waitRegistered(t) // after the run: waits for the next one
	clock.Advance(time.Minute)
	recv(t, started, "the second run")
	release <- struct{}{}
	clock.waitRegistered(t)
	cancel()
	if err := recv(t, errc, "Run to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if runs != 2 || len(done) != 2 {
		t.Fatalf("%d runs, %d reported done; want 2 and 2\n%s", runs, len(done), logs.String())
	}
	if n := strings.Count(logs.String(), "next run"); n < 3 {
		t.Errorf("the next run time was logged %d times, want at start and after each run:\n%s", n, logs.String())
	}
}

// Cancelling the context cancels the running job and Run returns only
// after that job has ended.
func TestRunStopWaitsForRunningJob(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	every, _ := Parse("@every 1m")
	daily, _ := Parse("@daily")
	started := make(chan struct{}, 1)
	var ended bool
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, []Job{
			{Name: "verify", Schedule: daily, Run: func(context.Context) error { t.Error("verify ran"); return nil }},
			{Name: "backup", Schedule: every, Run: func(ctx context.Context) error {
				started <- struct{}{}
				<-ctx.Done()
				time.Sleep(50 * time.Millisecond) // rolling back
				ended = true
				return ctx.Err()
			}},
		}, Options{Clock: clock})
	}()
	clock.waitRegistered(t)
	clock.Advance(time.Minute)
	recv(t, started, "the run")
	cancel()
	if err := recv(t, errc, "Run to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if !ended {
		t.Fatal("Run returned before the running job ended")
	}
}

// A verify due while the backup runs is queued and starts as soon as the
// backup ends (not skipped until next week); it is queued once however
// often it falls due meanwhile, and a backup due during its own run is
// still skipped.
func TestRunQueuesOtherJob(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	every, _ := Parse("@every 1m")
	started := make(chan string)
	release := make(chan struct{})
	logs := capbuf.Head{Max: 1 << 20} // shared with the jobs' goroutines
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := func(name string) func(context.Context) error {
		return func(context.Context) error {
			started <- name
			<-release
			return nil
		}
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, []Job{
			{Name: "backup", Schedule: every, Run: job("backup")},
			{Name: "verify", Schedule: every, Run: job("verify")},
		}, Options{Clock: clock, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	}()
	clock.waitRegistered(t)
	clock.Advance(time.Minute) // both due: backup starts, verify queued
	if got := recv(t, started, "the first run"); got != "backup" {
		t.Fatalf("first run %q, want backup", got)
	}
	clock.waitRegistered(t)
	clock.Advance(time.Minute) // both due again: backup skipped, verify already queued
	clock.waitRegistered(t)
	release <- struct{}{}
	if got := recv(t, started, "the queued run"); got != "verify" {
		t.Fatalf("queued run %q, want verify\n%s", got, logs.String())
	}
	release <- struct{}{}
	clock.waitRegistered(t)
	cancel()
	if err := recv(t, errc, "Run to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	l := logs.String()
	if n := strings.Count(l, "run queued"); n != 1 {
		t.Errorf("%d queued runs logged, want 1:\n%s", n, l)
	}
	if n := strings.Count(l, "run skipped"); n != 2 {
		t.Errorf("%d skipped runs logged, want 2 (the backup once, the already queued verify once):\n%s", n, l)
	}
}
