package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/directus-backup/directus-backup/internal/metrics"
)

// pingReceiver is a health-check service stand-in: it records every
// request's method, path and body.
type pingReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []pingRequest
}

type pingRequest struct{ method, path, body string }

func newPingReceiver(t *testing.T) *pingReceiver {
	p := &pingReceiver{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, pingRequest{r.Method, r.URL.Path, string(body)})
		p.mu.Unlock()
		io.WriteString(w, "OK")
	}))
	t.Cleanup(p.Close)
	return p
}

// take returns the requests so far and forgets them.
func (p *pingReceiver) take() []pingRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

func paths(reqs []pingRequest) string {
	var s []string
	for _, r := range reqs {
		s = append(s, r.method+" "+r.path)
	}
	return strings.Join(s, ", ")
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok || len(f.Metric) != 1 {
		t.Fatalf("metric %s missing or not one sample: %v", name, f)
	}
	return f.Metric[0].GetGauge().GetValue()
}

// A successful backup pings /start then the URL, a failing one /start then
// exactly one /fail whose body holds the error and no secret; the metrics
// file holds the run's numbers (as backup --json reports them), keeps the
// last success time across the failed run, and verify records its time.
func TestPingsAndMetricsFile(t *testing.T) {
	f := newFixture(t)
	recv := newPingReceiver(t)
	const token = "5f0c1d2e-token-of-the-check"
	f.env["BACKUP_PING_URL"] = recv.URL + "/" + token
	promDir := filepath.Join(f.dir, "textfile")
	os.Mkdir(promDir, 0o755)
	prom := filepath.Join(promDir, "directus_backup.prom")
	f.env["BACKUP_METRICS_FILE"] = prom

	var b struct {
		OK       bool
		Database struct {
			RawBytes int64 `json:"raw_bytes"`
			Bytes    int64
		}
		Uploads struct {
			Files, Copied, Linked int64
			CopiedBytes           int64 `json:"copied_bytes"`
		}
		Cleanup struct{ Kept []string }
	}
	// Two runs, so the second links files to the first. The first checks
	// its backup (BACKUP_VERIFY), which counts as a successful verify.
	f.env["BACKUP_VERIFY"] = "1"
	f.mustBackup()
	delete(f.env, "BACKUP_VERIFY")
	recv.take()
	fams, err := metrics.Read(prom)
	if err != nil {
		t.Fatal(err)
	}
	verified := gauge(t, fams, metrics.LastVerifyOK)
	r := f.run("backup", "--json", "--quiet")
	mustJSON(t, "backup --json", r, &b)
	if r.code != 0 || !b.OK {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	if got, want := paths(recv.take()), "POST /"+token+"/start, POST /"+token; got != want {
		t.Errorf("pings of a successful backup: %s, want %s", got, want)
	}
	if strings.Contains(r.stderr, token) {
		t.Errorf("ping token in the log:\n%s", r.stderr)
	}

	fi, err := os.Stat(prom)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("metrics file: %v, mode %v", err, fi)
	}
	if fams, err = metrics.Read(prom); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		metrics.ExitCode: 0, metrics.LastOK: 1,
		metrics.DumpRawBytes: float64(b.Database.RawBytes), metrics.DumpStoredBytes: float64(b.Database.Bytes),
		metrics.FilesTotal: float64(b.Uploads.Files), metrics.FilesCopied: float64(b.Uploads.Copied),
		metrics.FilesLinked: float64(b.Uploads.Linked), metrics.BytesCopied: float64(b.Uploads.CopiedBytes),
		metrics.BackupsKept: float64(len(b.Cleanup.Kept)),
	} {
		if got := gauge(t, fams, name); got != want {
			t.Errorf("%s = %v, backup --json says %v", name, got, want)
		}
	}
	if b.Uploads.Linked == 0 || b.Database.RawBytes == 0 {
		t.Errorf("second backup linked nothing or dumped nothing: %+v", b)
	}
	success := gauge(t, fams, metrics.LastSuccess)
	if success != gauge(t, fams, metrics.LastRun) || gauge(t, fams, metrics.FreeBytes) <= 0 {
		t.Errorf("last success %v, last run %v, free %v", success, gauge(t, fams, metrics.LastRun), gauge(t, fams, metrics.FreeBytes))
	}
	steps := map[string]bool{}
	for _, m := range fams[metrics.StepDuration].GetMetric() {
		steps[m.GetLabel()[0].GetValue()] = true
	}
	if !steps["init"] || !steps["database"] || !steps["uploads"] || !steps["cleanup"] {
		t.Errorf("step durations: %v", steps)
	}
	if v := gauge(t, fams, metrics.LastVerifyOK); v != verified || v >= success {
		t.Errorf("verify time %v after a backup without verify, was %v", v, verified)
	}

	// A wrong password fails the run: one /fail with the error, no secret.
	wrong := "Wr0ng-" + f.password
	f.env["DB_PASSWORD"] = wrong
	r = f.run("backup")
	if r.code == 0 {
		t.Fatalf("backup with a wrong password succeeded")
	}
	reqs := recv.take()
	if got, want := paths(reqs), "POST /"+token+"/start, POST /"+token+"/fail"; got != want {
		t.Fatalf("pings of a failed backup: %s, want %s", got, want)
	}
	body := reqs[1].body
	if !strings.Contains(body, "password authentication failed") || !strings.Contains(body, "exit code") {
		t.Errorf("/fail body lacks the error:\n%s", body)
	}
	if strings.Contains(body, wrong) || strings.Contains(body, f.password) || strings.Contains(body, token) {
		t.Errorf("/fail body holds a secret:\n%s", body)
	}
	if len(f.errorDirs()) == 0 {
		t.Errorf("no error folder")
	}
	for _, d := range f.errorDirs() {
		filepath.WalkDir(d, func(p string, e os.DirEntry, _ error) error {
			if data, _ := os.ReadFile(p); e != nil && !e.IsDir() && strings.Contains(string(data), token) {
				t.Errorf("ping token in %s", p)
			}
			return nil
		})
	}
	if fams, err = metrics.Read(prom); err != nil {
		t.Fatal(err)
	}
	if gauge(t, fams, metrics.LastSuccess) != success || gauge(t, fams, metrics.LastRun) <= success ||
		gauge(t, fams, metrics.ExitCode) == 0 || gauge(t, fams, metrics.LastOK) != 0 {
		t.Errorf("after a failed run: last success %v (was %v), last run %v, exit code %v",
			gauge(t, fams, metrics.LastSuccess), success, gauge(t, fams, metrics.LastRun), gauge(t, fams, metrics.ExitCode))
	}
	if _, ok := fams[metrics.DumpRawBytes]; ok {
		t.Errorf("a failed dump reported a dump size")
	}

	// verify updates the same file and keeps the backup's metrics.
	if r = f.run("verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s", r.code, r.stderr)
	}
	if fams, err = metrics.Read(prom); err != nil {
		t.Fatal(err)
	}
	if gauge(t, fams, metrics.LastVerifyOK) <= success || gauge(t, fams, metrics.LastSuccess) != success {
		t.Errorf("after verify: verify time %v, last success %v", gauge(t, fams, metrics.LastVerifyOK), gauge(t, fams, metrics.LastSuccess))
	}
	if len(recv.take()) != 0 {
		t.Errorf("verify sent a backup ping")
	}
}

