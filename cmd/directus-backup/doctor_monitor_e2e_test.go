package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// doctor, through the binary: the ping URL's server is reached without a
// ping being sent and without showing the token; the metrics file's folder
// is checked. Then with the server gone and the folder missing, both are
// reported and doctor fails.
func TestDoctorPingAndMetrics(t *testing.T) {
	f := newFixture(t)
	recv := newPingReceiver(t)
	const token = "doctor-token-of-the-check"
	f.env["BACKUP_PING_URL"] = recv.URL + "/" + token
	f.env["BACKUP_METRICS_FILE"] = filepath.Join(f.dir, "directus_backup.prom")
	r := f.run("doctor")
	out := r.stdout + r.stderr
	for _, want := range []string{"accepts connections (no ping sent)", f.dir + " is writable"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	recv.mu.Lock()
	n := len(recv.reqs)
	recv.mu.Unlock()
	if n != 0 {
		t.Errorf("doctor sent %d requests to the check: each would count as a ping", n)
	}

	recv.Close()
	f.env["BACKUP_METRICS_FILE"] = filepath.Join(f.dir, "missing", "directus_backup.prom")
	r = f.run("doctor")
	out = r.stdout + r.stderr
	if r.code != exitDoctor {
		t.Errorf("doctor exit %d, want %d", r.code, exitDoctor)
	}
	for _, want := range []string{"health-check ping", "cannot reach", "folder " + filepath.Join(f.dir, "missing") + " does not exist"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Errorf("doctor shows the ping URL's token:\n%s", out)
	}
}
