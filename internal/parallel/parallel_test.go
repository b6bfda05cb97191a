package parallel

import (
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