// A ping URL nobody answers leaves the backup successful, with a warning
// that does not show the URL's token.
func TestPingUnreachable(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	const token = "a1b2c3d4-unreachable-token"
	f.env["BACKUP_PING_URL"] = "http://" + addr + "/" + token
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup with an unreachable ping URL: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "WARN") || !strings.Contains(r.stderr, "health-check ping not sent") {
		t.Errorf("no warning about the ping:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, token) {
		t.Errorf("ping token in the log:\n%s", r.stderr)
	}
}

// BACKUP_PING_EXIT_STATUS=on ends runs with <url>/<exit code>: /0 on
// success, the run's own exit code on failure.
func TestPingExitStatus(t *testing.T) {
	f := newFixture(t)
	recv := newPingReceiver(t)
	f.env["BACKUP_PING_URL"] = recv.URL + "/check-token-1234"
	f.env["BACKUP_PING_EXIT_STATUS"] = "on"
	f.mustBackup()
	if got, want := paths(recv.take()), "POST /check-token-1234/start, POST /check-token-1234/0"; got != want {
		t.Errorf("pings of a successful backup: %s, want %s", got, want)
	}
	f.env["DB_PASSWORD"] = "Wr0ng-" + f.password
	r := f.run("backup")
	if r.code == 0 {
		t.Fatal("backup with a wrong password succeeded")
	}
	reqs := recv.take()
	if got, want := paths(reqs), fmt.Sprintf("POST /check-token-1234/start, POST /check-token-1234/%d", r.code); got != want {
		t.Errorf("pings of a failed backup: %s, want %s", got, want)
	}
	if len(reqs) == 2 && !strings.Contains(reqs[1].body, "password authentication failed") {
		t.Errorf("failure ping body lacks the error:\n%s", reqs[1].body)
	}
}
