package verify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/testpg"
)

// Only scratch databases the tool made and whose run is over are dropped:
// named <DB_DATABASE>_verify_<8 hex>, marked, and either made on this
// machine by a process that is gone, or made elsewhere (another container,
// another host: the process cannot be checked) more than 24 hours ago.
// DB_DATABASE itself is never dropped, whatever its comment says, and a
// leftover named with --scratch-db is reported, not dropped.
func TestDropLeftoverScratchOnlyOurs(t *testing.T) {
	s := testpg.Get(t)
	ctx := context.Background()
	db := testpg.UniqueName("dls")
	target := pgexec.Target{Host: s.Host, Port: s.Port, User: s.User, Password: s.Password, Database: db, Method: pgexec.MethodLocal}

	// A process that has exited: its mark is a dead run's.
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := c.Process.Pid
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	here := func(pid int, start string, at time.Time) string {
		return fmt.Sprintf("host=%s pid=%d start=%s boot=%s pidns=%s time=%d", host, pid, start, strings.TrimSpace(string(boot)), ns, at.Unix())
	}
	stat, _ := os.ReadFile("/proc/self/stat")
	myStart := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])[19]
	now := time.Now()
	elsewhere := func(at time.Time) string {
		return fmt.Sprintf("host=c0ffee123456 pid=7 start=1234 boot=00000000-1111-2222-3333-444444444444 pidns=4026531999 time=%d", at.Unix())
	}
	cases := []struct {
		name, mark string
		dropped    bool
	}{
		{db, here(dead, "1", now), false},                                    // the configured database
		{db + "_verify_0000000a", here(dead, "1", now), true},                // a dead run here
		{db + "_verify_0000000b", elsewhere(now.Add(-25 * time.Hour)), true}, // elsewhere, long ago
		{db + "_verify_0000000c", elsewhere(now.Add(-time.Hour)), false},     // elsewhere, may still run
		{db + "_verify_0000000d", "host=c0ffee123456 pid=7 start=1234", false},
		{db + "_verify_0000000e", here(os.Getpid(), myStart, now), false}, // a live run
		{db + "_custom", here(dead, "1", now), false},                     // named with --scratch-db
		{"other_verify_0000000f", here(dead, "1", now), false},            // another DB_DATABASE's
		{db + "_verify_0000000g", "", false},                              // not marked
	}
	for _, c := range cases {
		s.CreateDB(t, c.name, "")
		if c.mark != "" {
			s.MustExec(t, "postgres", fmt.Sprintf("COMMENT ON DATABASE %q IS '%s %s'", c.name, scratchMark, c.mark))
		}
	}
	dropped, kept, err := DropLeftoverScratch(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		return s.MustExec(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+name+"'") == "1"
	}
	for _, c := range cases {
		if exists(c.name) == c.dropped {
			t.Errorf("%s (%q): exists %v; want dropped %v", c.name, c.mark, exists(c.name), c.dropped)
		}
		if slices.Contains(dropped, c.name) != c.dropped {
			t.Errorf("%s: in dropped %v; want %v", c.name, dropped, c.dropped)
		}
	}
	if len(kept) != 1 || !strings.Contains(kept[0], db+"_custom") || !strings.Contains(kept[0], "--scratch-db") {
		t.Errorf("not dropped = %q; want the --scratch-db leftover, saying why", kept)
	}
}
