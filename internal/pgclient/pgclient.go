// Package pgclient picks the pg_dump (and the psql beside it) a local
// backup uses: one at least as new as the server, since pg_dump refuses
// to dump a newer server ("server version mismatch"), the failure users of
// pg_dump-based tools report most. PATH's pg_dump is used when it is new
// enough; otherwise the standard install locations of the distributions
// and Homebrew are searched for the lowest major version that is.
package pgclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/capbuf"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// SearchRootsEnv names an environment variable for tests: a list of
// folders (separated by ':') under which the standard locations are looked
// up instead of under /. Not a setting: users never need it.
const SearchRootsEnv = "DIRECTUS_BACKUP_PG_SEARCH_ROOTS"

// locations are the standard install folders, "*" standing for the major
// version: Debian/Ubuntu (PGDG too), RHEL (PGDG), Homebrew on Apple
// silicon and Intel, and a source build.
var locations = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/pgsql-*/bin",
	"/opt/homebrew/opt/postgresql@*/bin",
	"/usr/local/opt/postgresql@*/bin",
	"/usr/local/pgsql/bin",
}

// Client is a pg_dump and the psql that goes with it.
type Client struct {
	// BinDir holds both programs; "" means PATH's.
	BinDir  string
	PgDump  string // path of pg_dump
	Version string // pg_dump --version's number, "15.18"
	Major   int
}

// Apply returns t running this client's programs.
func (c Client) Apply(t pgexec.Target) pgexec.Target {
	t.BinDir = c.BinDir
	return t
}

// ErrNone is wrapped when no pg_dump new enough for the server is found.
var ErrNone = errors.New("no pg_dump new enough for the server")

// NoneError says which version is needed and how to get it.
type NoneError struct {
	ServerMajor int
	ServerVer   string
	Found       []Client // what was found, all too old
}

func (e *NoneError) Error() string {
	var found []string
	for _, c := range e.Found {
		found = append(found, fmt.Sprintf("%s (%s)", c.PgDump, c.Version))
	}
	have := "no pg_dump was found"
	if len(found) > 0 {
		have = "found only " + strings.Join(found, ", ")
	}
	return fmt.Sprintf("the database server is PostgreSQL %s and needs pg_dump %d or newer, but %s (searched PATH and %s); "+
		"install postgresql-client-%d (Debian/Ubuntu: add the PGDG repository, https://wiki.postgresql.org/wiki/Apt, then apt-get install postgresql-client-%d; "+
		"RHEL: postgresql%d from https://yum.postgresql.org; macOS: brew install postgresql@%d), "+
		"or set BACKUP_DB_METHOD=docker to run the server's own pg_dump inside its container",
		e.ServerVer, e.ServerMajor, have, strings.Join(locations, ", "), e.ServerMajor, e.ServerMajor, e.ServerMajor, e.ServerMajor)
}

func (e *NoneError) Unwrap() error { return ErrNone }

// ServerVersion asks the server for its version with psql (PATH's, else
// the newest one in the standard locations; any psql can ask any
// server). major is server_version_num / 10000, which for servers before
// 10 is the first number (9 for 9.6).
func ServerVersion(ctx context.Context, t pgexec.Target) (major int, version string, err error) {
	if t.BinDir == "" {
		if _, err := exec.LookPath("psql"); err != nil {
			cands := candidates(ctx)
			if len(cands) == 0 {
				return 0, "", fmt.Errorf("psql not found on PATH nor in the standard locations: install postgresql-client")
			}
			t.BinDir = cands[len(cands)-1].BinDir
		}
	}
	cmd := t.Command(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-c", "SHOW server_version_num", "-c", "SHOW server_version")
	out := &capbuf.Head{Max: 4 << 10}
	errb := &capbuf.Tail{Max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Run(); err != nil {
		return 0, "", fmt.Errorf("ask the server its version (%s): %v: %s", t.Program("psql"), err,
			capbuf.LastLines(strings.TrimSpace(errb.String()), 5))
	}
	lines := strings.Fields(out.String())
	if len(lines) < 2 {
		return 0, "", fmt.Errorf("unexpected answer to SHOW server_version_num: %q", out.String())
	}
	num, err := strconv.Atoi(lines[0])
	if err != nil || num <= 0 {
		return 0, "", fmt.Errorf("unexpected server_version_num %q", lines[0])
	}
	return num / 10000, lines[1], nil
}

// Find picks the pg_dump for a server of major version serverMajor:
// PATH's if new enough, else the lowest major >= serverMajor in the
// standard locations (the closest match dumps what the server has with
// the fewest surprises). A *NoneError when there is none.
func Find(ctx context.Context, serverMajor int, serverVer string) (Client, error) {
	var found []Client
	if p, err := exec.LookPath("pg_dump"); err == nil {
		c, err := probe(ctx, p)
		if err != nil {
			// A wrapper that does not answer --version: trusted, as
			// before this check; the dump says if it does not fit.
			return Client{PgDump: p, Version: "unknown"}, nil
		}
		if c.Major >= serverMajor {
			return c, nil
		}
		found = append(found, c)
	}
	for _, c := range candidates(ctx) {
		if c.Major >= serverMajor {
			return c, nil
		}
		found = append(found, c)
	}
	return Client{}, &NoneError{ServerMajor: serverMajor, ServerVer: serverVer, Found: found}
}

// Match is ServerVersion then Find.
func Match(ctx context.Context, t pgexec.Target) (Client, error) {
	major, ver, err := ServerVersion(ctx, t)
	if err != nil {
		return Client{}, err
	}
	return Find(ctx, major, ver)
}

// Installed lists the pg_dumps in the standard locations, oldest first.
func Installed(ctx context.Context) []Client { return candidates(ctx) }

// candidates lists the pg_dumps in the standard locations that have a
// psql beside them, sorted by major version.
func candidates(ctx context.Context) []Client {
	roots := []string{"/"}
	if v := os.Getenv(SearchRootsEnv); v != "" {
		roots = filepath.SplitList(v)
	}
	var out []Client
	seen := map[string]bool{}
	for _, root := range roots {
		for _, loc := range locations {
			dirs, _ := filepath.Glob(filepath.Join(root, loc))
			for _, d := range dirs {
				if seen[d] || !executable(filepath.Join(d, "psql")) {
					continue
				}
				seen[d] = true
				c, err := probe(ctx, filepath.Join(d, "pg_dump"))
				if err != nil {
					continue
				}
				c.BinDir = d
				out = append(out, c)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Client) int { return a.Major - b.Major })
	return out
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// versionRE finds the version in "pg_dump (PostgreSQL) 15.18 (Debian
// 15.18-0+deb12u1)" and "pg_dump (PostgreSQL) 17beta1".
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(\.\d+)?\S*`)

// probe runs pg_dump --version.
func probe(ctx context.Context, path string) (Client, error) {
	if !executable(path) {
		return Client{}, fmt.Errorf("%s: not an executable file", path)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return Client{}, fmt.Errorf("%s --version: %w", path, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return Client{}, fmt.Errorf("%s --version: unexpected answer %q", path, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	return Client{PgDump: path, Version: strings.TrimPrefix(m[0], "(PostgreSQL) "), Major: major}, nil
}
