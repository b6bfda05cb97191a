package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// clearStorage checks the storage defaults (one location "local" in
// UploadsDir, extensions beside extDir, files on) and clears them, so the
// whole-Config comparisons of the older tests stay as they were.
func clearStorage(t *testing.T, c *Config, extDir string) {
	t.Helper()
	want := []StorageLocation{{Name: "local", Driver: DriverLocal, Root: c.UploadsDir}}
	if !reflect.DeepEqual(c.Storage, want) || c.DefaultLocation != "local" || c.NoFiles ||
		c.ExtensionsDir != filepath.Join(extDir, "extensions") {
		t.Errorf("storage defaults: %+v default %q nofiles %v extensions %q", c.Storage, c.DefaultLocation, c.NoFiles, c.ExtensionsDir)
	}
	c.Storage, c.DefaultLocation, c.ExtensionsDir = nil, "", ""
}

func TestStorageLocations(t *testing.T) {
	wd := t.TempDir()
	secretFile := filepath.Join(wd, "s3secret")
	if err := os.WriteFile(secretFile, []byte("sekrit-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := minimalEnv(map[string]string{
		"STORAGE_LOCATIONS":           "s3,local, Archive",
		"STORAGE_LOCAL_ROOT":          "/srv/uploads",
		"STORAGE_ARCHIVE_DRIVER":      "local",
		"STORAGE_ARCHIVE_ROOT":        "arch",
		"STORAGE_S3_DRIVER":           "s3",
		"STORAGE_S3_KEY":              "AKIAKEY",
		"STORAGE_S3_SECRET_FILE":      secretFile,
		"STORAGE_S3_BUCKET":           "files",
		"STORAGE_S3_REGION":           "eu-west-1",
		"STORAGE_S3_ENDPOINT":         "http://127.0.0.1:9000",
		"STORAGE_S3_FORCE_PATH_STYLE": "true",
		"STORAGE_S3_ROOT":             "directus/",
		"EXTENSIONS_PATH":             "/srv/ext",
		"BACKUP_FILES":                "OFF",
	})
	c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: wd})
	want := []StorageLocation{
		{Name: "s3", Driver: DriverS3, Root: "directus/", S3: S3Location{Key: "AKIAKEY", Secret: "sekrit-from-file",
			Bucket: "files", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true}},
		{Name: "local", Driver: DriverLocal, Root: "/srv/uploads"},
		{Name: "Archive", Driver: DriverLocal, Root: filepath.Join(wd, "arch")},
	}
	if !reflect.DeepEqual(c.Storage, want) {
		t.Errorf("locations:\n got %+v\nwant %+v", c.Storage, want)
	}
	if c.DefaultLocation != "local" || c.UploadsDir != "/srv/uploads" || !c.NoFiles || c.ExtensionsDir != "/srv/ext" {
		t.Errorf("default %q uploads %q nofiles %v extensions %q", c.DefaultLocation, c.UploadsDir, c.NoFiles, c.ExtensionsDir)
	}
	if extra := c.ExtraLocations(); len(extra) != 2 || extra[0].Name != "s3" || extra[1].Name != "Archive" {
		t.Errorf("extra locations: %+v", extra)
	}
	secrets := strings.Join(c.Secrets(), " ")
	if !strings.Contains(secrets, "AKIAKEY") || !strings.Contains(secrets, "sekrit-from-file") {
		t.Errorf("S3 location keys are not in Secrets(): %q", secrets)
	}

	// BACKUP_UPLOADS_DIR overrides the default location's root.
	env["BACKUP_UPLOADS_DIR"] = "/mnt/uploads"
	c = mustLoad(t, Sources{Env: envFunc(env), WorkDir: wd})
	if c.UploadsDir != "/mnt/uploads" || c.Storage[1].Root != "/mnt/uploads" {
		t.Errorf("BACKUP_UPLOADS_DIR: uploads %q, local root %q", c.UploadsDir, c.Storage[1].Root)
	}
}

func TestStorageNoLocalLocation(t *testing.T) {
	env := minimalEnv(map[string]string{
		"STORAGE_LOCATIONS": "s3", "STORAGE_S3_DRIVER": "s3", "STORAGE_S3_BUCKET": "b",
	})
	c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: t.TempDir()})
	if c.UploadsDir != "" || c.DefaultLocation != "" || len(c.ExtraLocations()) != 1 {
		t.Errorf("no local location: uploads %q default %q extra %+v", c.UploadsDir, c.DefaultLocation, c.ExtraLocations())
	}
}

func TestStorageRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"STORAGE_LOCATIONS": "local,gc", "STORAGE_GC_DRIVER": "gcs"},
			[]string{`STORAGE_GC_DRIVER="gcs" is invalid`, "not supported yet", "accepted: local or s3"}},
		{map[string]string{"STORAGE_LOCATIONS": "local,x", "STORAGE_X_DRIVER": "ftp"},
			[]string{`STORAGE_X_DRIVER="ftp" is invalid`, "accepted: local or s3"}},
		{map[string]string{"STORAGE_LOCATIONS": "local,archive"},
			[]string{"STORAGE_ARCHIVE_DRIVER", "required"}},
		{map[string]string{"STORAGE_LOCATIONS": "local,archive", "STORAGE_ARCHIVE_DRIVER": "local"},
			[]string{"STORAGE_ARCHIVE_ROOT", "required"}},
		{map[string]string{"STORAGE_LOCATIONS": "local,LOCAL"},
			[]string{"STORAGE_LOCATIONS", "each location once"}},
		{map[string]string{"STORAGE_LOCATIONS": "a/b"},
			[]string{"STORAGE_LOCATIONS", "letters, digits"}},
		{map[string]string{"STORAGE_LOCATIONS": "s3", "STORAGE_S3_DRIVER": "s3", "STORAGE_S3_BUCKET": "b", "BACKUP_UPLOADS_DIR": "/u"},
			[]string{"BACKUP_UPLOADS_DIR", "no local location"}},
		{map[string]string{"EXTENSIONS_PATH": "/srv", "BACKUPS_DIR": "/srv/backups"},
			[]string{"BACKUPS_DIR", "a folder outside the extensions folder /srv"}},
		{map[string]string{"STORAGE_LOCATIONS": "local,archive", "STORAGE_ARCHIVE_DRIVER": "local", "STORAGE_ARCHIVE_ROOT": "/srv/backups/a", "BACKUPS_DIR": "/srv/backups"},
			[]string{"BACKUPS_DIR", "outside the storage location archive's folder"}},
		{map[string]string{"BACKUP_FILES": "maybe"},
			[]string{`BACKUP_FILES="maybe" is invalid`, "on or off"}},
	} {
		_, err := Load(Sources{Env: envFunc(minimalEnv(tc.env)), WorkDir: t.TempDir()}, fixedNow())
		if err == nil {
			t.Errorf("%v: loaded", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.env, err, w)
			}
		}
	}
}
