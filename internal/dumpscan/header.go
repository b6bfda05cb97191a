package dumpscan

import "bytes"

// parseCopyHeader reads the statement pg_dump writes before each table's
// data, `COPY <qualified name> [(<columns>)] FROM stdin;`, and returns the
// table name as written (quoted where pg_dump quoted it: that text is the
// key of the row counts and a valid SQL reference) and the column names
// unquoted. ok is false for anything else.
func parseCopyHeader(line []byte) (table string, cols []string, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("COPY "))
	if !found {
		return "", nil, false
	}
	// The qualified name: identifiers joined by dots.
	n := 0
	for {
		_, m := readIdent(rest[n:])
		if m == 0 {
			return "", nil, false
		}
		n += m
		if n < len(rest) && rest[n] == '.' {
			n++
			continue
		}
		break
	}
	table, rest = string(rest[:n]), rest[n:]
	if r, found := bytes.CutPrefix(rest, []byte(" (")); found {
		rest = r
		for {
			rest = bytes.TrimLeft(rest, " ")
			name, m := readIdent(rest)
			if m == 0 {
				return "", nil, false
			}
			cols = append(cols, name)
			rest = bytes.TrimLeft(rest[m:], " ")
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
				continue
			}
			if len(rest) == 0 || rest[0] != ')' {
				return "", nil, false
			}
			rest = rest[1:]
			break
		}
	}
	if string(rest) != " FROM stdin;" {
		return "", nil, false
	}
	return table, cols, true
}

// readIdent reads one SQL identifier at the start of b, plain or
// double-quoted (with "" for a quote), and returns its name and length;
// length 0 when there is none.
func readIdent(b []byte) (string, int) {
	if len(b) == 0 {
		return "", 0
	}
	if b[0] == '"' {
		var name []byte
		for i := 1; i < len(b); i++ {
			if b[i] != '"' {
				name = append(name, b[i])
				continue
			}
			if i+1 < len(b) && b[i+1] == '"' {
				name = append(name, '"')
				i++
				continue
			}
			if len(name) == 0 {
				return "", 0 // "" is not an identifier
			}
			return string(name), i + 1
		}
		return "", 0
	}
	if !identStart(b[0]) {
		return "", 0
	}
	i := 1
	for i < len(b) && identCont(b[i]) {
		i++
	}
	return string(b[:i]), i
}

// The characters of an unquoted identifier, as PostgreSQL's lexer has them
// (bytes from 0x80 up are parts of multibyte letters).
func identStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func identCont(c byte) bool { return identStart(c) || c >= '0' && c <= '9' || c == '$' }
