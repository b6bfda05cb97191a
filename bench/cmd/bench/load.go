package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadGen is the --load N background: N CPU-bound "bench burn" processes,
// each in its own process group (registered, so a signal to the harness
// stops them with every other child).
type loadGen struct{ cmds []*exec.Cmd }

// startLoad starts n burners.
func startLoad(n int) (*loadGen, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	l := &loadGen{}
	for i := 0; i < n; i++ {
		cmd := exec.Command(self, "burn")
		cmd.Env = []string{"GOMAXPROCS=1"}
		if err := startTracked(cmd); err != nil {
			l.stop()
			return nil, fmt.Errorf("load: starting burner %d: %w", i+1, err)
		}
		l.cmds = append(l.cmds, cmd)
	}
	return l, nil
}

// stop kills every burner's process group and reaps it.
func (l *loadGen) stop() {
	if l == nil {
		return
	}
	for _, c := range l.cmds {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		waitTracked(c)
	}
	l.cmds = nil
}

var burnSink uint64

// burn is the hidden "burn" subcommand: one core kept busy until it is
// killed, or until its parent is gone (re-parented), so that a harness
// killed outright leaves no burner behind.
func burn() int {
	parent := os.Getppid()
	x := uint64(1)
	for {
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			for i := 0; i < 1<<16; i++ {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		burnSink = x // used, so the loop is not optimized away
		if os.Getppid() != parent {
			return 0
		}
	}
}

// loadSampler samples /proc/loadavg while a run goes on: the number of
// runnable tasks every 250 ms (the instantaneous load; it counts the
// sampler itself), and the 1-minute load average at the end.
type loadSampler struct {
	stopc    chan struct{}
	done     chan struct{}
	runnable []float64
	avg1     float64
}

func startLoadSampler() *loadSampler {
	s := &loadSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if a, r, ok := readLoadavg(); ok {
				s.avg1 = a
				s.runnable = append(s.runnable, r)
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the mean runnable count and the last
// 1-minute load average (NaN-free: ok is false without samples).
func (s *loadSampler) stop() (runnable, avg1 float64, ok bool) {
	close(s.stopc)
	<-s.done
	if len(s.runnable) == 0 {
		return 0, 0, false
	}
	var sum float64
	for _, r := range s.runnable {
		sum += r
	}
	return sum / float64(len(s.runnable)), s.avg1, true
}

// readLoadavg parses "0.52 0.58 0.59 2/345 12345".
func readLoadavg() (avg1, runnable float64, ok bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 4 {
		return 0, 0, false
	}
	a, err1 := strconv.ParseFloat(f[0], 64)
	r, _, _ := strings.Cut(f[3], "/")
	n, err2 := strconv.ParseFloat(r, 64)
	return a, n, err1 == nil && err2 == nil
}

// loadRow is the machine table's line on the load during the runs.
func (h *harness) loadRow() string {
	var what string
	if h.cfg.Load > 0 {
		what = fmt.Sprintf("**loaded**: `--load %d`, %d CPU-bound busy process(es) (`bench burn`) ran during every timed and warm-up run; ", h.cfg.Load, h.cfg.Load)
	} else {
		what = "not loaded on purpose (no `--load`); "
	}
	if len(h.runAvg1) == 0 {
		return what + "no load sampled"
	}
	return what + fmt.Sprintf("sampled during the runs: runnable tasks (from /proc/loadavg, every 250 ms, the sampler included) mean %s, "+
		"1-minute load average at the end of a run %s (median (min–max) over %d runs)",
		cell(h.runRunnable), cell(h.runAvg1), len(h.runAvg1))
}
