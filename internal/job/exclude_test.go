package job

import (
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
)

func TestLeftOut(t *testing.T) {
	rows := map[string]int64{"public.articles": 3, `public."User"`: 1, "cms.directus_activity": 9}
	tables := []dumpscan.TableName{{Schema: "public", Name: "articles"}, {Schema: "public", Name: "User"}, {Schema: "cms", Name: "directus_activity"},
		{Schema: "public", Name: "directus_activity"}, {Schema: "public", Name: "directus_revisions"}}
	empty, dumped, missing := leftOut([]string{"directus_activity", "public.directus_activity", "User", "public.articles",
		"directus_revisions", "cms.directus_revisions", "Directus_Revisions"}, rows, tables)
	if strings.Join(empty, ",") != "public.directus_activity,directus_revisions" ||
		strings.Join(dumped, ",") != "directus_activity,User,public.articles" ||
		strings.Join(missing, ",") != "cms.directus_revisions,Directus_Revisions" {
		t.Errorf("empty %q, dumped %q, missing %q", empty, dumped, missing)
	}
}
