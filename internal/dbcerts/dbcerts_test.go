package dbcerts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/directus-backup/directus-backup/internal/config"
)

func TestWrite(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	db := config.DB{SSLRootCertPEM: "ca\n", SSLKeyPEM: "key\n", SSLCert: "/given/client.crt"}
	cleanup, err := Write(&db)
	if err != nil {
		t.Fatal(err)
	}
	if db.SSLCert != "/given/client.crt" {
		t.Errorf("a path given was replaced: %q", db.SSLCert)
	}
	dir := filepath.Dir(db.SSLRootCert)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder %s: %v %v", dir, fi.Mode(), err)
	}
	for p, want := range map[string]string{db.SSLRootCert: "ca\n", db.SSLKey: "key\n"} {
		data, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || string(data) != want || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q %v %v", p, data, fi.Mode(), err)
		}
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("folder left after cleanup: %v", err)
	}

	// Nothing to write: no folder.
	cleanup, err = Write(&config.DB{SSLRootCert: "/etc/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if ents, _ := os.ReadDir(os.Getenv("TMPDIR")); len(ents) != 0 {
		t.Errorf("folder made with nothing to write: %v", ents)
	}
}
