package filetable

import (
	"fmt"
	"sort"
	"strings"

	"github.com/directus-backup/directus-backup/internal/manifest"
)

// MissingText says how many rows of l lack their file, naming the first
// few; "" when none do.
func (l Location) MissingText() string {
	switch n := len(l.Missing); n {
	case 0:
		return ""
	case 1:
		return "1 directus_files row whose file is missing: " + list(l.Missing, n)
	default:
		return fmt.Sprintf("%d directus_files rows whose files are missing: %s", n, list(l.Missing, n))
	}
}

// OrphansText says how many files of l no row names, naming the first
// few; "" when there are none.
func (l Location) OrphansText() string {
	switch n := len(l.Orphans); n {
	case 0:
		return ""
	case 1:
		return "1 file with no directus_files row: " + list(l.Orphans, n)
	default:
		return fmt.Sprintf("%d files with no directus_files row: %s", n, list(l.Orphans, n))
	}
}

// Text is one line for a location with problems: both directions.
func (l Location) Text() string {
	parts := []string{}
	for _, s := range []string{l.MissingText(), l.OrphansText()} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return fmt.Sprintf("Directus storage location %q: %s", l.Name, strings.Join(parts, "; "))
}

// NotCheckedText names the locations whose rows were not checked, or "".
func (r Report) NotCheckedText() string {
	if len(r.NotChecked) == 0 {
		return ""
	}
	names := make([]string, 0, len(r.NotChecked))
	for n := range r.NotChecked {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		rows := "rows"
		if r.NotChecked[n] == 1 {
			rows = "row"
		}
		parts[i] = fmt.Sprintf("%d %s on %q", r.NotChecked[n], rows, n)
	}
	return "directus_files: " + strings.Join(parts, ", ") + " not checked: location not in this backup"
}

// list joins the first Shown names, quoted, and counts the rest.
func list(names []string, n int) string {
	shown := First(names)
	q := make([]string, len(shown))
	for i, s := range shown {
		q[i] = fmt.Sprintf("%q", s)
	}
	out := strings.Join(q, ", ")
	if n > len(shown) {
		out += fmt.Sprintf(" and %d more", n-len(shown))
	}
	return out
}

// Record is r as the manifest keeps it: counts and the first names.
func (r Report) Record() *manifest.FileTable {
	m := &manifest.FileTable{Rows: r.Rows, NotChecked: r.NotChecked}
	for _, l := range r.Locations {
		m.Locations = append(m.Locations, manifest.FileTableLocation{
			Name: l.Name, Rows: l.Rows, Files: l.Files, Thumbnails: l.Thumbnails,
			Missing: len(l.Missing), MissingFirst: First(l.Missing),
			Orphans: len(l.Orphans), OrphansFirst: First(l.Orphans),
		})
	}
	return m
}
