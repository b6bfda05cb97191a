// Package dumpscan reads a plain-format pg_dump stream as it goes by and
// learns what it holds without a database: how many rows each table's COPY
// block carries, and (on request) the rows of chosen tables. The backup
// records the row counts in the manifest at no cost to the server; verify
// compares a restore against them and reads directus_files from the dump.
//
// Between COPY blocks the SQL is read the way psql reads it (lex.go): a
// block starts only at a COPY statement, never at text that looks like one
// inside a string, a dollar-quoted body, a quoted identifier or a comment.
package dumpscan

import (
	"bytes"
	"slices"
	"strings"
)

// maxLine is how much of one line is kept. Longer lines (a large text
// value) are still counted, but their rows are not handed to OnRow.
const maxLine = 1 << 20

// Scanner is an io.Writer that scans a dump stream.
type Scanner struct {
	// Rows counts the data rows of each table, keyed by the name as pg_dump
	// writes it after COPY (schema-qualified, quoted where needed). Only
	// COPY statements count, not text that looks like one inside a string,
	// quoted identifier or comment.
	Rows map[string]int64
	// OnRow, when set, is called with each row of the tables for which Want
	// returns true: the COPY column names and the row's line (without the
	// newline, COPY text format).
	Want  func(table string) bool
	OnRow func(table string, columns []string, line []byte)
	// Blocks are the COPY blocks seen so far, in stream order.
	Blocks []Block
	// Tables are the tables the dump defines (its table of contents
	// comments), with or without their rows.
	Tables []TableName

	off int64 // bytes scanned before the current Write

	line      []byte // the current line so far (at most maxLine bytes)
	truncated bool
	inCopy    bool
	table     string
	columns   []string
	wanted    bool

	// The lexer between COPY blocks (lex.go). The zero value is the start
	// of a stream: at the beginning of a line, no statement open.
	st        uint8
	midStmt   bool // statement text since the last terminating ';'
	midLine   bool // not at the beginning of a line outside any statement
	depth     int  // open parentheses
	escapes   bool // the current '...' string takes backslash escapes
	backslash bool // standard_conforming_strings is off: every string does
	comment   int  // depth of nested /* */ comments
	tag       []byte
	match     int
	cand      bool    // s.line holds a line that began a statement
	hist      [2]byte // the last two bytes of the previous write
}

// Block is where one COPY block's data lies in the stream: from the byte
// after its COPY line to the byte after its closing `\.` line.
type Block struct {
	Table      string
	Start, End int64 // End is 0 while the block is open
}

// New returns a Scanner.
func New() *Scanner { return &Scanner{Rows: map[string]int64{}} }

// Write scans p. It never fails.
func (s *Scanner) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if s.inCopy {
			i = s.copyData(p, i)
			if !s.inCopy {
				s.Blocks[len(s.Blocks)-1].End = s.off + int64(i)
			}
		} else {
			i = s.sql(p, i)
			if s.inCopy {
				s.Blocks = append(s.Blocks, Block{Table: s.table, Start: s.off + int64(i)})
			}
		}
	}
	s.off += int64(len(p))
	switch len(p) {
	case 0:
	case 1:
		s.hist = [2]byte{s.hist[1], p[0]}
	default:
		s.hist = [2]byte{p[len(p)-2], p[len(p)-1]}
	}
	return len(p), nil
}

// copyData reads the data lines of a COPY block from p[i:] until the
// block's end (a line `\.`) or p's, and returns where it stopped.
func (s *Scanner) copyData(p []byte, i int) int {
	for i < len(p) {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			s.keep(p[i:])
			return len(p)
		}
		s.keep(p[i : i+j])
		i += j + 1
		s.endCopyLine()
		if !s.inCopy {
			break
		}
	}
	return i
}

// keep adds b to the current line, up to maxLine bytes.
func (s *Scanner) keep(b []byte) {
	if s.truncated {
		return
	}
	if room := maxLine - len(s.line); len(b) > room {
		s.line = append(s.line, b[:room]...)
		s.truncated = true
	} else {
		s.line = append(s.line, b...)
	}
}

func (s *Scanner) endCopyLine() {
	line := s.line
	if !s.truncated && string(line) == `\.` {
		// The next statement starts on the next line.
		s.inCopy, s.midStmt, s.midLine, s.depth = false, false, false, 0
	} else {
		s.Rows[s.table]++
		if s.wanted && !s.truncated && s.OnRow != nil {
			s.OnRow(s.table, s.columns, line)
		}
	}
	s.line = s.line[:0]
	s.truncated = false
}

// Columns returns the position of each of names among a COPY block's
// columns (OnRow's columns), -1 for a name the block lacks.
func Columns(columns []string, names ...string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = slices.Index(columns, n)
	}
	return out
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
