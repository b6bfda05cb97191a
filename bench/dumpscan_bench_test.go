package bench

import (
	"testing"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
)

// BenchmarkDumpScan runs the dump scanner, which every backup and verify
// puts on the dump stream, over the SQL-like text of sqlLike (mostly COPY
// data) preceded by a schema section with quoted strings, comments and
// dollar-quoted function bodies, written in 64 KiB pieces as a pipe
// delivers them:
//
//	go test -run '^$' -bench DumpScan -benchtime 10x ./bench/
func BenchmarkDumpScan(b *testing.B) {
	schema := schemaLike()
	b.Run("dump", func(b *testing.B) { scanBench(b, append(schema, sqlLike()...)) })
	b.Run("schema-only", func(b *testing.B) { scanBench(b, schema) })
}

func scanBench(b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := dumpscan.New()
		for off := 0; off < len(in); off += 64 << 10 {
			s.Write(in[off:min(off+64<<10, len(in))])
		}
		if len(s.Rows) == 0 && len(in) > 4<<20 {
			b.Fatal("no tables found")
		}
	}
}

// schemaLike is about 2 MiB of schema DDL of the kinds pg_dump writes.
func schemaLike() []byte {
	var b []byte
	for i := 0; len(b) < 2<<20; i++ {
		b = append(b, `
--
-- Name: fn_touch; Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.fn_touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated := now(); -- keep it fresh
  RAISE NOTICE 'it''s touched: %', NEW.id;
  RETURN NEW;
END
$$;

CREATE TABLE public."Some Table" (
    id integer NOT NULL,
    note text DEFAULT 'a note
over two lines'::text,
    esc text DEFAULT E'it\'s \\ here'::text
);

COMMENT ON TABLE public."Some Table" IS 'A table /* not a comment */ -- nor this';

ALTER TABLE ONLY public."Some Table"
    ADD CONSTRAINT "Some Table_pkey" PRIMARY KEY (id);
`...)
	}
	return b
}
