package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
)

// The connection finding says which setting gave each part, warns about
// the settings a connection string overrides, and never shows the password.
func TestConnectionFinding(t *testing.T) {
	env := map[string]string{
		"DB_CONNECTION_STRING": "postgres://app:Pw-9f3k@db.example.com:6543/directus?sslmode=require",
		"DB_HOST":              "ignored.example.com",
		"DB_SEARCH_PATH":       "cms,public",
		"BACKUP_DB_METHOD":     "local",
	}
	cfg, err := config.Load(config.Sources{WorkDir: t.TempDir(), Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := connection(cfg)
	for _, want := range []string{
		"host db.example.com, port 6543, sslmode require", `database "directus"`, "user app", "search_path cms,public",
		"password set; from DB_CONNECTION_STRING in the environment", "ignored because DB_CONNECTION_STRING is set (Directus ignores them too): DB_HOST",
	} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("finding lacks %q:\n%s", want, f.Detail)
		}
	}
	if f.Status != Warn || strings.Contains(f.Detail, "Pw-9f3k") {
		t.Errorf("status %v, detail %s", f.Status, f.Detail)
	}

	// Separate settings: each part names its own.
	env = map[string]string{"DB_HOST": "h1", "DB_DATABASE": "d1", "BACKUP_DB_METHOD": "local"}
	cfg, err = config.Load(config.Sources{WorkDir: t.TempDir(), Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f = connection(cfg)
	for _, want := range []string{"host h1 (DB_HOST in the environment)", "port 5432 (DB_PORT by default)", `database "d1" (DB_DATABASE in the environment)`} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("finding lacks %q:\n%s", want, f.Detail)
		}
	}
	if f.Status != OK {
		t.Errorf("status %v", f.Status)
	}
}
