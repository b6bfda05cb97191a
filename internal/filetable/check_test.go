package filetable

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/dumpscan"
	"github.com/directus-backup/directus-backup/internal/manifest"
)

// writeList writes an entry list holding the root folder and paths (a
// trailing slash makes a folder), in the order given.
func writeList(t *testing.T, paths ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), manifest.FilesListName)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := manifest.NewListWriter(f)
	add := func(e manifest.Entry) {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	add(manifest.Entry{Path: ".", Type: manifest.TypeDir, Mode: "0755"})
	for _, s := range paths {
		if strings.HasSuffix(s, "/") {
			add(manifest.Entry{Path: strings.TrimSuffix(s, "/"), Type: manifest.TypeDir, Mode: "0755"})
		} else {
			add(manifest.Entry{Path: s, Type: manifest.TypeFile, Mode: "0644", Size: 1, SHA256: strings.Repeat("0", 64)})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

const h1 = "0123456789abcdef0123456789abcdef01234567"
const h2 = "fedcba9876543210fedcba9876543210fedcba98"

func TestBothDirections(t *testing.T) {
	rows := []Row{
		{ID: "1", Storage: "local", Filename: "a1.jpg"},
		{ID: "2", Storage: "local", Filename: "b2.png"}, // its file is gone
		{ID: "3", Storage: "local", Filename: "sub/c3.jpg"},
		{ID: "4", Storage: "s3", Filename: "d4.jpg"},
		{ID: "5", Storage: "s3", Filename: "e5.jpg"},
	}
	list := writeList(t,
		"a1.jpg",
		"a1__"+h1+".jpg",  // thumbnail of a1.jpg
		"a1__"+h2+".webp", // another, format changed
		"c3__"+h1+".jpg",  // Directus puts it at the root, from the basename
		"orphan.txt",
		"sub/",
		"sub/c3.jpg",
		"zz__"+h1+".jpg", // thumbnail of a row that was deleted
	)
	rep, err := Check(context.Background(), rows, map[string]string{"local": list})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := rep.Location("local")
	if !ok || len(rep.Locations) != 1 {
		t.Fatalf("locations %+v", rep.Locations)
	}
	if !reflect.DeepEqual(l.Missing, []string{"b2.png"}) {
		t.Errorf("missing %q, want [b2.png]", l.Missing)
	}
	if !reflect.DeepEqual(l.Orphans, []string{"orphan.txt", "zz__" + h1 + ".jpg"}) {
		t.Errorf("orphans %q", l.Orphans)
	}
	if l.Rows != 3 || l.Files != 7 || l.Thumbnails != 3 {
		t.Errorf("rows %d files %d thumbnails %d, want 3 7 3", l.Rows, l.Files, l.Thumbnails)
	}
	if rep.Rows != 5 || !reflect.DeepEqual(rep.NotChecked, map[string]int{"s3": 2}) {
		t.Errorf("rows %d, not checked %v", rep.Rows, rep.NotChecked)
	}
	if !rep.Problems() {
		t.Error("Problems() = false")
	}
	if got := l.Text(); !strings.Contains(got, `1 directus_files row whose file is missing: "b2.png"`) ||
		!strings.Contains(got, `2 files with no directus_files row: "orphan.txt", "zz__`) {
		t.Errorf("text %q", got)
	}
	if got := rep.NotCheckedText(); got != `directus_files: 2 rows on "s3" not checked: location not in this backup` {
		t.Errorf("not checked text %q", got)
	}
}

// Names that only look like Directus's transformations are orphans.
func TestThumbnailShapes(t *testing.T) {
	rows := []Row{{Storage: "local", Filename: "a.b.jpg"}, {Storage: "local", Filename: ".hidden"}, {Storage: "local", Filename: "x__y.png"}}
	for name, want := range map[string]bool{
		"a.b__" + h1 + ".jpg":                  true,  // stem keeps all but the last extension
		"a.b__" + h1:                           true,  // an original without extension keeps none
		".hidden__" + h1:                       true,  // Node: no extension when the name starts with the dot
		"x__y__" + h1 + ".png":                 true,  // a stem with "__" of its own
		"a.b__" + h1[:39] + ".jpg":             false, // hash too short
		"a.b__" + strings.ToUpper(h1) + ".jpg": false,
		"a.b__" + h1 + ".tar.gz":               false,
		"a__" + h1 + ".jpg":                    false, // no row has stem "a"
		"sub/a.b__" + h1 + ".jpg":              false, // never below the root
	} {
		if got := isThumbnailOf(name, stemsOf(rows)); got != want {
			t.Errorf("%s: thumbnail %v, want %v", name, got, want)
		}
	}
}

func stemsOf(rows []Row) map[string]bool {
	m := map[string]bool{}
	for _, r := range rows {
		m[stem(r.Filename)] = true
	}
	return m
}

func TestCleanLocationAndUnreadableList(t *testing.T) {
	list := writeList(t, "a.jpg", "dir/")
	rep, err := Check(context.Background(), []Row{{Storage: "local", Filename: "./a.jpg"}}, map[string]string{"local": list})
	if err != nil || rep.Problems() {
		t.Fatalf("clean location: %+v, %v", rep, err)
	}
	if _, err := Check(context.Background(), nil, map[string]string{"local": list + ".gone"}); err == nil {
		t.Error("a missing entry list is no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, nil, map[string]string{"local": list}); err == nil {
		t.Error("a cancelled context is no error")
	}
}

// The collector reads directus_files from a dump as pg_dump writes it,
// with COPY escapes, NULLs and without a storage column.
func TestCollector(t *testing.T) {
	dump := "COPY public.directus_files (id, storage, filename_disk, title) FROM stdin;\n" +
		"1\tlocal\ta.jpg\tA\n" +
		"2\ts3\tb\\tc.jpg\tB\n" +
		"3\tlocal\t\\N\tno file\n" +
		"\\.\n" +
		"COPY other.directus_files (id, filename_disk) FROM stdin;\n" +
		"4\td.jpg\n" +
		"\\.\n" +
		"COPY public.articles (id, filename_disk) FROM stdin;\n" +
		"5\tnot-a-file.jpg\n" +
		"\\.\n"
	var c Collector
	s := dumpscan.New()
	c.Hook(s)
	s.Write([]byte(dump))
	want := []Row{{ID: "1", Storage: "local", Filename: "a.jpg"}, {ID: "2", Storage: "s3", Filename: "b\tc.jpg"},
		{ID: "4", Storage: DefaultLocation, Filename: "d.jpg"}}
	if !reflect.DeepEqual(c.Rows, want) {
		t.Errorf("rows %+v, want %+v", c.Rows, want)
	}
}

func TestRecordKeepsFirstNames(t *testing.T) {
	var orphans []string
	for i := 0; i < 12; i++ {
		orphans = append(orphans, string(rune('a'+i)))
	}
	rep := Report{Rows: 1, Locations: []Location{{Name: "local", Rows: 1, Files: 12, Missing: []string{"m"}, Orphans: orphans}}}
	m := rep.Record()
	l := m.Locations[0]
	if l.Missing != 1 || l.Orphans != 12 || len(l.OrphansFirst) != Shown || l.MissingFirst[0] != "m" {
		t.Errorf("record %+v", l)
	}
	if got := rep.Locations[0].OrphansText(); !strings.HasSuffix(got, "and 7 more") {
		t.Errorf("text %q", got)
	}
}

// Directus's health check file at a location's root is Directus's own, not
// an orphan; the same name in a folder is an ordinary file.
func TestHealthFileIsNotAnOrphan(t *testing.T) {
	rows := []Row{{ID: "1", Storage: "local", Filename: "a1.jpg"}}
	list := writeList(t, "a1.jpg", HealthFile, "sub/", "sub/"+HealthFile)
	rep, err := Check(context.Background(), rows, map[string]string{"local": list})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := rep.Location("local")
	if !reflect.DeepEqual(loc.Orphans, []string{"sub/" + HealthFile}) || len(loc.Missing) != 0 {
		t.Errorf("orphans %q, missing %q", loc.Orphans, loc.Missing)
	}
}
