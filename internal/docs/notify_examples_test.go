package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
)

// TestNotifyExamplesLoad copies every BACKUP_NOTIFY_URLS= line of
// docs/monitoring.md into a .env file and loads it: each example parses and
// its service accepts it, as copied.
func TestNotifyExamplesLoad(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "BACKUP_NOTIFY_URLS=") {
			continue
		}
		n++
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.Sources{WorkDir: dir, NoDatabase: true}, time.Now())
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if len(cfg.NotifyURLs) == 0 {
			t.Errorf("%s: no URL", line)
		}
	}
	if n < 6 {
		t.Errorf("found %d BACKUP_NOTIFY_URLS= examples in docs/monitoring.md, want at least 6", n)
	}
}
