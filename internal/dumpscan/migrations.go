package dumpscan

import (
	"sort"
	"strings"
)

// Migration is one row of Directus's directus_migrations table: what
// Directus records for each schema migration it has applied.
type Migration struct {
	Version string `json:"version"`
	Name    string `json:"name"`
}

// Migrations collects the directus_migrations rows of a dump as it
// streams by (Scanner.CollectMigrations).
type Migrations struct {
	// Table is the table as the dump names it (e.g.
	// public.directus_migrations); "" when the dump has none.
	Table string
	rows  []Migration
	scan  *Scanner
}

// IsMigrationsTable reports whether a COPY table name is Directus's
// migrations table, in whatever schema the install uses.
func IsMigrationsTable(table string) bool {
	return table == "directus_migrations" || strings.HasSuffix(table, ".directus_migrations")
}

// CollectMigrations makes s hand the rows of directus_migrations to the
// returned collector, beside any rows s already hands on (Want, OnRow).
func (s *Scanner) CollectMigrations() *Migrations {
	m := &Migrations{scan: s}
	var idx []int // of version and name, in m.Table
	s.Also(IsMigrationsTable, func(table string, columns []string, line []byte) {
		if m.Table == "" {
			m.Table = table
		}
		if table != m.Table {
			return // a second schema's copy: the first one seen is Directus's
		}
		if idx == nil {
			idx = Columns(columns, "version", "name")
		}
		v, ok := Field(line, idx[0])
		if !ok {
			return
		}
		n, _ := Field(line, idx[1])
		m.rows = append(m.rows, Migration{Version: v, Name: n})
	})
	return m
}

// Seen reports whether the dump had a directus_migrations table, even an
// empty one.
func (m *Migrations) Seen() bool {
	if m.Table != "" {
		return true
	}
	for t := range m.scan.Rows {
		if IsMigrationsTable(t) {
			m.Table = t
			return true
		}
	}
	return false
}

// Applied returns the migrations in version order, which is the order
// Directus applies them in.
func (m *Migrations) Applied() []Migration {
	out := append([]Migration{}, m.rows...)
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Also adds a consumer of the rows of the tables want accepts, beside the
// Want and OnRow already set, so several readers share one pass.
func (s *Scanner) Also(want func(table string) bool, onRow func(table string, columns []string, line []byte)) {
	prevWant, prevRow := s.Want, s.OnRow
	s.Want = func(t string) bool { return want(t) || (prevWant != nil && prevWant(t)) }
	s.OnRow = func(t string, columns []string, line []byte) {
		if prevRow != nil && prevWant != nil && prevWant(t) {
			prevRow(t, columns, line)
		}
		if want(t) {
			onRow(t, columns, line)
		}
	}
}
