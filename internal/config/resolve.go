package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/directus-backup/directus-backup/internal/fsmeta"
)

// resolver resolves settings and collects every problem.
type resolver struct {
	vars    layers
	envFile string // the .env file read, "" when none
	wd      string // absolute
	envDir  string // folder of the .env file, for Directus's own paths
	errs    []error
	dx      map[string]directusValue // Directus's variables read so far, see raw
}

// fail records a problem. No caller passes a secret's value; Error()
// would not print it anyway.
func (r *resolver) fail(setting, value, accepted string, err error) {
	r.errs = append(r.errs, &SettingError{Setting: setting, Value: value, Accepted: accepted, From: r.from(setting), Err: err})
}

// failHidden records a problem without the value, which may hold a secret
// given in the wrong place.
func (r *resolver) failHidden(setting, accepted string, err error) {
	r.errs = append(r.errs, &SettingError{Setting: setting, HideValue: true, Accepted: accepted, From: r.from(setting), Err: err})
}

// from says where the value of setting came from, naming the .env file;
// a bad value is easy to miss when it sits in a file nobody looks at.
func (r *resolver) from(setting string) string {
	_, o, ok := r.get(setting)
	switch {
	case !ok && settingDefault(setting) == "":
		return "" // not set at all: nothing to point at
	case !ok:
		return fromDefault.String()
	}
	return r.viaFile(setting) + r.originText(o)
}

// originText says where a value was set, naming the .env file.
func (r *resolver) originText(o origin) string {
	if o == fromFile && r.envFile != "" {
		return "in the .env file " + r.envFile
	}
	return o.String()
}

// get returns the trimmed value of a setting when some source sets it.
func (r *resolver) get(name string) (string, origin, bool) {
	v, from, ok := r.raw(name)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return "", fromDefault, false
	}
	return v, from, true
}

// value returns the setting or its default.
func (r *resolver) value(name string) string {
	if v, _, ok := r.get(name); ok {
		return v
	}
	return settingDefault(name)
}

func (r *resolver) path(name string) string {
	return resolvePath(r.wd, r.value(name))
}

func (r *resolver) integer(name string, lo, hi int, accepted string) int {
	v := r.value(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, accepted, nil)
		return 0
	}
	return n
}

// percent reads an integer from 0 to 100.
func (r *resolver) percent(name string) int {
	return r.integer(name, 0, 100, "an integer from 0 to 100")
}

// onOffWords are the spellings an on/off setting accepts.
var onOffWords = map[string]string{"on": "on", "off": "off", "1": "on", "0": "off",
	"true": "on", "false": "off", "yes": "on", "no": "off"}

// on reads an on/off setting (on, off, 1, 0, true, false, yes, no).
func (r *resolver) on(name string) bool { return r.choice(name, "on or off", onOffWords) == "on" }

// choice accepts the keys of allowed, case-insensitively, and returns the
// canonical value.
func (r *resolver) choice(name, accepted string, allowed map[string]string) string {
	v := r.value(name)
	if c, ok := allowed[strings.ToLower(v)]; ok {
		return c
	}
	r.fail(name, v, accepted, nil)
	return ""
}

func (r *resolver) dbClient() string {
	v := r.value(envDBClient)
	switch strings.ToLower(v) {
	case "pg", "postgres", "postgresql":
		return "pg"
	case "mysql", "mysql2", "mariadb", "sqlite3", "better-sqlite3", "mssql", "oracledb", "oracle", "cockroachdb", "redshift":
		r.fail(envDBClient, v, "pg (also postgres or postgresql)",
			errors.New("not supported yet: directus-backup supports PostgreSQL (pg)"))
	default:
		r.fail(envDBClient, v, "pg (also postgres or postgresql)", nil)
	}
	return ""
}

// password resolves DB_PASSWORD and DB_PASSWORD_FILE. The password itself
// is not trimmed: Directus uses it as given. A relative DB_PASSWORD_FILE
// from the .env file is relative to the file's folder, as for Directus.
func (r *resolver) password() string {
	return r.secret(envDBPassword, envDBPasswordFile, "the database password", false, r.directusPath)
}

// secret resolves a secret setting and its NAME_FILE form. The one from the
// higher-precedence source wins, so a NAME_FILE in the environment (a
// Docker secret) overrides a NAME in the .env file; both in the same source
// is ambiguous and refused, as the official postgres image does. One
// trailing newline of the file is dropped. trim trims the direct value, as
// for every other setting; resolve makes the file's path absolute. For
// Directus's own variables raw applies the same rules (and Directus's type
// prefixes), so what and resolve are not used for them.
func (r *resolver) secret(name, fileName, what string, trim bool, resolve func(string, origin) string) string {
	if hasFileForm(name) { // Directus's own: raw reads NAME_FILE
		v, _, ok := r.raw(name)
		switch {
		case !ok || blank(v):
			return ""
		case trim:
			return strings.TrimSpace(v)
		}
		return v
	}
	v, vFrom, vOK := r.vars.lookup(name)
	file, fileFrom, fileOK := r.get(fileName)
	vOK = vOK && !blank(v)
	switch {
	case fileOK && vOK && fileFrom == vFrom:
		r.fail(fileName, file, "either "+name+" or "+fileName+", not both in the same place", nil)
		return ""
	case fileOK && (!vOK || fileFrom > vFrom):
		s, err := readValueFile(resolve(file, fileFrom))
		if err != nil {
			r.fail(fileName, file, "a readable file holding "+what, err)
			return ""
		}
		return s
	case vOK && trim:
		return strings.TrimSpace(v)
	case vOK:
		return v
	}
	return ""
}

// readValueFile reads a NAME_FILE's value: the file without one trailing
// newline (as a shell's echo or an editor leaves it).
func readValueFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// directusPath resolves a path from one of Directus's own variables: one
// from the .env file is relative to the file's folder, where Directus runs.
func (r *resolver) directusPath(p string, from origin) string {
	if from == fromFile {
		return resolvePath(r.envDir, p)
	}
	return resolvePath(r.wd, p)
}

// within reports whether path is dir or inside it, after resolving
// symlinks of the parts that exist.
func within(dir, path string) bool {
	return fsmeta.Within(fsmeta.RealPath(path), fsmeta.RealPath(dir))
}

// resolvePath makes p absolute against base (absolute) and cleans it.
func resolvePath(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// composeServiceName follows Compose's service name pattern.
func composeServiceName(s string) bool {
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`).MatchString(s)
}
