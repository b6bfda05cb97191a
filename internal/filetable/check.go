package filetable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/regfile"
)

// Shown is how many names the text output and the manifest carry per
// list; JSON output carries them all.
const Shown = 5

// Report is the file table held against the backup's files.
type Report struct {
	Rows      int        `json:"rows"` // directus_files rows with a filename_disk
	Locations []Location `json:"locations"`
	// NotChecked counts, per storage location, the rows on a location this
	// backup does not hold: their files were not checked.
	NotChecked map[string]int `json:"not_checked,omitempty"`
}

// Location is the result for one storage location.
type Location struct {
	Name  string `json:"name"`
	Rows  int    `json:"rows"`  // rows on this location
	Files int    `json:"files"` // files (and symlinks) the backup holds for it
	// Thumbnails counts Directus's generated transformations whose
	// original's row exists: neither missing nor orphans.
	Thumbnails int `json:"thumbnails"`
	// Missing are the filename_disk values of rows whose file the backup
	// does not hold, sorted.
	Missing []string `json:"missing"`
	// Orphans are the files no row names (including transformations whose
	// original's row is gone), in list order.
	Orphans []string `json:"orphans"`
}

// OK reports whether the location has neither missing files nor orphans.
func (l Location) OK() bool { return len(l.Missing) == 0 && len(l.Orphans) == 0 }

// Problems reports whether any location has missing files or orphans.
func (r Report) Problems() bool {
	for _, l := range r.Locations {
		if !l.OK() {
			return true
		}
	}
	return false
}

// Location returns the result for the location named name.
func (r Report) Location(name string) (Location, bool) {
	for _, l := range r.Locations {
		if l.Name == name {
			return l, true
		}
	}
	return Location{}, false
}

// Check holds rows against the files of each location in lists, which
// maps a Directus storage location name to the path of the entry list
// (manifest.files.jsonl format) of the files the backup holds for it. Rows
// of locations not in lists are counted in NotChecked. It returns an error
// when a list cannot be read, or ctx is cancelled.
func Check(ctx context.Context, rows []Row, lists map[string]string) (Report, error) {
	rep := Report{Rows: len(rows)}
	byLoc := map[string][]Row{}
	for _, r := range rows {
		if _, ok := lists[r.Storage]; ok {
			byLoc[r.Storage] = append(byLoc[r.Storage], r)
			continue
		}
		if rep.NotChecked == nil {
			rep.NotChecked = map[string]int{}
		}
		rep.NotChecked[r.Storage]++
	}
	names := make([]string, 0, len(lists))
	for name := range lists {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		loc, err := checkLocation(ctx, name, byLoc[name], lists[name])
		if err != nil {
			return rep, err
		}
		rep.Locations = append(rep.Locations, loc)
	}
	return rep, nil
}

// HealthFile is the file Directus's /server/health writes at the root of
// every storage location to check it is writable (5 random bytes, no
// directus_files row): not an orphan.
const HealthFile = "directus-health-file"

// checkLocation streams one location's entry list past its rows: memory
// grows with the rows, not with the files.
func checkLocation(ctx context.Context, name string, rows []Row, list string) (Location, error) {
	loc := Location{Name: name, Rows: len(rows), Missing: []string{}, Orphans: []string{}}
	want := make(map[string]bool, len(rows)) // cleaned filename_disk -> seen in the list
	stems := make(map[string]bool, len(rows))
	for _, r := range rows {
		want[key(r.Filename)] = false
		stems[stem(r.Filename)] = true
	}
	// regfile: a symlink or FIFO planted in the backup is not read.
	f, err := regfile.Open(list)
	if err != nil {
		return loc, fmt.Errorf("location %s: %w", name, err)
	}
	defer f.Close()
	rd := manifest.NewReader(f)
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return loc, err
			}
		}
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return loc, fmt.Errorf("location %s: entry list %s: %w", name, list, err)
		}
		if e.Type == manifest.TypeDir {
			continue // folders hold files; they are not files of their own
		}
		if e.Path == HealthFile {
			continue // Directus's own, rewritten by every health check
		}
		loc.Files++
		if seen, ok := want[e.Path]; ok {
			if !seen {
				want[e.Path] = true
			}
			continue
		}
		if isThumbnailOf(e.Path, stems) {
			loc.Thumbnails++
			continue
		}
		loc.Orphans = append(loc.Orphans, e.Path)
	}
	for _, r := range rows {
		if !want[key(r.Filename)] {
			loc.Missing = append(loc.Missing, r.Filename)
		}
	}
	sort.Strings(loc.Missing)
	loc.Missing = dedupe(loc.Missing)
	return loc, nil
}

// key is a filename_disk as the entry list would name its file: Directus
// joins it to the location's root, so "a//b" and "./a" are "a/b" and "a".
// A name that leaves the root keeps its form and matches nothing.
func key(name string) string {
	c := path.Clean(name)
	if c == "." || c == ".." || path.IsAbs(c) || len(c) > 2 && c[:3] == "../" {
		return name
	}
	return c
}

func isThumbnailOf(p string, stems map[string]bool) bool {
	for _, s := range thumbnailStems(p) {
		if stems[s] {
			return true
		}
	}
	return false
}

// dedupe drops repeats from a sorted list (two rows naming one file).
func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// First returns at most Shown of names.
func First(names []string) []string {
	if len(names) > Shown {
		return names[:Shown]
	}
	return names
}
