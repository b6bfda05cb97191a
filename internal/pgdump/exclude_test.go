package pgdump

import (
	"strings"
	"testing"
)

func TestExcludeArgs(t *testing.T) {
	got := strings.Join(ExcludeArgs([]string{"directus_activity", "cms.My_Table"}), " ")
	if got != `--exclude-table-data="directus_activity" --exclude-table-data="cms"."My_Table"` {
		t.Errorf("%s", got)
	}
}
