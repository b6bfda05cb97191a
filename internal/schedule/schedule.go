// Package schedule runs jobs on cron schedules in the foreground, one run at
// a time: a run that falls due while the same job is still running is
// skipped (and logged), so a slow backup cannot pile up runs behind it; a
// run of another job due meanwhile is queued once and starts when the
// running one ends (a weekly verify due during the nightly backup).
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
)

// Parse reads a schedule: standard 5-field cron (minute hour day-of-month
// month day-of-week, as crontab), a descriptor (@yearly, @monthly, @weekly,
// @daily, @hourly) or @every <duration> (e.g. @every 1h30m).
func Parse(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

// Clock is the time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Job is one scheduled task.
type Job struct {
	Name     string // "backup", "verify": used in the log
	Schedule cron.Schedule
	Run      func(ctx context.Context) error
}

// Options are Run's optional parts.
type Options struct {
	Clock Clock        // default: the real clock
	Log   *slog.Logger // default: discard
	// Done, when set, is called after each run with its outcome (the command
	// uses it for --json).
	Done func(name string, started, finished time.Time, err error)
}

type result struct {
	name    string
	started time.Time
	err     error
}

// Run runs jobs at their scheduled times until ctx is done. Only one run
// happens at a time; a job due while it is itself running is skipped with
// a warning, a job due while another one runs is queued (once) and starts
// when that one ends. When ctx is done, Run waits for the running job (which gets the
// cancelled ctx and rolls itself back) and returns ctx's error.
func Run(ctx context.Context, jobs []Job, opt Options) error {
	clock := opt.Clock
	if clock == nil {
		clock = realClock{}
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(jobs) == 0 {
		return fmt.Errorf("no schedule to run")
	}
	next := make([]time.Time, len(jobs))
	now := clock.Now()
	for i, j := range jobs {
		next[i] = j.Schedule.Next(now)
		if next[i].IsZero() {
			return fmt.Errorf("schedule of %s never fires", j.Name)
		}
		log.Info("next run", "job", j.Name, "at", next[i].Format(time.RFC3339))
	}
	var running chan result // nil while idle
	current := -1           // the running job's index
	var queued []int        // jobs due while another job ran, in order
	start := func(i int) {
		j := jobs[i]
		running = make(chan result, 1)
		current = i
		started := clock.Now()
		log.Info("run starting", "job", j.Name)
		go func(ch chan<- result) {
			ch <- result{name: j.Name, started: started, err: j.Run(ctx)}
		}(running)
	}
	for {
		// The earliest due job.
		first := 0
		for i := range next {
			if next[i].Before(next[first]) {
				first = i
			}
		}
		var timer <-chan time.Time
		if d := next[first].Sub(clock.Now()); d > 0 {
			timer = clock.After(d)
		} else {
			ch := make(chan time.Time, 1)
			ch <- clock.Now()
			timer = ch
		}
		select {
		case <-ctx.Done():
			if running != nil {
				log.Info("stopping: waiting for the running job to stop")
				r := <-running
				finished(log, opt, jobs, next, r, clock.Now())
			}
			for _, i := range queued {
				log.Info("queued run not started: stopping", "job", jobs[i].Name)
			}
			log.Info("scheduler stopped")
			return ctx.Err()
		case r := <-running:
			running = nil
			finished(log, opt, jobs, next, r, clock.Now())
			if len(queued) > 0 {
				i := queued[0]
				queued = queued[1:]
				start(i)
			}
		case <-timer:
			j := jobs[first]
			due := next[first]
			next[first] = j.Schedule.Next(clock.Now())
			if running != nil {
				if first != current && !slices.Contains(queued, first) {
					// Another job (a verify due during the nightly backup):
					// it runs right after, rather than waiting a week.
					queued = append(queued, first)
					log.Info("run queued: another job is running", "job", j.Name, "running", jobs[current].Name,
						"due", due.Format(time.RFC3339))
					continue
				}
				log.Warn("run skipped: the previous run is still running", "job", j.Name,
					"due", due.Format(time.RFC3339), "next", next[first].Format(time.RFC3339))
				continue
			}
			start(first)
		}
	}
}

func finished(log *slog.Logger, opt Options, jobs []Job, next []time.Time, r result, now time.Time) {
	if r.err != nil {
		log.Error("run failed", "job", r.name, "err", r.err)
	} else {
		log.Info("run finished", "job", r.name, "duration", now.Sub(r.started).Round(time.Millisecond).String())
	}
	if opt.Done != nil {
		opt.Done(r.name, r.started, now, r.err)
	}
	for i, j := range jobs {
		log.Info("next run", "job", j.Name, "at", next[i].Format(time.RFC3339))
	}
}
