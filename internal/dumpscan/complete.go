package dumpscan

import "strings"

// CompletionLine is the comment pg_dump writes at the very end of a plain
// dump. Its absence means the dump was cut short.
const CompletionLine = "-- PostgreSQL database dump complete"

// TailSize is how many final bytes of a dump EndsComplete needs.
const TailSize = 1024

// EndsComplete reports whether a dump's last bytes hold pg_dump's
// completion line followed only by comment, blank or \unrestrict lines
// (pg_dump since 15.14 ends with "\unrestrict <key>").
func EndsComplete(tail []byte) bool {
	s := string(tail)
	i := strings.LastIndex(s, CompletionLine)
	if i < 0 {
		return false
	}
	for _, line := range strings.Split(s[i+len(CompletionLine):], "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "--" && !strings.HasPrefix(line, `\unrestrict `) {
			return false
		}
	}
	return true
}
