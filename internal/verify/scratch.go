package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/pgexec"
	"github.com/directus-backup/directus-backup/internal/restore"
)

// A scratch database holds a full copy of the production data outside the
// backups' permissions and retention, so one left by a run that was killed
// must not linger. Each is marked, right after it is created, with a
// comment naming the process that made it; a later restore test drops the
// marked ones whose run is over (see gone). Only names the tool makes,
// <DB_DATABASE>_verify_<8 hex digits>, are ever dropped, and never
// DB_DATABASE itself: a comment is easy to set (the owner of a database
// can), so the mark alone must not be able to get any other database
// dropped. A database without the mark (one a user made) is never
// touched. The mark is set by a second statement, so a run killed in the
// few milliseconds between the two leaves an unmarked database behind.

// scratchMark starts the comment of every scratch database.
const scratchMark = "directus-backup restore-test scratch database;"

// foreignScratchAge is how old a scratch database made on another machine
// or in another container (whose process cannot be checked from here) must
// be before it is taken as a leftover: far longer than a restore test runs.
const foreignScratchAge = 24 * time.Hour

// owner identifies the process that made a scratch database: its PID and
// the kernel's start time of the process (which tell PID reuse apart),
// valid within one PID namespace of one boot of one kernel; the host name
// is for people reading the comment.
type owner struct {
	host, pid, start string
	boot, pidns      string    // empty in marks of earlier versions
	made             time.Time // zero in marks of earlier versions
}

func (o owner) String() string {
	return fmt.Sprintf("%s host=%s pid=%s start=%s boot=%s pidns=%s time=%d",
		scratchMark, o.host, o.pid, o.start, o.boot, o.pidns, o.made.Unix())
}

// self is this process.
func self() owner {
	host, _ := os.Hostname()
	pid := strconv.Itoa(os.Getpid())
	start, _ := procStart(pid)
	boot, pidns := machine()
	return owner{host: host, pid: pid, start: start, boot: boot, pidns: pidns, made: time.Now()}
}

// machine returns this kernel's boot ID and this process's PID namespace:
// together, where a PID means the same process. (A container may share the
// host's name, with --network host, but not its PIDs.)
func machine() (boot, pidns string) {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		boot = strings.TrimSpace(string(b))
	}
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil { // "pid:[4026531836]"
		pidns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	}
	return boot, pidns
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
		case "boot":
			o.boot = v
		case "pidns":
			o.pidns = v
		case "time":
			if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec > 0 {
				o.made = time.Unix(sec, 0)
			}
		}
	}
	return o, o.host != "" && o.pid != "" && o.start != ""
}

// gone reports whether the run that made o's database is over. Made where
// its PID can be checked (same boot, same PID namespace): when that process
// is gone. Made elsewhere (another container, say one with a random host
// name per run, or another machine): when it is older than
// foreignScratchAge. A mark of an earlier version (no boot ID) is checked
// by host name as before, and kept when made elsewhere: its age is unknown.
func (o owner) gone(now time.Time) bool {
	boot, pidns := machine()
	var here bool
	if o.boot == "" {
		host, _ := os.Hostname()
		if o.host != host {
			return false
		}
		here = true
	} else {
		here = o.boot == boot && o.pidns == pidns && boot != "" && pidns != ""
	}
	if !here {
		return !o.made.IsZero() && now.Sub(o.made) > foreignScratchAge
	}
	start, ok := procStart(o.pid)
	return !ok || start != o.start
}

// ScratchName is the name of a throwaway database for a restore test of
// db: unique, and within PostgreSQL's 63-byte limit.
func ScratchName(db string) string {
	b := make([]byte, 4)
	rand.Read(b)
	if len(db) > 40 {
		db = db[:40]
	}
	return db + "_verify_" + hex.EncodeToString(b)
}

// scratchNameRE matches the names ScratchName makes after
// the database's name (cut to 40 bytes): _verify_ and 8 hex digits.
var scratchNameRE = regexp.MustCompile(`^_verify_[0-9a-f]{8}$`)

// anyScratchNameRE matches the names made for any database.
var anyScratchNameRE = regexp.MustCompile(`.+_verify_[0-9a-f]{8}$`)

// isScratchName reports whether name is one the tool makes for scratch
// databases of db. db itself never is.
func isScratchName(db, name string) bool {
	if db == "" || name == db {
		return false
	}
	if len(db) > 40 {
		db = db[:40]
	}
	rest, ok := strings.CutPrefix(name, db)
	return ok && scratchNameRE.MatchString(rest)
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
// earlier restore tests made and whose run is over (see gone), among the
// names made for t.Database (DB_DATABASE), which itself is never dropped.
// It returns the names it dropped, and what it left with why: those it
// could not drop, and leftovers named with --scratch-db (a leftover is no
// reason to skip this test).
func DropLeftoverScratch(ctx context.Context, t pgexec.Target) (dropped, failed []string, err error) {
	// Name and comment hex-encoded, as the server stores them: a name may
	// hold a newline or the separator.
	out, err := restore.Query(ctx, t.WithDatabase("postgres"),
		`SELECT encode(convert_to(datname::text, getdatabaseencoding()), 'hex') || ' ' ||
		        encode(convert_to(shobj_description(oid, 'pg_database'), getdatabaseencoding()), 'hex')
		 FROM pg_database
		 WHERE shobj_description(oid, 'pg_database') LIKE `+quoteLiteral(scratchMark+"%"))
	if err != nil {
		return nil, nil, fmt.Errorf("look for scratch databases left by earlier runs: %w", err)
	}
	now := time.Now()
	for _, line := range strings.Split(out, "\n") {
		hn, hc, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		bn, err1 := hex.DecodeString(hn)
		bc, err2 := hex.DecodeString(hc)
		if err1 != nil || err2 != nil {
			continue
		}
		name := string(bn)
		o, ok := parseOwner(string(bc))
		if !ok || name == t.Database || !o.gone(now) {
			continue
		}
		if !isScratchName(t.Database, name) {
			if anyScratchNameRE.MatchString(name) {
				continue // another DB_DATABASE's: its own runs drop it
			}
			failed = append(failed, fmt.Sprintf("%q: a scratch database of an earlier restore test that is over, named with --scratch-db; the tool drops only %s_verify_* names: drop it yourself", name, t.Database))
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
		log.Warn("a scratch database left by an earlier restore test was not dropped", "detail", n)
	}
}
