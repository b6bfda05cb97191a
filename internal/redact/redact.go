package redact

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Redacted replaces every hidden value.
const Redacted = "[REDACTED]"

// IsSecretName reports whether a variable name suggests a secret value
// (case-insensitive substring match on PASSWORD, SECRET, TOKEN, KEY, PASS,
// CREDENTIAL, PRIVATE, AUTH; PW or PWD as a word between underscores).
func IsSecretName(name string) bool {
	upper := strings.ToUpper(name)
	// PASS also covers PASSWD; KEY covers Directus's KEY and
	// AWS_SECRET_ACCESS_KEY alike.
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "KEY", "PASS", "CREDENTIAL", "PRIVATE", "AUTH"} {
		if strings.Contains(upper, w) {
			return true
		}
	}
	// PW as a word of the name (ADMIN_PW, PW_HASH), not inside another
	// word.
	for _, part := range strings.Split(upper, "_") {
		if part == "PW" || part == "PWD" {
			return true
		}
	}
	return false
}

// Env returns KEY=VALUE lines, in the given order, with secret values
// replaced by [REDACTED]: the whole value when the name looks secret (see
// IsSecretName), and in any other value the credentials inside URLs and
// connection strings (see Credentials). An empty secret stays empty: it hides
// nothing, and "DB_PASSWORD is empty" is often the diagnosis.
func Env(environ []string) []string {
	kv := keyValuePattern()
	out := make([]string, len(environ))
	for i, line := range environ {
		name, value, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			out[i] = credentials(line, kv)
		case IsSecretName(name) && value != "":
			out[i] = name + "=" + Redacted
		default:
			out[i] = name + "=" + credentials(value, kv)
		}
	}
	return out
}

// Credentials hides the passwords inside URLs ("postgres://user:pass@host"
// becomes "postgres://user:[REDACTED]@host") and the values of secret-looking
// keys in key=value strings (libpq "password=xyz", ODBC "Pwd=xyz;", URL
// queries "?token=xyz").
func Credentials(s string) string {
	return credentials(s, keyValuePattern())
}

func credentials(s string, kv *regexp.Regexp) string {
	s = urlPasswords(s)
	// Group 1 is the character before the key, 2 the key, 3 the "=" with
	// its spaces, 4 the value.
	return kv.ReplaceAllString(s, "${1}${2}${3}"+Redacted)
}

// keyValuePattern matches key=value pairs whose key contains a secret word.
// A value ends at whitespace, ';' or '&' unless it is quoted, as in libpq.
func keyValuePattern() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|[^a-z0-9_.\-])` +
		`([a-z0-9_.\-]*(?:pass|pwd|secret|token|key|credential|private|auth)[a-z0-9_.\-]*)` +
		`(\s*=\s*)` +
		`('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|[^\s;&]+)`)
}

// urlPasswords hides the password of every scheme://user:password@host in s.
// The userinfo ends at the last '@' before whitespace or the next "://", so a
// password holding a raw '@' is hidden whole rather than half leaked; this
// may hide some of the URL's path too, which is the safe side to err on.
func urlPasswords(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		start := i + len("://")
		b.WriteString(rest[:start])
		rest = rest[start:]

		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			end = len(rest)
		}
		if j := strings.Index(rest[:end], "://"); j >= 0 {
			end = j
		}
		at := strings.LastIndexByte(rest[:end], '@')
		if at < 0 {
			continue
		}
		colon := strings.IndexByte(rest[:at], ':')
		if colon < 0 || colon+1 == at {
			continue // no password, or an empty one
		}
		b.WriteString(rest[:colon+1])
		b.WriteString(Redacted)
		rest = rest[at:]
	}
}

// String removes every given secret value from s (for log text and pg_dump
// stderr), replacing it with [REDACTED]; empty secrets are ignored. Longer
// secrets are matched first, so one secret that contains another is hidden
// whole.
func String(s string, secrets ...string) string {
	list := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		if sec != "" {
			list = append(list, sec)
		}
	}
	if len(list) == 0 {
		return s
	}
	// strings.Replacer tries old strings in argument order at each position.
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	pairs := make([]string, 0, 2*len(list))
	for _, sec := range list {
		pairs = append(pairs, sec, Redacted)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
