// Package dbtarget turns the settings into the database a command reaches
// and the program it needs for that: shared by backup, restore, verify and
// doctor, so that they all reach the same database the same way.
package dbtarget

import (
	"os"

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
		Method: method, ComposeFile: cfg.DockerComposeFile, Service: cfg.DockerService,
	}
}

// Resolve is Target with the method resolved from cfg.
func Resolve(cfg *config.Config) pgexec.Target {
	return Target(cfg, ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile))
}
