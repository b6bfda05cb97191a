package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Every child runs in its own process group, registered here, so that on
// SIGINT/SIGTERM/SIGHUP the harness can stop it and everything it started
// (pg_dump, gzip, rsync, psql) before exiting: nothing keeps running
// against a cluster and a folder that run.sh is about to delete.
var (
	groupsMu sync.Mutex
	groups   = map[int]bool{}
	stopping bool
)

var errInterrupted = errors.New("interrupted")

// startTracked starts cmd in a new process group and registers it.
func startTracked(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	groupsMu.Lock()
	defer groupsMu.Unlock()
	if stopping {
		return errInterrupted
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	groups[cmd.Process.Pid] = true
	return nil
}

// waitTracked waits for a command started by startTracked.
func waitTracked(cmd *exec.Cmd) error {
	err := cmd.Wait()
	groupsMu.Lock()
	delete(groups, cmd.Process.Pid)
	groupsMu.Unlock()
	return err
}

func runTracked(cmd *exec.Cmd) error {
	if err := startTracked(cmd); err != nil {
		return err
	}
	return waitTracked(cmd)
}

// handleSignals stops the running children on a signal, then exits 130.
func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-ch
		logf("%v: stopping the running commands and exiting", sig)
		groupsMu.Lock()
		stopping = true
		var pgids []int
		for g := range groups {
			pgids = append(pgids, g)
		}
		groupsMu.Unlock()
		for _, g := range pgids {
			syscall.Kill(-g, syscall.SIGTERM)
		}
		deadline := time.Now().Add(15 * time.Second)
		for _, g := range pgids {
			for syscall.Kill(-g, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			syscall.Kill(-g, syscall.SIGKILL)
		}
		os.Exit(130)
	}()
}
