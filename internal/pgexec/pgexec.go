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

	Method string // MethodLocal or MethodDocker
	// BinDir holds the client programs for the local method ("" = PATH):
	// the pg_dump matched to the server, and the psql beside it.
	BinDir      string
	ComposeFile string // docker only
	Service     string // docker only
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
		return "docker"
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
func (t Target) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	env := childEnv(os.Environ())
	var cmd *exec.Cmd
	if t.Method == MethodDocker {
		// Inside the database container the client reaches the server
		// through its own socket: host and port are not passed.
		argv := []string{"compose", "-f", t.ComposeFile, "exec", "-T"}
		if t.Password != "" {
			argv = append(argv, "-e", "PGPASSWORD")
			env = append(env, "PGPASSWORD="+t.Password)
		}
		argv = append(argv, t.Service, program)
		if t.User != "" {
			argv = append(argv, "-U", t.User)
		}
		if t.Database != "" {
			argv = append(argv, "-d", t.Database)
		}
		cmd = exec.CommandContext(ctx, "docker", append(argv, args...)...)
	} else {
		vars := [][2]string{{"PGHOST", t.Host}, {"PGPORT", t.Port}, {"PGUSER", t.User},
			{"PGPASSWORD", t.Password}, {"PGDATABASE", t.Database}}
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
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
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
