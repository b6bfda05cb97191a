package job

import "strings"

// leftOut splits the BACKUP_EXCLUDE_TABLE_DATA names into those whose rows
// the dump left out and those it still holds rows for (an unqualified name
// whose table is not on the default search_path, which pg_dump matches).
// rows is the dump's COPY tables, named as pg_dump writes them (quoted
// where needed).
func leftOut(names []string, rows map[string]int64) (empty, dumped []string) {
	for _, n := range names {
		if hasRows(n, rows) {
			dumped = append(dumped, n)
		} else {
			empty = append(empty, n)
		}
	}
	return empty, dumped
}

func hasRows(name string, rows map[string]int64) bool {
	schema, table, qualified := strings.Cut(name, ".")
	if !qualified {
		table = schema
	}
	for k := range rows {
		for _, t := range []string{table, `"` + table + `"`} {
			if !qualified && strings.HasSuffix(k, "."+t) {
				return true
			}
			for _, s := range []string{schema, `"` + schema + `"`} {
				if qualified && k == s+"."+t {
					return true
				}
			}
		}
	}
	return false
}
