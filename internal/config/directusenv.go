package config

import (
	"regexp"
	"sort"
	"strings"
)

// Directus reads its variables through @directus/env (5.8 in Directus
// 11.17): a value may start with a type prefix, which it strips, and any of
// its variables may be given as NAME_FILE, the path of a file holding the
// value. resolver.raw applies both rules to every Directus variable the tool
// reads, so a new one gets them without code of its own.

// directusVar matches Directus's variables that the tool reads: their
// values take Directus's type prefixes, wherever they are set.
var directusVar = regexp.MustCompile(`^(DB_.+|STORAGE_.+|EXTENSIONS_PATH|CONFIG_PATH)$`)

// directusFileVar matches the variables whose NAME_FILE Directus reads: the
// ones of its DIRECTUS_VARIABLES list the tool reads (it has no
// STORAGE_<NAME>_FORCE_PATH_STYLE, so neither do we).
var directusFileVar = regexp.MustCompile(`^(DB_.+|STORAGE_LOCATIONS|STORAGE_.+_(DRIVER|ROOT|KEY|SECRET|BUCKET|REGION|ENDPOINT)|EXTENSIONS_PATH)$`)

// ownFileForm are the variables whose NAME_FILE the tool reads itself, as a
// path handed to libpq (pemOrFile), not as a value.
var ownFileForm = map[string]bool{envDBSSLCA: true, envDBSSLCert: true, envDBSSLKey: true}

// hasFileForm reports whether name's NAME_FILE is read by raw.
func hasFileForm(name string) bool {
	return !strings.HasSuffix(name, "_FILE") && directusFileVar.MatchString(name) && !ownFileForm[name]
}

// castFlags are @directus/env's ENV_TYPES: the word before the first ':'
// of a value, exactly, is a type prefix.
var castFlags = map[string]bool{"string": true, "number": true, "regex": true, "array": true, "json": true, "boolean": true}

// castFlag splits a value into its type prefix ("" when none) and the rest.
func castFlag(v string) (string, string) {
	if flag, rest, ok := strings.Cut(v, ":"); ok && castFlags[flag] {
		return flag, rest
	}
	return "", v
}

// The kinds of value the tool takes from Directus's variables, which decide
// the prefixes it can honour.
type valueKind int

const (
	kindString valueKind = iota
	kindNumber           // DB_PORT
	kindBool             // true or false
	kindList             // comma-separated
)

func directusKind(name string) valueKind {
	switch {
	case name == envDBPort:
		return kindNumber
	case name == envDBSSLReject || strings.HasSuffix(name, "_FORCE_PATH_STYLE"):
		return kindBool
	case name == envStorageLocations || name == envDBSearchPath:
		return kindList
	}
	return kindString
}

// errCast says which prefix cannot be honoured; the value itself is not
// quoted (it may be a secret).
type errCast string

func (e errCast) Error() string {
	return `Directus's type prefix "` + string(e) + `:" cannot be honoured for this setting`
}

// castAccepted says what each kind takes.
func castAccepted(k valueKind) string {
	switch k {
	case kindNumber:
		return "a number, optionally with Directus's type prefix number: or string:"
	case kindBool:
		return "true or false, optionally with Directus's type prefix boolean:"
	case kindList:
		return "a comma-separated list, optionally with Directus's type prefix array: or string:, each item optionally with string:"
	}
	return "the value as is, optionally with Directus's type prefix string:"
}

// directusCast strips the type prefix of a Directus variable's value as
// @directus/env's cast does, for the prefixes that keep the value usable by
// the tool: string: everywhere but on true/false settings (Directus would
// pass the string "false", which Node reads as true), number: on a number,
// boolean: on true/false (Directus's toBoolean: "true" and "1" are true,
// anything else false), array: on a list. regex: and json: make values the
// tool cannot use.
func directusCast(name, v string) (string, error) {
	kind := directusKind(name)
	flag, rest := castFlag(v)
	switch {
	case flag == "":
		if kind == kindList {
			return castItems(rest)
		}
		return v, nil
	case flag == "string" && kind != kindBool:
		return rest, nil
	case flag == "number" && kind == kindNumber:
		return strings.TrimSpace(rest), nil // lodash's toNumber trims
	case flag == "boolean" && kind == kindBool:
		if rest == "true" || rest == "1" {
			return "true", nil
		}
		return "false", nil
	case flag == "array" && kind == kindList:
		return castItems(rest)
	}
	return "", errCast(flag)
}

