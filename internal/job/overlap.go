package job

import (
	"context"
	"sync"
	"time"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// partFailed is the error of one of the steps dumpAndCopy runs: the step
// that failed first, for StepError and the error folder.
type partFailed struct {
	step string
	err  error
}

func (e *partFailed) Error() string { return e.step + ": " + e.err.Error() }
func (e *partFailed) Unwrap() error { return e.err }

// dumpAndCopy runs the database and uploads steps side by side: one is
// mostly compression (CPU), the other mostly file copying (I/O). The
// uploads copy starts when pg_dump's first bytes arrive. pg_dump takes its
// snapshot at its first query after connecting, long before it writes
// anything, so every file a dumped row names was already in the uploads
// folder when the copy started: it is in the copy, as with the steps one after the other. A
// file uploaded later is at worst a file no row names. A dump that fails
// before its first byte never starts the copy.
//
// The first step to fail stops the other (through the context) and is the
// one the error names. Each step records its own timing; they overlap.
func (r *run) dumpAndCopy(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var (
		mu      sync.Mutex // guards the rest of this block
		first   *partFailed
		dumping = true
		copying bool
		started bool
	)
	// show tells the progress display which of the two are running.
	show := func() {
		switch {
		case dumping && copying:
			r.deps.Progress.Step.Store(StepDatabase + "+" + StepUploads)
		case copying:
			r.deps.Progress.Step.Store(StepUploads)
		case dumping:
			r.deps.Progress.Step.Store(StepDatabase)
		}
	}
	failed := func(step string, err error) {
		mu.Lock()
		if first == nil {
			first = &partFailed{step: step, err: err}
		}
		mu.Unlock()
		cancel()
	}

	var (
		once       sync.Once
		done       = make(chan struct{})
		upErr      error
		upDuration time.Duration
	)
	startCopy := func() {
		once.Do(func() {
			mu.Lock()
			started, copying = true, true
			show()
			mu.Unlock()
			go func() {
				defer close(done)
				start := time.Now()
				err := ctx.Err()
				if err == nil {
					err = r.snapshotFiles(ctx)
				}
				upErr, upDuration = err, time.Since(start)
				mu.Lock()
				copying = false
				show()
				mu.Unlock()
				if err != nil {
					failed(StepUploads, err)
				}
			}()
		})
	}

	start := time.Now()
	r.dumpData = startCopy
	dumpErr := r.dumpDatabase(ctx)
	r.dumpData = nil
	dumpDuration := time.Since(start)
	mu.Lock()
	dumping = false
	show()
	mu.Unlock()
	if dumpErr != nil {
		failed(StepDatabase, dumpErr)
	} else {
		// A dump is accepted only if it wrote something, so the copy has
		// started; this keeps the uploads step should the first-bytes hook
		// ever not be called.
		startCopy()
	}
	mu.Lock()
	copied := started
	mu.Unlock()
	if copied {
		<-done
	}

	r.rep.Steps = append(r.rep.Steps, manifest.Step{Name: StepDatabase, Seconds: dumpDuration.Seconds()})
	if copied {
		r.rep.Steps = append(r.rep.Steps, manifest.Step{Name: StepUploads, Seconds: upDuration.Seconds()})
	}
	if first == nil {
		return nil
	}
	// Say that the other step was stopped, unless the whole run was.
	other, otherErr := StepUploads, upErr
	if first.step == StepUploads {
		other, otherErr = StepDatabase, dumpErr
	}
	if otherErr != nil && parent.Err() == nil {
		r.log.Info(other+" step stopped: the "+first.step+" step failed", "step", other)
	}
	return first
}

// sawDumpData is called as the dump's raw bytes arrive (dump.go).
func (r *run) sawDumpData() {
	if r.dumpData != nil {
		r.dumpData()
	}
}
