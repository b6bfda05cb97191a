package dumpscan

import "bytes"

// Lexer states between COPY blocks. The SQL pg_dump writes is read the way
// psql reads it, so that text inside a string, a quoted identifier or a
// comment is never taken for a statement: a `COPY ... FROM stdin;` line in
// a multi-line COMMENT, column default or function body starts no block.
const (
	stNormal      = iota
	stDash        // after '-': a "--" comment or an operator
	stSlash       // after '/': a "/*" comment or an operator
	stLineComment // "--" to the end of the line
	stMeta        // a psql backslash command (\connect, \restrict) to the end of the line
	stBlock       // inside /* */, nested s.comment deep
	stBlockStar   // inside /* */, after '*'
	stBlockSlash  // inside /* */, after '/'
	stQuote       // inside '...'; s.escapes when backslash escapes apply
	stQuoteBS     // inside '...', after an escaping backslash
	stQuoteEnd    // after a quote closing '...', unless another follows ('')
	stIdent       // inside "..."
	stIdentEnd    // after a quote closing "...", unless another follows ("")
	stDollarTag   // after '$': maybe the tag of a dollar quote
	stDollar      // inside $tag$...$tag$
	stDollarEnd   // inside $tag$...$tag$, s.match bytes of a closing "$tag" seen
)

// maxTag bounds a dollar-quote tag; a longer run is taken for no tag.
const maxTag = 1 << 10

// special marks the bytes the lexer acts on in statement text; it skips
// the others without looking further.
var special [256]bool

func init() {
	for _, c := range []byte("\n;()'\"$-/\\") {
		special[c] = true
	}
}

