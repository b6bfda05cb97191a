package dumpscan

import (
	"fmt"
	"strings"
	"testing"
)

// A line that looks like a COPY header, and a fake block, inside SQL text
// that pg_dump writes across lines: only the real COPY blocks count.
const fakeBlock = "COPY public.fake (id) FROM stdin;\n1\n2\n\\.\n"

const fakeFiles = "COPY public.directus_files (id, filename_disk) FROM stdin;\n9\tghost.jpg\n\\.\n"

const realBlock = "\nCOPY public.real (id) FROM stdin;\n1\n2\n3\n\\.\n\n"

func TestFakeCopyInsideSQLText(t *testing.T) {
	tests := map[string]string{
		"comment string": "COMMENT ON TABLE public.real IS 'Holds rows.\n" + fakeBlock + "end';\n",
		"doubled quote":  "COMMENT ON TABLE public.real IS 'it''s;\n" + fakeBlock + "';\n",
		"column default": "CREATE TABLE public.real (\n    id integer,\n    note text DEFAULT 'first;\n" + fakeBlock + "last'::text\n);\n",
		"E string":       "CREATE TABLE public.real (\n    note text DEFAULT E'a\\';\n" + fakeBlock + "b\\\\'::text\n);\n",
		"dollar body": "CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE sql\n    AS $$SELECT 'x';\n" +
			fakeBlock + "$$;\n",
		"tagged dollar body": "CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $fn$\nBEGIN RETURN $$x$$;\nEND;\n" +
			fakeBlock + "$fn$;\n",
		"dollar tag with $ inside":  "CREATE FUNCTION public.f() RETURNS text\n    AS $_$SELECT $a$;\n" + fakeBlock + "$_$;\n",
		"block comment":             "/* a /* nested */ comment;\n" + fakeBlock + "*/\nSELECT 1;\n",
		"quoted identifier":         "CREATE TABLE public.\"odd;\n" + fakeBlock + "\" (id integer);\n",
		"statement not ended":       "CREATE TABLE public.x (id integer)\n" + fakeBlock + ";\n",
		"parenthesised statement":   "CREATE RULE r AS ON INSERT TO public.real DO INSTEAD (SELECT 1;\n" + fakeBlock + ");\n",
		"directus_files in comment": "COMMENT ON TABLE public.real IS 'Example:\n" + fakeFiles + "';\n",
		"old standard_conforming_strings": "SET standard_conforming_strings = off;\n" +
			"COMMENT ON TABLE public.real IS 'a\\';\n" + fakeBlock + "';\nSET standard_conforming_strings = on;\n",
	}
	for name, schema := range tests {
		t.Run(name, func(t *testing.T) {
			input := "SET client_encoding = 'UTF8';\n\n" + schema + realBlock + "--\n-- PostgreSQL database dump complete\n--\n"
			for _, step := range []int{1, 2, 3, 7, 64, len(input)} {
				s := New()
				s.Want = func(table string) bool { return strings.HasSuffix(table, "directus_files") }
				var rows []string
				s.OnRow = func(table string, _ []string, line []byte) { rows = append(rows, string(line)) }
				for i := 0; i < len(input); i += step {
					s.Write([]byte(input[i:min(i+step, len(input))]))
				}
				if got := fmt.Sprint(s.Rows); got != "map[public.real:3]" {
					t.Fatalf("pieces of %d bytes: rows = %s, want map[public.real:3]", step, got)
				}
				if len(rows) != 0 {
					t.Fatalf("pieces of %d bytes: directus_files rows %q from a comment", step, rows)
				}
			}
		})
	}
}

func TestStandardStringsBackOn(t *testing.T) {
	// After standard_conforming_strings is back on, a backslash escapes
	// nothing: 'a\' is a whole string, and the fake block is in the next.
	input := "SET standard_conforming_strings = off;\nSET standard_conforming_strings = on;\n" +
		"COMMENT ON TABLE public.real IS 'a\\';\n';\n" + fakeBlock + "';\n" + realBlock
	s := New()
	s.Write([]byte(input))
	if got := fmt.Sprint(s.Rows); got != "map[public.real:3]" {
		t.Fatalf("rows = %s", got)
	}
}

func TestQuotedTableNames(t *testing.T) {
	input := "COPY public.\"a (b\" (id, \"x, y\", \"q\"\"t\") FROM stdin;\n1\t2\t3\n\\.\n\n" +
		"COPY \"My Schema\".\"it's; FROM stdin;\" (id) FROM stdin;\n1\n2\n\\.\n\n" +
		"COPY public.\"two\nlines\" (id) FROM stdin;\n1\n\\.\n\n" +
		"COPY public.plain (id) FROM stdin;\n\\.\n\n" +
		"COMMENT ON TABLE public.plain IS 'still lexed: '';\nCOPY public.fake (id) FROM stdin;\n';\n"
	s := New()
	s.Want = func(string) bool { return true }
	var cols []string
	s.OnRow = func(table string, c []string, _ []byte) {
		if table == `public."a (b"` {
			cols = c
		}
	}
	for i := 0; i < len(input); i += 5 {
		s.Write([]byte(input[i:min(i+5, len(input))]))
	}
	want := map[string]int64{`public."a (b"`: 1, `"My Schema"."it's; FROM stdin;"`: 2, "public.\"two\nlines\"": 1, "public.plain": 0}
	if fmt.Sprint(s.Rows) != fmt.Sprint(want) {
		t.Errorf("rows = %v, want %v", s.Rows, want)
	}
	if strings.Join(cols, "|") != `id|x, y|q"t` {
		t.Errorf("columns = %q", cols)
	}
}

// psql's backslash commands (pg_dump writes \connect, \restrict and
// \unrestrict) end at the end of their line and open no statement.
func TestMetaCommands(t *testing.T) {
	input := "\\restrict abc'def\n\nSET x = 1;\n\\connect - \"o'ne\"\n" + realBlock + "\\unrestrict abc'def\n"
	s := New()
	s.Write([]byte(input))
	if got := fmt.Sprint(s.Rows); got != "map[public.real:3]" {
		t.Fatalf("rows = %s", got)
	}
}
