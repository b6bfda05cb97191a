package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

const envExcludeTableData = "BACKUP_EXCLUDE_TABLE_DATA"

const excludeAccepted = "a comma-separated list of table names, each a plain identifier (letters, digits, _ and $, not starting with a digit, at most 63 bytes) or schema.table, matched exactly (case kept, no wildcards), e.g. directus_activity,directus_revisions"

// identPart is one unquoted part of a table name; anything else (quotes,
// wildcards, spaces, a leading dash) is refused, so a value can never be
// read by pg_dump as an option or a pattern.
var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}$`)

// excludeTableData reads BACKUP_EXCLUDE_TABLE_DATA: the tables whose rows
// the dump leaves out.
func (r *resolver) excludeTableData() []string {
	v := r.value(envExcludeTableData)
	if v == "" {
		return nil
	}
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		parts := strings.Split(name, ".")
		ok := len(parts) <= 2
		for _, p := range parts {
			ok = ok && identPart.MatchString(p)
		}
		if !ok {
			r.fail(envExcludeTableData, v, excludeAccepted, fmt.Errorf("%q is not a table name", name))
			return nil
		}
		if parts[len(parts)-1] == "directus_migrations" {
			// Without its rows a restored database looks un-migrated:
			// Directus would run every migration again on it.
			r.fail(envExcludeTableData, v, excludeAccepted+"; directus_migrations must keep its rows", nil)
			return nil
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