// sql lexes p from i until its end or until a COPY header line has been
// read, and returns where it stopped.
func (s *Scanner) sql(p []byte, i int) int {
	from := i // where the candidate line's bytes in p start, when s.cand
	for i < len(p) {
		c := p[i]
		switch s.st {
		case stNormal:
			if s.midStmt {
				for i < len(p) && !special[p[i]] {
					i++
				}
				if i == len(p) {
					continue
				}
				c = p[i]
			}
			switch c {
			case '\n':
				if s.cand {
					s.cand = false
					s.keep(p[from:i])
					if s.endCandidate() {
						return i + 1
					}
				}
				// A statement starts at the beginning of the next line
				// only when no statement is open.
				s.midLine = s.midStmt || s.depth > 0
				i++
				continue
			case ' ', '\t', '\r', '\f', '\v':
			case ';':
				// psql ends a statement at a semicolon outside parentheses
				// (a rule's actions are inside them).
				if s.depth == 0 {
					s.midStmt = false
				}
			case '(':
				s.depth++
				s.midStmt = true
			case ')':
				if s.depth > 0 {
					s.depth--
				}
				s.midStmt = true
			case '\'':
				s.st, s.escapes, s.midStmt, s.cand = stQuote, s.backslash || s.eString(p, i), true, false
			case '"':
				s.st, s.midStmt = stIdent, true
			case '$':
				s.midStmt = true
				// A '$' inside an identifier ("a$b") or a parameter ($1)
				// starts no quote.
				if !identCont(s.before(p, i, 1)) {
					s.st, s.tag, s.cand = stDollarTag, s.tag[:0], false
				}
			case '-':
				// A comment line of its own may be one of pg_dump's table
				// of contents entries (toc.go).
				s.st, s.cand = stDash, !s.midLine && !s.midStmt
				if s.cand {
					from = i
					s.line, s.truncated = s.line[:0], false
				}
			case '/':
				s.st, s.cand = stSlash, false
			case '\\':
				s.st, s.cand = stMeta, false
			default:
				// pg_dump starts its statements at the beginning of a line;
				// only COPY and SET standard_conforming_strings matter here.
				if !s.midLine && !s.midStmt && (c == 'C' || c == 'S') {
					s.cand, from = true, i
					s.line, s.truncated = s.line[:0], false
				}
				s.midStmt = true
			}
			s.midLine = true
			i++
		case stDash:
			if c == '-' {
				s.st = stLineComment
				i++
			} else {
				s.st, s.midStmt, s.cand = stNormal, true, false
			}
		case stSlash:
			if c == '*' {
				s.st, s.comment = stBlock, 1
				i++
			} else {
				s.st, s.midStmt = stNormal, true
			}
		case stLineComment, stMeta:
			// The newline itself is read in stNormal.
			if j := bytes.IndexByte(p[i:], '\n'); j < 0 {
				i = len(p)
			} else {
				i += j
				s.st = stNormal
			}
		case stBlock:
			j := bytes.IndexAny(p[i:], "*/")
			if j < 0 {
				i = len(p)
				continue
			}
			i += j
			if p[i] == '*' {
				s.st = stBlockStar
			} else {
				s.st = stBlockSlash
			}
			i++
		case stBlockStar:
			switch c {
			case '/':
				s.comment--
				if s.comment == 0 {
					s.st = stNormal
				} else {
					s.st = stBlock
				}
				i++
			case '*':
				i++
			default:
				s.st = stBlock
			}
		case stBlockSlash:
			switch c {
			case '*':
				s.comment++
				s.st = stBlock
				i++
			case '/':
				i++
			default:
				s.st = stBlock
			}
		case stQuote:
			var j int
			if s.escapes {
				j = bytes.IndexAny(p[i:], `'\`)
			} else {
				j = bytes.IndexByte(p[i:], '\'')
			}
			if j < 0 {
				i = len(p)
				continue
			}
			i += j
			if p[i] == '\\' {
				s.st = stQuoteBS
			} else {
				s.st = stQuoteEnd
			}
			i++
		case stQuoteBS:
			s.st = stQuote
			i++
		case stQuoteEnd:
			if c == '\'' {
				s.st = stQuote
				i++
			} else {
				s.st = stNormal
			}
		case stIdent:
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				i = len(p)
				continue
			}
			i += j + 1
			s.st = stIdentEnd
		case stIdentEnd:
			if c == '"' {
				s.st = stIdent
				i++
			} else {
				s.st = stNormal
			}
		case stDollarTag:
			switch {
			case c == '$':
				s.st = stDollar
				i++
			case len(s.tag) < maxTag && (identStart(c) || len(s.tag) > 0 && c >= '0' && c <= '9'):
				s.tag = append(s.tag, c)
				i++
			default:
				s.st = stNormal // not a dollar quote after all
			}
		case stDollar:
			j := bytes.IndexByte(p[i:], '$')
			if j < 0 {
				i = len(p)
				continue
			}
			i += j + 1
			s.st, s.match = stDollarEnd, 0
		case stDollarEnd:
			switch {
			case s.match < len(s.tag) && c == s.tag[s.match]:
				s.match++
				i++
			case c == '$' && s.match == len(s.tag):
				s.st = stNormal
				i++
			case c == '$':
				s.match = 0 // this '$' may open the closing tag
				i++
			default:
				s.st = stDollar
			}
		}
	}
	if s.cand {
		s.keep(p[from:])
	}
	return i
}

// endCandidate judges a line that began a statement. It reports whether
// the line is a COPY header, after which the data follows.
func (s *Scanner) endCandidate() bool {
	line := s.line
	s.line = s.line[:0]
	if s.truncated || s.midStmt || s.depth > 0 || s.st != stNormal {
		return false // not one whole statement
	}
	if bytes.HasPrefix(line, []byte("--")) {
		s.tocEntry(line)
		return false
	}
	// pg_dump says how it wrote its strings; before PostgreSQL 9.1 a
	// backslash in any string escaped the next character.
	switch string(line) {
	case "SET standard_conforming_strings = off;":
		s.backslash = true
		return false
	case "SET standard_conforming_strings = on;":
		s.backslash = false
		return false
	}
	table, cols, ok := parseCopyHeader(line)
	if !ok {
		return false
	}
	s.inCopy, s.table, s.columns = true, table, cols
	s.Rows[table] += 0 // an empty table is still listed
	s.wanted = s.Want != nil && s.Want(table)
	return true
}

// eString reports whether the quote at p[i] opens an E'...' string.
func (s *Scanner) eString(p []byte, i int) bool {
	e := s.before(p, i, 1)
	return (e == 'E' || e == 'e') && !identCont(s.before(p, i, 2))
}

// before returns the byte k places before p[i], looking into the end of
// the previous write when needed (0 at the start of the stream).
func (s *Scanner) before(p []byte, i, k int) byte {
	if i >= k {
		return p[i-k]
	}
	return s.hist[2-(k-i)]
}
