package config

import (
	"strings"
	"testing"
)

func TestExcludeTableData(t *testing.T) {
	c := mustLoad(t, Sources{WorkDir: t.TempDir(), Env: envFunc(minimalEnv(map[string]string{
		"BACKUP_EXCLUDE_TABLE_DATA": " directus_activity, public.directus_revisions,,directus_activity,My_Table$1",
	}))})
	if got := strings.Join(c.ExcludeTableData, ","); got != "directus_activity,public.directus_revisions,My_Table$1" {
		t.Errorf("ExcludeTableData = %q", got)
	}
	for _, bad := range []string{"a.b.c", "-t", `"x"`, "direct*", "a b", "1abc", "x;y", "public.", strings.Repeat("a", 64), "directus_migrations", "s.directus_migrations"} {
		_, err := Load(Sources{WorkDir: t.TempDir(), Env: envFunc(minimalEnv(map[string]string{"BACKUP_EXCLUDE_TABLE_DATA": "ok," + bad}))}, fixedNow())
		if err == nil || !strings.Contains(err.Error(), "BACKUP_EXCLUDE_TABLE_DATA") || !strings.Contains(err.Error(), "accepted:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
