// Package parallel runs work on several goroutines: For for the file
// system work of one folder's children (the snapshot and the restore do it
// in batches, then record the results in order on one goroutine), Each for
// transfers that stop at the first error.
package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// For calls do(i) for every i from 0 to n-1, on up to workers goroutines
// (in the caller's goroutine when workers < 2), and returns when all calls
// have returned. Each i is handed out once, lowest first; do must be safe
// to call concurrently.
func For(n, workers int, do func(i int)) {
	if workers < 2 || n < 2 {
		for i := range n {
			do(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				do(i)
			}
		}()
	}
	wg.Wait()
}

// Each calls do for every i from 0 to n-1 on up to workers goroutines and
// returns the first error (or ctx's), after which no new call starts and
// the ctx of those running is cancelled.
func Each(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first error
	For(n, workers, func(i int) {
		if ctx.Err() != nil {
			return
		}
		if err := do(ctx, i); err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
			cancel()
		}
	})
	if first != nil {
		return first
	}
	return ctx.Err()
}
