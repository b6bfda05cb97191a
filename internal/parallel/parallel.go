// Package parallel runs the file system work of one folder's children on
// several goroutines: the snapshot and the restore both do it in batches,
// then record the results in order on one goroutine.
package parallel

import (
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
