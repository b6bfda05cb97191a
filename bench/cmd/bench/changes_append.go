package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/bench"
)

// Kinds of change set. A "day" is the benchmark's day of changes
// (applyChanges); an "append" day is what a Directus instance does on an
// ordinary day (applyAppendChanges). The -db variants leave the uploads
// folder and directus_files alone, for the database-only scenarios.
const (
	changeDay      = "day"
	changeDayDB    = "day-db"
	changeAppend   = "append"
	changeAppendDB = "append-db"
)

// appendSeed separates the append-mostly day's random streams from the
// ordinary day's.
const appendSeed = 0xa99e4d

// editedArticles is how many articles an append-mostly day edits.
const editedArticles = 20

// changeOf applies the next change set of the given kind.
func (h *harness) changeOf(kind string) error {
	k := h.nextK
	h.nextK++
	var (
		cs  changeStats
		err error
	)
	switch kind {
	case changeDay, changeDayDB:
		cs, err = applyChanges(h.db, h.src, h.spec, k, kind == changeDay)
	case changeAppend, changeAppendDB:
		cs, err = applyAppendChanges(h.db, h.src, h.spec, k, kind == changeAppend)
	default:
		err = fmt.Errorf("unknown change kind %q", kind)
	}
	if err != nil {
		return err
	}
	cs.Kind = kind
	h.changes = append(h.changes, cs)
	h.settle()
	return h.refreshSource()
}

// applyAppendChanges applies append-mostly change set k: new
// directus_activity and directus_revisions rows (about 1% of each table,
// made by the tables' own row generators, so new content, not copies),
// editedArticles articles edited, and, with files, 0.5% uploads files added
// with their directus_files rows. Nothing is rewritten or deleted. The same
// k on the same state gives the same changes.
func applyAppendChanges(d *db, root string, spec sizeSpec, k int, files bool) (changeStats, error) {
	start := time.Now()
	cs := changeStats{K: k}
	r := rand.New(rand.NewPCG(dataSeed^appendSeed, uint64(k)))
	var sql bytes.Buffer
	sql.WriteString("BEGIN;\n")
	var b []byte
	for i, tb := range bench.Tables(spec.Users) {
		if tb.Name != "directus_activity" && tb.Name != "directus_revisions" {
			continue
		}
		out, err := d.query("", fmt.Sprintf("SELECT count(*), coalesce(max(id), 0) FROM %s", tb.Name))
		if err != nil {
			return cs, err
		}
		count, maxID, err := twoInts(out)
		if err != nil {
			return cs, fmt.Errorf("%s: %w", tb.Name, err)
		}
		n := max(1, count/100)
		fmt.Fprintf(&sql, "COPY %s (%s) FROM STDIN;\n", tb.Name, tb.Columns)
		t := bench.NewText(dataSeed^appendSeed^uint64(k), uint64(200+i))
		for id := maxID + 1; id <= maxID+n; id++ {
			b = tb.Row(t, id, b[:0])
			sql.Write(b)
		}
		sql.WriteString("\\.\n")
		cs.InsertedRows += n
	}

	out, err := d.query("", "SELECT coalesce(max(id), 0) FROM articles")
	if err != nil {
		return cs, err
	}
	maxArticle, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return cs, fmt.Errorf("articles max(id) %q: %w", out, err)
	}
	if maxArticle > 0 {
		ids := make([]string, 0, editedArticles)
		for i := 0; i < editedArticles; i++ {
			ids = append(ids, strconv.FormatInt(1+r.Int64N(maxArticle), 10))
		}
		fmt.Fprintf(&sql, "UPDATE articles SET title = left(title, 200) || ' (edit %d)', summary = summary || ' Updated.', "+
			"date_updated = '%s' WHERE id IN (%s);\n", k, bench.ChangeTime(k), strings.Join(ids, ","))
		cs.EditedRows = editedArticles
	}

	if files {
		existing, err := listFiles(root)
		if err != nil {
			return cs, err
		}
		nAdd := max(1, len(existing)/200)
		day := bench.Epoch.Unix() + int64(k)*86400
		// 1<<41: ids apart from the initial files and the ordinary day's.
		if err := addUploads(&sql, root, spec, &cs, bench.NewText(dataSeed^appendSeed^uint64(k), 8), 1<<41+uint64(k)<<20, day, nAdd); err != nil {
			return cs, err
		}
	}
	sql.WriteString("COMMIT;\nCHECKPOINT;\n")
	if _, err := d.psql("", &sql); err != nil {
		return cs, fmt.Errorf("append change set %d: %w", k, err)
	}
	cs.Seconds = time.Since(start).Seconds()
	return cs, nil
}

// twoInts parses psql -tA's "a|b".
func twoInts(s string) (int64, int64, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "|")
	if !ok {
		return 0, 0, fmt.Errorf("unexpected %q", s)
	}
	x, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, err
	}
	y, err := strconv.ParseInt(b, 10, 64)
	return x, y, err
}

// otherChangesText describes, for the report's dataset section, the change
// sets other than the ordinary day's.
func (h *harness) otherChangesText() string {
	var b strings.Builder
	count := map[string]int{}
	var rows, edited, added int64
	var addedBytes int64
	nAppend := 0
	for _, c := range h.changes {
		count[c.Kind]++
		if c.Kind == changeAppend || c.Kind == changeAppendDB {
			rows += c.InsertedRows
			edited += c.EditedRows
			nAppend++
		}
		if c.Kind == changeAppend {
			added += int64(c.Added)
			addedBytes += c.AddedBytes
		}
	}
	if n := count[changeDayDB]; n > 0 {
		fmt.Fprintf(&b, "\nThe database part of a day (%d sets, database-only scenarios): the same table changes, the uploads folder and directus_files untouched.\n", n)
	}
	if nAppend > 0 {
		fmt.Fprintf(&b, "\nAppend-mostly day (%d sets, %d of them database-only; average per set): %d new directus_activity and directus_revisions rows, "+
			"%d articles edited", nAppend, count[changeAppendDB], rows/int64(nAppend), edited/int64(nAppend))
		if n := count[changeAppend]; n > 0 {
			fmt.Fprintf(&b, ", %d uploads files added (%.1f MiB) with their directus_files rows (sets with files)", added/int64(n), mib(addedBytes/int64(n)))
		}
		b.WriteString("; nothing rewritten or deleted.\n")
	}
	return b.String()
}
