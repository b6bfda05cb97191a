package job

import (
	"strings"
	"testing"
)

func TestLeftOut(t *testing.T) {
	rows := map[string]int64{"public.articles": 3, `public."User"`: 1, "cms.directus_activity": 9}
	empty, dumped := leftOut([]string{"directus_activity", "public.directus_activity", "User", "public.articles", "directus_revisions"}, rows)
	if strings.Join(empty, ",") != "public.directus_activity,directus_revisions" || strings.Join(dumped, ",") != "directus_activity,User,public.articles" {
		t.Errorf("empty %q, dumped %q", empty, dumped)
	}
}
