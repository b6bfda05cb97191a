// Package dbtarget turns the settings into the database a command reaches
// and the program it needs for that: shared by backup, restore, verify and
// doctor, so that they all reach the same database the same way.
package dbtarget

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// ResolveMethod turns BACKUP_DB_METHOD=auto into local or docker: docker
// when the compose file exists, as the original backup.sh runs pg_dump.
func ResolveMethod(method, composeFile string) string {
	if method != "auto" {
		return method
	}
	if fi, err := os.Stat(composeFile); err == nil && fi.Mode().IsRegular() {
		return pgexec.MethodDocker
	}
	return pgexec.MethodLocal
}

// RequiredCommand is the program the dump needs for a resolved method.
func RequiredCommand(method string) string {
	if method == pgexec.MethodDocker {
		return "docker"
	}
	return "pg_dump"
}

// InstallHint names the package that provides a required command.
func InstallHint(cmd string) string {
	switch cmd {
	case "pg_dump":
		return "postgresql-client"
	case "docker":
		return "docker-ce-cli or docker.io"
	}
	return cmd
}

// Target is where cfg says the database is, reached by a resolved method.
func Target(cfg *config.Config, method string) pgexec.Target {
	return pgexec.Target{
		Host: cfg.DB.Host, Port: cfg.DB.Port, User: cfg.DB.User,
		Password: cfg.DB.Password, Database: cfg.DB.Database,
		SSLMode: cfg.DB.SSLMode, SSLRootCert: cfg.DB.SSLRootCert, SSLCert: cfg.DB.SSLCert, SSLKey: cfg.DB.SSLKey,
		Options: cfg.DB.Options, AppName: cfg.DB.AppName, ConnectTimeout: cfg.DB.ConnectTimeout,
		Method: method, ComposeFile: cfg.DockerComposeFile, Service: cfg.DockerService,
		ComposeFiles: cfg.ComposeFiles, Project: cfg.ComposeProject,
		Compose: composeFor(method),
	}
}

// composeFor is the compose program for method: detected once per process
// for docker (the default when none works: the pre-flight check says why).
func composeFor(method string) []string {
	if method != pgexec.MethodDocker {
		return nil
	}
	composeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		composeCmd, composeErr = ComposeCommand(ctx)
	})
	return composeCmd
}

var (
	composeOnce sync.Once
	composeCmd  []string
	composeErr  error
)

// ComposeCommand finds a working compose: the docker compose plugin
// ("docker compose version" succeeds), else the old docker-compose
// program. The error says what each attempt answered.
func ComposeCommand(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput()
	if err == nil {
		return []string{"docker", "compose"}, nil
	}
	plugin := answer(out, err)
	out, err = exec.CommandContext(ctx, "docker-compose", "version").CombinedOutput()
	if err == nil {
		return []string{"docker-compose"}, nil
	}
	return nil, fmt.Errorf("the docker method needs docker compose: the compose plugin does not work (docker compose version: %s) and the old docker-compose program neither (docker-compose version: %s)",
		plugin, answer(out, err))
}

// answer is a failed command's first output line, or its error.
func answer(out []byte, err error) string {
	if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
		return line
	}
	return err.Error()
}

// Resolve is Target with the method resolved from cfg.
func Resolve(cfg *config.Config) pgexec.Target {
	return Target(cfg, ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile))
}

// ComposeHint names the packages that provide docker compose.
func ComposeHint() string {
	return "install the compose plugin (apt-get install docker-compose-plugin; see docs.docker.com/compose/install/linux/) or the standalone docker-compose program"
}
