package dumpscan

import (
	"fmt"
	"testing"
)

func TestParseCopyHeader(t *testing.T) {
	for line, want := range map[string]string{
		"COPY public.t (a, b) FROM stdin;":              "public.t [a b]",
		"COPY t FROM stdin;":                            "t []",
		`COPY "S"."T" ("A") FROM stdin;`:                `"S"."T" [A]`,
		"COPY public.t (a, b) FROM stdin; -- x":         "no",
		"COPY public.t (a, b) TO stdout;":               "no",
		"COPY public.t (a FROM stdin;":                  "no",
		`COPY public."t (a) FROM stdin;`:                "no",
		"COPY public. t (a) FROM stdin;":                "no",
		"COPY (SELECT 1) FROM stdin;":                   "no",
		"COPY public.t (a, b) FROM stdin WITH x;":       "no",
		"COPY public.t$1 (a_b$, \"c\"\"\") FROM stdin;": `public.t$1 [a_b$ c"]`,
	} {
		table, cols, ok := parseCopyHeader([]byte(line))
		got := "no"
		if ok {
			got = fmt.Sprintf("%s %v", table, cols)
		}
		if got != want {
			t.Errorf("parseCopyHeader(%q) = %s, want %s", line, got, want)
		}
	}
}
