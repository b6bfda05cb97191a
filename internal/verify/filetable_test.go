package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// A row whose file the backup run recorded as missing at the source is a
// note, as are files with no row; a file the backup held and lost since is
// a problem.
func TestFileTableNotesAndProblems(t *testing.T) {
	dir, bdir := fixture(t)
	writeDump(t, bdir, dumpSQL("0b0e6a0e-0000-4000-8000-000000000004\tsub/ghost.jpg\tGone\n", true))
	editManifest(t, bdir, func(m *manifest.Manifest) {
		m.FileTable = &manifest.FileTable{Rows: 3, Locations: []manifest.FileTableLocation{{Name: "local", Rows: 3, Missing: 1, Orphans: 2}}}
	})
	res := check(t, dir)
	wantProblems(t, res)
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, `1 directus_files row whose file is missing: "sub/ghost.jpg" (already missing at the source`) ||
		!strings.Contains(notes, `2 files with no directus_files row: "link", "nested/deep/c.txt"`) {
		t.Errorf("notes:\n%s", notes)
	}
	if ft := res.FileTable; ft == nil || len(ft.Locations) != 1 || len(ft.Locations[0].Orphans) != 2 {
		t.Errorf("file table %+v", res.FileTable)
	}

	if err := os.Remove(filepath.Join(bdir, repo.BackupUploadsName, "aaa.jpg")); err != nil {
		t.Fatal(err)
	}
	res = check(t, dir)
	wantProblems(t, res, KindDirectusMissingFile+" uploads/aaa.jpg", KindMissing+" uploads/aaa.jpg")
}
