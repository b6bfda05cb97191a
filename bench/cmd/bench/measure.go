package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
)

// runSpec is one measured child process.
type runSpec struct {
	Argv     []string
	Env      []string
	Dir      string
	Log      string // stdout and stderr are appended here
	DiskPath string // statfs is sampled on this path's filesystem
	LockFile string // if set, /proc/locks is polled for a lock on this file
}

// sample is what one run measured.
type sample struct {
	Wall      float64 // seconds
	CPU       float64 // user+sys seconds of the child and its waited-for descendants
	Sys       float64 // of which system (kernel) time
	Flush     float64 // seconds a sync(2) right after the run took
	MaxRSS    float64 // MiB: the largest single process of the tree (wait4's ru_maxrss)
	PeakDisk  float64 // MiB above the filesystem's use before the run
	DiskAdded float64 // MiB: use after the run minus use before
	LockHeld  float64 // seconds the lock file was flock'ed (-1: not measured)
	Stdout    string
}

// diskUsed returns the bytes in use on path's filesystem. ext4 counts
// delayed-allocation blocks as used, so data still in the page cache shows.
func diskUsed(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks-st.Bfree) * int64(st.Bsize), nil
}

// measure runs spec as a child process and measures it. A non-zero exit is
// an error; the sample is still returned.
func measure(spec runSpec) (sample, error) {
	s := sample{LockHeld: -1}
	logf, err := os.OpenFile(spec.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return s, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "### %s\n### %s\n", time.Now().Format(time.RFC3339), strings.Join(spec.Argv, " "))

	// The child runs under the rusage-exec wrapper (this same binary), which
	// reports the child's wait4 rusage on fd 3. A child's ru_maxrss starts
	// from the RSS of the process that spawned it, so a small fresh wrapper
	// keeps the harness's own memory out of the figures.
	self, err := os.Executable()
	if err != nil {
		return s, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return s, err
	}
	defer pr.Close()
	cmd := exec.Command(self, append([]string{"rusage-exec", "--"}, spec.Argv...)...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.ExtraFiles = []*os.File{pw}
	var stdout bytes.Buffer
	cmd.Stdout = io.MultiWriter(&stdout, logf)
	cmd.Stderr = logf
	quietDisk(spec.DiskPath) // start every run with no dirty data of earlier ones

	used0, err := diskUsed(spec.DiskPath)
	if err != nil {
		return s, fmt.Errorf("statfs %s: %w", spec.DiskPath, err)
	}
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		peak = used0
	)
	wg.Add(1)
	go func() { // 20 ms disk sampler
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if u, err := diskUsed(spec.DiskPath); err == nil && u > peak {
					peak = u
				}
			}
		}
	}()
	var lockFirst, lockLast time.Time
	if spec.LockFile != "" {
		key, err := lockKey(spec.LockFile)
		if err != nil {
			close(stop)
			wg.Wait()
			return s, err
		}
		wg.Add(1)
		go func() { // 1 ms /proc/locks poller
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if data, err := os.ReadFile("/proc/locks"); err == nil && bytes.Contains(data, key) {
					now := time.Now()
					if lockFirst.IsZero() {
						lockFirst = now
					}
					lockLast = now
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	start := time.Now()
	runErr := startTracked(cmd)
	pw.Close()
	var ru rusageReport
	if runErr == nil {
		json.NewDecoder(pr).Decode(&ru)
		runErr = waitTracked(cmd)
	}
	s.Wall = time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	// The final use after a sync: deferred frees (ext4 releases a deleted
	// file's blocks at the next journal commit) are counted for the run
	// that caused them.
	if u, err := diskUsed(spec.DiskPath); err == nil && u > peak {
		peak = u
	}
	// What it costs to make the run's writes durable after it exits: zero
	// for a program that synced before exiting, the writeback of its dirty
	// data for one that did not.
	t := time.Now()
	syscall.Sync()
	s.Flush = time.Since(t).Seconds()
	quietDisk(spec.DiskPath)
	if u, err := diskUsed(spec.DiskPath); err == nil {
		if u > peak {
			peak = u
		}
		s.DiskAdded = mib(u - used0)
	}
	s.PeakDisk = mib(peak - used0)
	if spec.LockFile != "" {
		s.LockHeld = 0
		if !lockFirst.IsZero() {
			s.LockHeld = lockLast.Sub(lockFirst).Seconds() + 0.001
		}
	}
	if ru.OK {
		s.Wall, s.CPU, s.Sys, s.MaxRSS = ru.Wall, ru.CPU, ru.Sys, ru.MaxRSSKiB/1024
	} else if runErr == nil {
		runErr = errors.New("the rusage-exec wrapper reported nothing")
	}
	s.Stdout = stdout.String()
	fmt.Fprintf(logf, "### exit: %v, wall %.3fs\n", runErr, s.Wall)
	if runErr != nil {
		return s, fmt.Errorf("%s: %w (log: %s)\n%s", filepath.Base(spec.Argv[0]), runErr, spec.Log, tail(spec.Log, 25))
	}
	return s, nil
}

// rusageReport is what the rusage-exec wrapper writes on fd 3.
type rusageReport struct {
	OK        bool    `json:"ok"`
	Wall      float64 `json:"wall"`
	CPU       float64 `json:"cpu"`
	Sys       float64 `json:"sys"`
	MaxRSSKiB float64 `json:"maxrss_kib"`
}

// rusageExec is the hidden "rusage-exec -- CMD ARGS..." subcommand: run
// CMD with this process's stdio, environment and folder, wait for it, and
// write its wait4 rusage (CPU of the whole waited-for tree; ru_maxrss, the
// largest process of the tree) as JSON on fd 3. The exit code is CMD's.
func rusageExec(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "rusage-exec: no command")
		return 2
	}
	syscall.CloseOnExec(3) // not for CMD
	report := os.NewFile(3, "rusage")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	var r rusageReport
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r = rusageReport{OK: true, Wall: wall, CPU: tv(ru.Utime) + tv(ru.Stime), Sys: tv(ru.Stime), MaxRSSKiB: float64(ru.Maxrss)}
		}
	}
	if report != nil {
		json.NewEncoder(report).Encode(r)
		report.Close()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "rusage-exec:", err)
		return 127
	}
	return 0
}

// quietDisk flushes dirty data and waits (at most 2 s) until the
// filesystem's use holds still for 100 ms, so that writeback and deferred
// frees of an earlier run do not land in the next one.
func quietDisk(path string) {
	syscall.Sync()
	last, _ := diskUsed(path)
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Millisecond)
		u, _ := diskUsed(path)
		if d := u - last; d > -(256<<10) && d < 256<<10 {
			return
		}
		last = u
	}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// lockKey is how /proc/locks names an flock on path: "FLOCK ... maj:min:ino".
func lockKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return fmt.Appendf(nil, " %02x:%02x:%d ", major, minor, st.Ino), nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    | " + strings.Join(lines, "\n    | ")
}

// stat is the median and spread of one metric.
type stat struct {
	Median, Min, Max float64
	N                int
}

func summarize(xs []float64) stat {
	if len(xs) == 0 {
		return stat{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// run runs a helper command (untimed), failing with its output.
func run(env []string, dir string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := runTracked(cmd); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, capbuf.LastLines(out.String(), 15))
	}
	return out.String(), nil
}

// treeStats walks root and returns the number of regular files and their
// total apparent size.
func treeStats(root string) (files, bytes int64, err error) {
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}

// removeAll removes a tree, making folders writable first if needed.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
