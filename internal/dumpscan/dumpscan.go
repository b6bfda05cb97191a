// Package dumpscan reads a plain-format pg_dump stream as it goes by and
// learns what it holds without a database: how many rows each table's COPY
// block carries, and (on request) the rows of chosen tables. The backup
// records the row counts in the manifest at no cost to the server; verify
// compares a restore against them and reads directus_files from the dump.
package dumpscan

import (
	"bytes"
	"strings"
)

// maxLine is how much of one line is kept. Longer lines (a large text
// value) are still counted, but their rows are not handed to OnRow.
const maxLine = 1 << 20

// Scanner is an io.Writer that scans a dump stream.
type Scanner struct {
	// Rows counts the data rows of each table, keyed by the name as pg_dump
	// writes it after COPY (schema-qualified, quoted where needed).
	Rows map[string]int64
	// OnRow, when set, is called with each row of the tables for which Want
	// returns true: the COPY column names and the row's line (without the
	// newline, COPY text format).
	Want  func(table string) bool
	OnRow func(table string, columns []string, line []byte)

	line      []byte // the current line so far (at most maxLine bytes)
	truncated bool
	inCopy    bool
	table     string
	columns   []string
	wanted    bool
}

// New returns a Scanner.
func New() *Scanner { return &Scanner{Rows: map[string]int64{}} }

// Write scans p. It never fails.
func (s *Scanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		if !s.truncated {
			if room := maxLine - len(s.line); len(part) > room {
				s.line = append(s.line, part[:room]...)
				s.truncated = true
			} else {
				s.line = append(s.line, part...)
			}
		}
		if i < 0 {
			break
		}
		s.endLine()
		p = p[i+1:]
	}
	return n, nil
}

func (s *Scanner) endLine() {
	line := s.line
	switch {
	case s.inCopy && !s.truncated && string(line) == `\.`:
		s.inCopy = false
	case s.inCopy:
		s.Rows[s.table]++
		if s.wanted && !s.truncated && s.OnRow != nil {
			s.OnRow(s.table, s.columns, line)
		}
	case !s.truncated && bytes.HasPrefix(line, []byte("COPY ")) && bytes.HasSuffix(line, []byte(" FROM stdin;")):
		s.table, s.columns = parseCopyHeader(string(line))
		s.inCopy = true
		s.Rows[s.table] += 0 // an empty table is still listed
		s.wanted = s.Want != nil && s.Want(s.table)
	}
	s.line = s.line[:0]
	s.truncated = false
}

// parseCopyHeader splits `COPY public.t (a, "b c") FROM stdin;` into the
// table name and the column names (unquoted).
func parseCopyHeader(h string) (string, []string) {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "COPY "), " FROM stdin;")
	i := strings.Index(h, " (")
	if i < 0 || !strings.HasSuffix(h, ")") {
		return strings.TrimSpace(h), nil
	}
	table := h[:i]
	var cols []string
	for _, c := range splitIdents(h[i+2 : len(h)-1]) {
		cols = append(cols, unquoteIdent(strings.TrimSpace(c)))
	}
	return table, cols
}

// splitIdents splits a column list at commas outside double quotes.
func splitIdents(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// Field returns column col of a COPY text-format row, unescaped, and false
// when the value is NULL or the row has no such column.
func Field(line []byte, col int) (string, bool) {
	fields := bytes.Split(line, []byte{'\t'})
	if col < 0 || col >= len(fields) {
		return "", false
	}
	f := fields[col]
	if string(f) == `\N` {
		return "", false
	}
	return unescapeCopy(f), true
}

// unescapeCopy decodes COPY text escapes: \\ \t \n \r \b \f \v and octal.
func unescapeCopy(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			out.WriteByte(c)
			continue
		}
		i++
		switch e := b[i]; e {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'v':
			out.WriteByte('\v')
		default:
			if e >= '0' && e <= '7' {
				v, j := 0, i
				for ; j < len(b) && j < i+3 && b[j] >= '0' && b[j] <= '7'; j++ {
					v = v*8 + int(b[j]-'0')
				}
				out.WriteByte(byte(v))
				i = j - 1
			} else {
				out.WriteByte(e)
			}
		}
	}
	return out.String()
}
