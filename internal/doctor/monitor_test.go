package doctor

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/config"
)

// doctor connects to the ping host without sending a ping, never shows the
// token, and checks the metrics file's folder.
func TestCheckMonitoring(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n, _ := c.Read(make([]byte, 1))
		got <- n
		c.Close()
	}()
	dir := t.TempDir()
	cfg := &config.Config{PingURL: "http://" + l.Addr().String() + "/secret-token", MetricsFile: filepath.Join(dir, "m.prom")}
	fs := checkMonitoring(context.Background(), cfg)
	if len(fs) != 2 || fs[0].Status != OK || fs[1].Status != OK || strings.Contains(fs[0].Detail, "secret-token") {
		t.Fatalf("findings: %+v", fs)
	}
	l.Close()
	if n := <-got; n != 0 {
		t.Errorf("doctor sent %d bytes to the ping server", n)
	}

	cfg.MetricsFile = filepath.Join(dir, "missing", "m.prom")
	fs = checkMonitoring(context.Background(), cfg) // the listener is closed now
	if len(fs) != 2 || fs[0].Status != Warn || fs[1].Status != Fail || strings.Contains(fs[0].Detail+fs[0].Fix, "secret-token") {
		t.Errorf("findings: %+v", fs)
	}
}
