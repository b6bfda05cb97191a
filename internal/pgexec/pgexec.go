// Package pgexec runs PostgreSQL's client programs (pg_dump, psql) against
// the configured server: on this host, or inside the database's docker
// compose service as the original backup.sh does. Connection settings travel in
// libpq's PG* environment variables, never in arguments that ps shows; for
// docker the password is passed through by name (-e PGPASSWORD), and the
// user and database, which are not secret, as -U and -d (older Compose
// releases ignore -e NAME without a value; then only the password is lost,
// which the database container's local trust usually does not need).
package pgexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Methods of running the client programs.
const (
	MethodLocal  = "local"
	MethodDocker = "docker"
)

// Target says which database to reach and how.
type Target struct {
	Host, Port, User, Password, Database string
	// TLS and session settings, as libpq's PG* variables ("" = not set).
	// The docker method reaches the server through the container's own
	// socket, where TLS does not apply: it passes only Options.
	SSLMode, SSLRootCert, SSLCert, SSLKey string
	Options                               string // PGOPTIONS (search_path)
	AppName, ConnectTimeout               string

	Method string // MethodLocal or MethodDocker
	// BinDir holds the client programs for the local method ("" = PATH):
	// the pg_dump matched to the server, and the psql beside it.
	BinDir      string
	ComposeFile string // docker only; used when ComposeFiles is empty
	Service     string // docker only
	// ComposeFiles are passed as -f each, Project as -p (docker only).
	ComposeFiles []string
	Project      string
	// Compose is the compose program and its leading arguments:
	// {"docker", "compose"} (the default) or {"docker-compose"}.
	Compose []string
}

// ComposeArgv returns the compose command line up to the subcommand:
// docker compose -f a -f b [-p name].
func (t Target) ComposeArgv() []string {
	argv := append([]string(nil), t.Compose...)
	if len(argv) == 0 {
		argv = []string{"docker", "compose"}
	}
	files := t.ComposeFiles
	if len(files) == 0 {
		files = []string{t.ComposeFile}
	}
	for _, f := range files {
		argv = append(argv, "-f", f)
	}
	if t.Project != "" {
		argv = append(argv, "-p", t.Project)
	}
	return argv
}

// WithDatabase returns t aimed at another database on the same server.
func (t Target) WithDatabase(name string) Target {
	t.Database = name
	return t
}

// Program returns the executable a command for t starts: docker for the
// docker method, the client program itself otherwise.
func (t Target) Program(program string) string {
	if t.Method == MethodDocker {
		return t.ComposeArgv()[0]
	}
	if t.BinDir != "" {
		return filepath.Join(t.BinDir, program)
	}
	return program
}

// Command returns a command running program with args against t. A
// cancelled ctx stops it and everything it started: it runs in its own
// process group (so a terminal's Ctrl-C reaches only us, and we decide),
// the group gets SIGTERM, and whatever lingers after WaitDelay is killed.
//
// With the docker method, stopping the local docker client does not stop
// the program inside the container (docker compose exec does not forward
// signals reliably), so pg_dump gets a marker on its command line (an
// application_name in its -d connection string, also seen in
// pg_stat_activity) and a cancel runs a second exec that sends SIGTERM to
// the container's processes carrying it (StopInContainer).
func (t Target) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	env := childEnv(os.Environ())
	var cmd *exec.Cmd
	marker := ""
	if t.Method == MethodDocker {
		// Inside the database container the client reaches the server
		// through its own socket: host and port are not passed.
		compose := t.ComposeArgv()
		argv := append(compose[1:], "exec", "-T")
		if t.Password != "" {
			argv = append(argv, "-e", "PGPASSWORD")
			env = append(env, "PGPASSWORD="+t.Password)
		}
		if t.Options != "" {
			argv = append(argv, "-e", "PGOPTIONS")
			env = append(env, "PGOPTIONS="+t.Options)
		}
		argv = append(argv, t.Service, program)
		if t.User != "" {
			argv = append(argv, "-U", t.User)
		}
		if program == "pg_dump" {
			marker = newMarker()
			conn := "application_name=" + marker
			if t.Database != "" {
				conn = "dbname=" + conninfoQuote(t.Database) + " " + conn
			}
			argv = append(argv, "-d", conn)
		} else if t.Database != "" {
			argv = append(argv, "-d", t.Database)
		}
		cmd = exec.CommandContext(ctx, compose[0], append(argv, args...)...)
	} else {
		vars := [][2]string{{"PGHOST", t.Host}, {"PGPORT", t.Port}, {"PGUSER", t.User},
			{"PGPASSWORD", t.Password}, {"PGDATABASE", t.Database},
			{"PGSSLMODE", t.SSLMode}, {"PGSSLROOTCERT", t.SSLRootCert}, {"PGSSLCERT", t.SSLCert}, {"PGSSLKEY", t.SSLKey},
			{"PGOPTIONS", t.Options}, {"PGAPPNAME", t.AppName}, {"PGCONNECT_TIMEOUT", t.ConnectTimeout}}
		for _, v := range vars {
			if v[1] != "" {
				env = append(env, v[0]+"="+v[1])
			}
		}
		cmd = exec.CommandContext(ctx, t.Program(program), args...)
	}
	cmd.Env = env
	// Pdeathsig: a client must not outlive us. A psql left behind by a
	// killed restore would read on, and pg_dump would write into a pipe
	// nobody reads.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		if marker != "" {
			// Best effort: the local client is stopped either way.
			_ = t.StopInContainer(marker)
		}
		return err
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// ownSecrets are settings that no database client needs: they are not
// handed down to one (whose environment another bug could expose).
var ownSecrets = []string{"BACKUP_S3_ACCESS_KEY_ID=", "BACKUP_S3_SECRET_ACCESS_KEY="}

// childEnv is environ without ownSecrets.
func childEnv(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		drop := false
		for _, p := range ownSecrets {
			if strings.HasPrefix(kv, p) {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// newMarker returns a name unique to one pg_dump run.
func newMarker() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("directus-backup-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
}

// conninfoQuote quotes a value for a libpq connection string.
func conninfoQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(v) + "'"
}

// stopScript sends SIGTERM to every process in the container whose
// command line holds the marker ($1), except itself; it needs only sh,
// grep and /proc (pkill is missing from the official postgres images).
const stopScript = `for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = $$ ] && continue; grep -q -F -e "$1" "$p/cmdline" 2>/dev/null && kill -TERM "$n" 2>/dev/null; done; exit 0`

// StopInContainer stops the processes carrying marker inside t's compose
// service, through a second docker compose exec (bounded in time).
func (t Target) StopInContainer(marker string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	compose := t.ComposeArgv()
	argv := append(compose[1:], "exec", "-T", t.Service, "sh", "-c", stopScript, "stop", marker)
	cmd := exec.CommandContext(ctx, compose[0], argv...)
	cmd.Env = childEnv(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stopping pg_dump in compose service %s: %w: %s", t.Service, err, strings.TrimSpace(string(out)))
	}
	return nil
}
