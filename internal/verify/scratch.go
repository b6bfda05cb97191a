package verify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// A scratch database holds a full copy of the production data outside the
// backups' permissions and retention, so one left by a run that was killed
// must not linger. Each is marked, right after it is created, with a
// comment naming the process that made it; a later restore test drops the
// marked ones whose process is gone. A database without the mark (one a
// user made, or named with --scratch-db before the mark was set) is never
// touched. The mark is set by a second statement, so a run killed in the
// few milliseconds between the two leaves an unmarked database behind.

// scratchMark starts the comment of every scratch database.
const scratchMark = "directus-backup restore-test scratch database;"

// owner identifies a process across PID reuse: host, PID and the kernel's
// start time of the process.
type owner struct {
	host, pid, start string
}

func (o owner) String() string {
	return fmt.Sprintf("%s host=%s pid=%s start=%s", scratchMark, o.host, o.pid, o.start)
}

// self is this process.
func self() owner {
	host, _ := os.Hostname()
	pid := strconv.Itoa(os.Getpid())
	start, _ := procStart(pid)
	return owner{host: host, pid: pid, start: start}
}

// parseOwner reads a mark back.
func parseOwner(comment string) (owner, bool) {
	rest, ok := strings.CutPrefix(comment, scratchMark)
	if !ok {
		return owner{}, false
	}
	var o owner
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "host":
			o.host = v
		case "pid":
			o.pid = v
		case "start":
			o.start = v
		}
	}
	return o, o.host != "" && o.pid != "" && o.start != ""
}

// alive reports whether o is a running process on this host. A mark from
// another host is taken as alive: its process cannot be checked from here.
func (o owner) alive() bool {
	if host, _ := os.Hostname(); o.host != host {
		return true
	}
	start, ok := procStart(o.pid)
	return ok && start == o.start
}

// procStart returns the start time (field 22 of /proc/PID/stat, in clock
// ticks since boot) of a process.
func procStart(pid string) (string, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", false
	}
	return f[19], true // field 22 is the 20th after the name
}

// markScratch sets the owner mark on a scratch database just created.
func markScratch(ctx context.Context, t pgexec.Target, name string) error {
	_, err := restore.Query(ctx, t.WithDatabase("postgres"),
		"COMMENT ON DATABASE "+restore.QuoteIdent(name)+" IS "+quoteLiteral(self().String()))
	if err != nil {
		return fmt.Errorf("mark scratch database %s: %w", name, err)
	}
	return nil
}

// DropLeftoverScratch drops the scratch databases on t's server that
// earlier restore tests made and whose process is gone. It returns the
// names it dropped, and what it could not drop (a leftover is no reason
// to skip this test).
func DropLeftoverScratch(ctx context.Context, t pgexec.Target) (dropped, failed []string, err error) {
	out, err := restore.Query(ctx, t.WithDatabase("postgres"),
		`SELECT datname || '|' || shobj_description(oid, 'pg_database') FROM pg_database
		 WHERE shobj_description(oid, 'pg_database') LIKE `+quoteLiteral(scratchMark+"%"))
	if err != nil {
		return nil, nil, fmt.Errorf("look for scratch databases left by earlier runs: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		name, comment, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		o, ok := parseOwner(comment)
		if !ok || o.alive() {
			continue
		}
		if err := restore.DropDatabase(ctx, t, name); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		dropped = append(dropped, name)
	}
	return dropped, failed, nil
}

// LogLeftovers says which scratch databases of earlier, killed runs the
// restore test dropped, or could not.
func (r RestoreTestResult) LogLeftovers(log *slog.Logger) {
	for _, n := range r.LeftoversDropped {
		log.Warn("dropped a scratch database left by an earlier restore test that was killed", "database", n)
	}
	for _, n := range r.LeftoversKept {
		log.Warn("could not drop a scratch database left by an earlier restore test", "database", n)
	}
}