// castItems casts each item of a list, as Directus casts array items:
// string: is stripped, any other prefix makes a non-string item.
func castItems(v string) (string, error) {
	if !strings.Contains(v, ":") {
		return v, nil
	}
	items := strings.Split(v, ",")
	for i, it := range items {
		switch flag, rest := castFlag(strings.TrimSpace(it)); flag {
		case "":
		case "string":
			items[i] = rest
		default:
			return "", errCast(flag)
		}
	}
	return strings.Join(items, ","), nil
}

// directusValue is a Directus variable's value after Directus's rules.
type directusValue struct {
	v    string
	from origin
	ok   bool
	file string // NAME_FILE when the value was read from the file it names
}

// raw returns the untrimmed value of name as lookup does; for Directus's
// variables after its rules: NAME_FILE read (the one from the
// higher-precedence source wins over NAME, both in the same source is
// refused, one trailing newline dropped), then the type prefix stripped.
// Problems are reported once.
func (r *resolver) raw(name string) (string, origin, bool) {
	if !directusVar.MatchString(name) {
		return r.vars.lookup(name)
	}
	if d, ok := r.dx[name]; ok {
		return d.v, d.from, d.ok
	}
	d, fail := r.readDirectus(name)
	if r.dx == nil {
		r.dx = map[string]directusValue{}
	}
	r.dx[name] = d // before failing: fail asks from(), which asks raw
	if fail != nil {
		fail()
	}
	return d.v, d.from, d.ok
}

// readDirectus reads one Directus variable; fail, when not nil, reports
// the problem found.
func (r *resolver) readDirectus(name string) (directusValue, func()) {
	v, from, ok := r.vars.lookup(name)
	d := directusValue{v: v, from: from, ok: ok}
	if hasFileForm(name) {
		fileName := name + "_FILE"
		f, fFrom, fOK := r.vars.lookup(fileName)
		fOK = fOK && !blank(f)
		vOK := ok && !blank(v)
		switch {
		case fOK && vOK && fFrom == from:
			return d, func() {
				r.fail(fileName, strings.TrimSpace(f), "either "+name+" or "+fileName+", not both in the same place", nil)
			}
		case fOK && (!vOK || fFrom > from):
			f = strings.TrimSpace(f)
			flag, path := castFlag(f) // Directus keeps the prefix for the file's content
			s, err := readValueFile(r.directusPath(path, fFrom))
			if err != nil {
				return directusValue{from: fFrom, file: fileName}, func() {
					r.fail(fileName, f, "a readable file holding the value of "+name, err)
				}
			}
			if flag != "" {
				s = flag + ":" + s
			}
			d = directusValue{v: s, from: fFrom, ok: true, file: fileName}
		}
	}
	if !d.ok || blank(d.v) {
		return d, nil
	}
	c, err := directusCast(name, d.v)
	if err != nil {
		d.v, d.ok = "", false
		return d, func() {
			r.errs = append(r.errs, &SettingError{Setting: name, HideValue: true, Accepted: castAccepted(directusKind(name)),
				From: r.viaFile(name) + r.originText(d.from), Err: err})
		}
	}
	d.v = c
	return d, nil
}

// viaFile says, for from(), that a value was read from the file NAME_FILE
// names.
func (r *resolver) viaFile(name string) string {
	if d, ok := r.dx[name]; ok && d.file != "" {
		return "read from the file " + d.file + " names, "
	}
	return ""
}

// EnvOverrides lists the Directus variables (and NAME_FILE forms) that both
// the environment and the .env file set, to different values, sorted. The
// tool takes the environment's, as the original backup.sh did; Directus
// lets its .env file override its environment, so the two may read
// different settings. Only names: the values may be secrets.
func (c *Config) EnvOverrides() []string {
	if c.vars.env == nil {
		return nil
	}
	var out []string
	for k, fv := range c.vars.file {
		if !directusVar.MatchString(strings.TrimSuffix(k, "_FILE")) || blank(fv) {
			continue
		}
		if ev, ok := c.vars.env(k); ok && !blank(ev) && strings.TrimSpace(ev) != strings.TrimSpace(fv) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
