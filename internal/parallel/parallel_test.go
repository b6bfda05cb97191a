package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// Every index is done exactly once, whatever the number of workers.
func TestForDoesEachIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 8, 100} {
		for _, n := range []int{0, 1, 2, 7, 1000} {
			counts := make([]atomic.Int32, n)
			var running, most atomic.Int32
			For(n, workers, func(i int) {
				if r := running.Add(1); r > most.Load() {
					most.Store(r)
				}
				counts[i].Add(1)
				running.Add(-1)
			})
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("workers %d, n %d: index %d done %d times", workers, n, i, c)
				}
			}
			if limit := int32(max(workers, 1)); most.Load() > limit {
				t.Errorf("workers %d, n %d: %d calls at once", workers, n, most.Load())
			}
		}
	}
}

// Each returns the first error; after it no new call starts, and the
// calls running see their context cancelled.
func TestEachStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	err := Each(context.Background(), 100, 1, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() != 4 {
		t.Errorf("Each = %v after %d calls, want boom after 4", err, calls.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Each(ctx, 5, 2, func(context.Context, int) error { t.Error("called after cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Each on a cancelled context = %v", err)
	}
	var seen atomic.Int32
	if err := Each(context.Background(), 50, 4, func(context.Context, int) error { seen.Add(1); return nil }); err != nil || seen.Load() != 50 {
		t.Errorf("Each = %v, %d calls of 50", err, seen.Load())
	}
}
