package doctor

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/fsmeta"
	"github.com/directus-backup/directus-backup/internal/notify"
	"github.com/directus-backup/directus-backup/internal/ping"
)

// checkMonitoring reports whether the ping URL's server accepts a
// connection (no HTTP request: healthchecks.io counts any request as a
// ping) and whether the metrics file's folder exists and is writable.
func checkMonitoring(ctx context.Context, cfg *config.Config) []Finding {
	var out []Finding
	if cfg.PingURL != "" {
		host := ""
		if u, err := url.Parse(cfg.PingURL); err == nil {
			host = u.Host // the path is the check's token: never shown
		}
		if err := ping.Reachable(ctx, cfg.PingURL); err != nil {
			out = append(out, Finding{Check: "health-check ping", Status: Warn,
				Detail: fmt.Sprintf("cannot reach %s: %v", host, err),
				Fix:    "check BACKUP_PING_URL and the network; a ping that cannot be sent never fails a backup"})
		} else {
			out = append(out, Finding{Check: "health-check ping", Status: OK,
				Detail: host + " accepts connections (no ping sent)"})
		}
	}
	out = append(out, checkNotify(ctx, cfg)...)
	if cfg.MetricsFile != "" {
		dir := filepath.Dir(cfg.MetricsFile)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			out = append(out, Finding{Check: "metrics file", Status: Fail,
				Detail: fmt.Sprintf("%s: folder %s does not exist", cfg.MetricsFile, dir),
				Fix:    "create it (node_exporter's --collector.textfile.directory) or fix BACKUP_METRICS_FILE"})
			return out
		}
		f, err := fsmeta.UnnamedFile(dir, ".directus-backup-doctor-", true)
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			out = append(out, Finding{Check: "metrics file", Status: Fail,
				Detail: fmt.Sprintf("%s: cannot write in %s: %v", cfg.MetricsFile, dir, err),
				Fix:    "fix the folder's permissions or set BACKUP_METRICS_FILE to a writable folder"})
		} else {
			out = append(out, Finding{Check: "metrics file", Status: OK, Detail: dir + " is writable"})
		}
	}
	return out
}

// checkNotify reports, for each notification URL, whether its server
// resolves and accepts a TCP connection; no message is sent. The URLs
// parse: the settings would not have loaded otherwise.
func checkNotify(ctx context.Context, cfg *config.Config) []Finding {
	var out []Finding
	for i, raw := range cfg.NotifyURLs {
		name := fmt.Sprintf("notify URL %d", i+1)
		label := notify.Label(raw)
		hp, err := notify.Reachable(ctx, raw)
		switch {
		case err != nil && hp == "":
			out = append(out, Finding{Check: name, Status: Warn,
				Detail: fmt.Sprintf("%s: server not checked: %v", label, err)})
		case err != nil:
			out = append(out, Finding{Check: name, Status: Warn,
				Detail: fmt.Sprintf("%s: cannot reach %s: %v", label, hp, err),
				Fix:    "check BACKUP_NOTIFY_URLS and the network (directus-backup notify --test sends a message); a notification that cannot be sent never fails a backup"})
		default:
			out = append(out, Finding{Check: name, Status: OK,
				Detail: fmt.Sprintf("%s: %s accepts connections (no message sent)", label, hp)})
		}
	}
	return out
}
