package config

import (
	"os"
	"regexp"
	"strings"
)

// ComposeFileNames are the files looked for in the working folder when
// neither BACKUP_COMPOSE_FILES nor BACKUP_DOCKER_COMPOSE_FILE is set: the
// original backup.sh's docker-compose.base.yml first (so an upgrade keeps
// using the file it used), then the names docker compose itself looks for,
// in its order.
var ComposeFileNames = []string{"docker-compose.base.yml", "compose.yaml", "compose.yml",
	"docker-compose.yaml", "docker-compose.yml"}

// composeFiles returns the compose files, absolute: BACKUP_COMPOSE_FILES,
// else BACKUP_DOCKER_COMPOSE_FILE, else the first of ComposeFileNames in
// the working folder, else the default docker-compose.base.yml (which
// BACKUP_DB_METHOD=auto then finds missing). Never empty.
func (r *resolver) composeFiles() []string {
	if v, _, ok := r.get(envComposeFiles); ok {
		var out []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, resolvePath(r.wd, f))
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if _, _, ok := r.get(envDockerComposeFile); ok {
		return []string{r.path(envDockerComposeFile)}
	}
	for _, name := range ComposeFileNames {
		p := resolvePath(r.wd, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return []string{p}
		}
	}
	return []string{r.path(envDockerComposeFile)}
}

// composeProjectRE is what docker compose accepts as a project name; it
// also keeps a value like "-T" from being read as an option.
var composeProjectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func composeProjectName(s string) bool { return composeProjectRE.MatchString(s) }
