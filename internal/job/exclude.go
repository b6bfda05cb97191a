package job

import (
	"strings"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
)

// leftOut sorts the BACKUP_EXCLUDE_TABLE_DATA names by what the dump
// holds: empty, a table it defines without rows; dumped, one it still
// holds rows of (an unqualified name whose table is not on the default
// search_path, which is where pg_dump looks); missing, one it does not
// define at all (a typo, or a table since dropped). rows is the dump's COPY
// tables, named as pg_dump writes them (quoted where needed); tables are
// its table of contents entries (raw names).
func leftOut(names []string, rows map[string]int64, tables []dumpscan.TableName) (empty, dumped, missing []string) {
	for _, n := range names {
		switch {
		case hasRows(n, rows):
			dumped = append(dumped, n)
		case defines(n, tables):
			empty = append(empty, n)
		default:
			missing = append(missing, n)
		}
	}
	return empty, dumped, missing
}

func defines(name string, tables []dumpscan.TableName) bool {
	schema, table, qualified := strings.Cut(name, ".")
	if !qualified {
		table = schema
	}
	for _, t := range tables {
		if t.Name == table && (!qualified || t.Schema == schema) {
			return true
		}
	}
	return false
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
