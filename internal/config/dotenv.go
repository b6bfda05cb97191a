package config

import (
	"regexp"
	"strings"
)

// jsSpace is JavaScript's \s, so that the .env grammar below behaves like
// Node's (Go's \s is ASCII only and misses e.g. a UTF-8 byte order mark).
const jsSpace = `[\t\n\v\f\r \x{00a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]`

// parseDotenv parses a .env file exactly as Directus does (it calls
// dotenv.parse from Node's dotenv 16): one statement per match of the
// grammar below, anything else ignored, later keys overriding earlier ones.
// Go's regexp returns the same submatches a backtracking engine would, so
// the grammar carries over unchanged apart from the whitespace class.
func parseDotenv(src []byte) map[string]string {
	line := regexp.MustCompile(strings.ReplaceAll(
		`(?m)^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)`+
			`(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`+"`"+`(?:\\`+"`"+`|[^`+"`"+`])*`+"`"+`|[^#\r\n]+)?`+
			`\s*(?:#[^\n\x{2028}\x{2029}]*)?$`,
		`\s`, jsSpace))

	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	out := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(text, -1) {
		value := strings.TrimFunc(m[2], isJSSpace)
		quote := byte(0)
		if len(value) >= 2 && strings.IndexByte("'\"`", value[0]) >= 0 && value[len(value)-1] == value[0] {
			quote = value[0]
			value = value[1 : len(value)-1]
		}
		if quote == '"' {
			value = strings.ReplaceAll(value, `\n`, "\n")
			value = strings.ReplaceAll(value, `\r`, "\r")
		}
		out[m[1]] = value
	}
	return out
}

// isJSSpace is JavaScript's String.prototype.trim set of characters.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
