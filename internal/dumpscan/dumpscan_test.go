package dumpscan

import (
	"strings"
	"testing"
)

const sample = `--
-- PostgreSQL database dump
--
CREATE TABLE public.t (id integer);

COPY public.directus_files (id, "filename disk", filename_download) FROM stdin;
1	a.jpg	A picture
2	with\ttab\\n.png	\N
3	\N	x
\.


COPY public."Empty Table" (id) FROM stdin;
\.


COPY public.big (v) FROM stdin;
` + "%BIG%" + `
short
\.

--
-- PostgreSQL database dump complete
--
`

func TestScanner(t *testing.T) {
	big := strings.Repeat("x", maxLine+10)
	input := strings.Replace(sample, "%BIG%", big, 1)
	s := New()
	s.Want = func(table string) bool { return table == "public.directus_files" }
	var names []string
	s.OnRow = func(table string, cols []string, line []byte) {
		if cols[1] != "filename disk" {
			t.Errorf("columns %q", cols)
		}
		if v, ok := Field(line, 1); ok {
			names = append(names, v)
		}
	}
	// Feed it in awkward pieces: lines split across writes.
	for i := 0; i < len(input); i += 7 {
		s.Write([]byte(input[i:min(i+7, len(input))]))
	}
	want := map[string]int64{"public.directus_files": 3, `public."Empty Table"`: 0, "public.big": 2}
	if len(s.Rows) != len(want) {
		t.Errorf("rows = %v", s.Rows)
	}
	for k, v := range want {
		if s.Rows[k] != v {
			t.Errorf("rows[%s] = %d, want %d (all: %v)", k, s.Rows[k], v, s.Rows)
		}
	}
	if strings.Join(names, "|") != "a.jpg|with\ttab\\n.png" {
		t.Errorf("names = %q", names)
	}
}

func TestFieldUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\\b`: `a\b`, `a\nb`: "a\nb", `\101B`: "AB", `plain`: "plain"} {
		if got, ok := Field([]byte("x\t"+in), 1); !ok || got != want {
			t.Errorf("Field(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := Field([]byte(`\N`), 0); ok {
		t.Error("NULL reported as a value")
	}
	if _, ok := Field([]byte("a"), 3); ok {
		t.Error("missing column reported as a value")
	}
}

// Blocks say where each COPY block's data lies, however the stream is cut
// into writes.
func TestBlocksOffsets(t *testing.T) {
	input := strings.Replace(sample, "%BIG%", "long row", 1)
	for _, step := range []int{1, 3, 7, 64, len(input)} {
		s := New()
		for i := 0; i < len(input); i += step {
			s.Write([]byte(input[min(i, len(input)):min(i+step, len(input))]))
		}
		if len(s.Blocks) != 3 {
			t.Fatalf("step %d: %d blocks, want 3", step, len(s.Blocks))
		}
		for _, b := range s.Blocks {
			data := input[b.Start:b.End]
			if !strings.HasSuffix(data, "\\.\n") || strings.Contains(data, "COPY") {
				t.Errorf("step %d: block %s is %q", step, b.Table, data)
			}
		}
		if got := input[s.Blocks[0].Start:s.Blocks[0].End]; !strings.HasPrefix(got, "1\ta.jpg") {
			t.Errorf("step %d: first block starts %q", step, got[:10])
		}
	}
}
