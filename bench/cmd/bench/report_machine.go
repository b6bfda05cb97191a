package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// fsType names the filesystem of path and its device, from the longest
// mount point of /proc/self/mounts that holds it.
func fsType(path string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "?"
	}
	best, typ := "", "?"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, typ = mp, f[2]+" on "+f[0]+", mounted at "+mp
		}
	}
	return typ
}

// pageCacheNote says whether DAMON proactive reclaim (pageout of cold
// page cache) is running: then "warm cache" is not guaranteed, since files
// not read for a few seconds are dropped and read from disk again.
func pageCacheNote() string {
	states, _ := filepath.Glob("/sys/kernel/mm/damon/admin/kdamonds/*/state")
	for _, st := range states {
		data, _ := os.ReadFile(st)
		if strings.TrimSpace(string(data)) != "on" {
			continue
		}
		actions, _ := filepath.Glob(filepath.Join(filepath.Dir(st), "contexts/*/schemes/*/action"))
		for _, a := range actions {
			if act, _ := os.ReadFile(a); strings.TrimSpace(string(act)) == "pageout" {
				return "**DAMON proactive reclaim is on** (pageout of cold pages): files not read for a few seconds leave the " +
					"page cache, so timed runs can read from disk even after the warm-up; IO-heavy scenarios vary more"
			}
		}
	}
	return "not dropped; no proactive reclaim (DAMON pageout) detected"
}

func (h *harness) machine() [][2]string {
	cpu := strings.TrimLeft(readFirst("/proc/cpuinfo", "model name"), ": \t")
	mem := readFirst("/proc/meminfo", "MemTotal:")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(mem, " kB"), 64); err == nil {
		mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	server, _ := h.db.query("postgres", "SHOW server_version")
	var st syscall.Statfs_t
	free := ""
	if syscall.Statfs(h.work, &st) == nil {
		free = fmt.Sprintf(", %.0f GiB free", float64(st.Bavail)*float64(st.Bsize)/(1<<30))
	}
	return [][2]string{
		{"CPU", fmt.Sprintf("%s, %d logical CPUs (nproc)", cpu, runtime.NumCPU())},
		{"memory", mem},
		{"OS / kernel", strings.Trim(readFirst("/etc/os-release", "PRETTY_NAME="), `"`) + " / Linux " + strings.TrimSpace(string(kernel))},
		{"bench filesystem", fsType(h.work) + " (" + h.work + free + ")"},
		{"measurement floor", fmt.Sprintf("a trivial command (`true`) measures %.1f MiB peak RSS and %.3f s wall through the harness", h.floorRSS, h.floorWall)},
		{"page cache", pageCacheNote()},
		{"load", h.loadRow()},
		{"Go", runtime.Version()},
		{"PostgreSQL", "server " + server + "; " + firstLine("pg_dump", "--version") + "; " + firstLine("psql", "--version")},
		{"gzip", firstLine("gzip", "--version")},
		{"rsync", firstLine("rsync", "--version")},
		{"directus-backup", firstLine(h.cfg.Tool, "version") + map[bool]string{true: " (lists zstd)", false: " (no zstd)"}[h.hasZstd]},
	}
}
