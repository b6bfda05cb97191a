package config

import (
	"slices"
	"strings"
	"testing"
)

// The ping URL and its token path are secrets; a bad URL is reported
// without itself; the metrics file path is made absolute.
func TestPingURLAndMetricsFile(t *testing.T) {
	dir := t.TempDir()
	c := mustLoad(t, Sources{WorkDir: dir, Env: envFunc(minimalEnv(map[string]string{
		"BACKUP_PING_URL":     "https://hc-ping.com/0f3c-token-uuid/",
		"BACKUP_METRICS_FILE": "textfile/directus_backup.prom",
	}))})
	if c.PingURL != "https://hc-ping.com/0f3c-token-uuid" || c.MetricsFile != dir+"/textfile/directus_backup.prom" {
		t.Errorf("ping %q, metrics %q", c.PingURL, c.MetricsFile)
	}
	if s := c.Secrets(); !slices.Contains(s, "0f3c-token-uuid") || !slices.Contains(s, c.PingURL) {
		t.Errorf("Secrets() = %q", s)
	}
	for _, bad := range []string{"hc-ping.com/secret-token", "ftp://host/secret-token", "https:///secret-token"} {
		_, err := Load(Sources{WorkDir: dir, Env: envFunc(minimalEnv(map[string]string{"BACKUP_PING_URL": bad}))}, fixedNow())
		if err == nil || !strings.Contains(err.Error(), "BACKUP_PING_URL") || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
