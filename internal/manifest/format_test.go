package manifest

import "testing"

// Only a backup an older version would restore partly is written in the
// new format; the others stay readable by versions that read format 1.
func TestFormatFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Manifest
		want int
	}{
		{"uploads only", Manifest{DefaultLocation: "local"}, 1},
		{"uploads and extensions", Manifest{DefaultLocation: "local", Extensions: &Location{Name: "extensions"}}, 1},
		{"another location", Manifest{DefaultLocation: "local", Storage: []Location{{Name: "archive"}}}, 2},
		{"database only", Manifest{Files: FilesOff, NoUploads: true}, 2},
		{"no local location", Manifest{NoUploads: true}, 2},
	} {
		if got := FormatFor(&tc.m); got != tc.want {
			t.Errorf("%s: format %d, want %d", tc.name, got, tc.want)
		}
	}
	if Format != 2 {
		t.Errorf("this version reads up to format %d, want 2", Format)
	}
}
