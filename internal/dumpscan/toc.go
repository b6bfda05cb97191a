package dumpscan

import (
	"bytes"
	"strings"
)

// TableName is a table as pg_dump's table of contents names it: the raw
// schema and table names, unquoted.
type TableName struct {
	Schema, Name string
}

// tocEntry reads one of the comments pg_dump writes before each object,
//
//	-- Name: directus_activity; Type: TABLE; Schema: public; Owner: directus
//
// and records the tables. The comment exists with or without the table's
// rows, so a table whose rows were left out (--exclude-table-data) is
// still known. Names holding "; " are misread, and only ever compared with
// plain identifiers.
func (s *Scanner) tocEntry(line []byte) {
	rest, ok := bytes.CutPrefix(line, []byte("-- Name: "))
	if !ok {
		return
	}
	fields := strings.Split(string(rest), "; ")
	if len(fields) < 3 || fields[1] != "Type: TABLE" {
		return
	}
	schema, ok := strings.CutPrefix(fields[2], "Schema: ")
	if !ok {
		return
	}
	s.Tables = append(s.Tables, TableName{Schema: schema, Name: fields[0]})

}
