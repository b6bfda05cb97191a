package dumpscan

import (
	"strings"
	"testing"
)

// Migrations are collected beside another reader of rows, in version
// order, from the first schema's table; a comment that looks like a COPY
// block is not one.
func TestCollectMigrations(t *testing.T) {
	dump := `-- COPY public.directus_migrations (version, name, "timestamp") FROM stdin;
COPY public.directus_files (id, filename_disk) FROM stdin;
1	a.jpg
\.

COPY public.directus_migrations (version, name, "timestamp") FROM stdin;
20240806A	Permissions Policies	2024-08-06 00:00:00+00
20201028A	Remove Collection Foreign Keys	2020-10-28 00:00:00+00
\.

COPY other.directus_migrations (version, name, "timestamp") FROM stdin;
29990101A	Not Directus's	2024-08-06 00:00:00+00
\.
`
	s := New()
	var files []string
	s.Want = func(table string) bool { return table == "public.directus_files" }
	s.OnRow = func(table string, _ []string, line []byte) {
		v, _ := Field(line, 1)
		files = append(files, table+":"+v)
	}
	m := s.CollectMigrations()
	s.Write([]byte(dump))
	if strings.Join(files, ",") != "public.directus_files:a.jpg" {
		t.Errorf("the other reader got %v", files)
	}
	a := m.Applied()
	if !m.Seen() || m.Table != "public.directus_migrations" || len(a) != 2 ||
		a[0] != (Migration{"20201028A", "Remove Collection Foreign Keys"}) || a[1].Version != "20240806A" {
		t.Errorf("migrations %q %+v", m.Table, a)
	}

	s = New()
	m = s.CollectMigrations()
	s.Write([]byte("COPY public.t (id) FROM stdin;\n1\n\\.\n"))
	if m.Seen() || len(m.Applied()) != 0 {
		t.Errorf("a dump without directus_migrations: %+v", m)
	}
}
