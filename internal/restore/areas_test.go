package restore

import (
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
)

func TestTargets(t *testing.T) {
	m := &manifest.Manifest{Format: 2, DefaultLocation: "local",
		Storage:    []manifest.Location{{Name: "Archive", Folder: "storage/archive", Uploads: manifest.Uploads{ListFile: "manifest.storage.archive.jsonl"}}},
		Extensions: &manifest.Location{Name: "extensions", Folder: "extensions", Uploads: manifest.Uploads{ListFile: "manifest.extensions.jsonl"}}}
	b := repo.Backup{Name: "backup_x_1", Path: "/b/backup_x_1", State: repo.Complete, Manifest: m}
	base := Request{UploadsDir: "/live/uploads", DefaultLocation: "local", ExtensionsDir: "/live/ext",
		LocationDirs: map[string]string{"local": "/live/uploads", "archive": "/live/archive"}}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	describe := func(ts []target) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.name+"="+t.dir+":"+t.view.UploadsPath())
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name string
		req  Request
		want string // "" with err
		err  string
	}{
		{"everything", with(func(r *Request) { r.AllFiles = true }),
			"local=/live/uploads:/b/backup_x_1/uploads Archive=/live/archive:/b/backup_x_1/storage/archive", ""},
		{"one location, any case", with(func(r *Request) { r.Locations = []string{"ARCHIVE"} }),
			"Archive=/live/archive:/b/backup_x_1/storage/archive", ""},
		{"the default location's name is uploads/", with(func(r *Request) { r.Locations = []string{"local"}; r.Uploads = true }),
			"local=/live/uploads:/b/backup_x_1/uploads", ""},
		{"extensions", with(func(r *Request) { r.Extensions = true; r.TargetDir = "/tmp/x" }),
			"extensions=/tmp/x:/b/backup_x_1/extensions", ""},
		{"target dir for two", with(func(r *Request) { r.AllFiles = true; r.TargetDir = "/tmp/x" }), "", "--target-dir names one folder"},
		{"unknown location", with(func(r *Request) { r.Locations = []string{"nope"} }), "", `no storage location "nope"`},
		{"location not local here", with(func(r *Request) { r.Locations = []string{"archive"}; r.LocationDirs = nil }), "", "STORAGE_ARCHIVE_ROOT"},
	} {
		ts, err := targets(tc.req, b)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && describe(ts) != tc.want:
			t.Errorf("%s:\n got %s\nwant %s", tc.name, describe(ts), tc.want)
		}
	}

	// A database-only backup refuses any files selection, and restores
	// nothing but the database without one.
	off := repo.Backup{Name: "backup_y_2", Path: "/b/backup_y_2", State: repo.Complete,
		Manifest: &manifest.Manifest{Format: 2, Files: manifest.FilesOff, NoUploads: true}}
	if ts, err := targets(with(func(r *Request) { r.AllFiles = true }), off); err != nil || len(ts) != 0 {
		t.Errorf("database-only, no selection: %v %v", describe(ts), err)
	}
	if _, err := targets(with(func(r *Request) { r.Uploads = true }), off); err == nil || !strings.Contains(err.Error(), "database-only") {
		t.Errorf("database-only, --uploads: %v", err)
	}
}
