package ping

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A server error is retried; the suffix goes before the query.
func TestRetryAndQuery(t *testing.T) {
	var n atomic.Int32
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		got.Store(r.URL.String())
	}))
	defer srv.Close()
	p := New(srv.URL + "/uuid?rid=7")
	p.Pause = 10 * time.Millisecond
	if err := p.Fail(context.Background(), 6, "boom"); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || got.Load() != "/uuid/fail?rid=7" {
		t.Errorf("%d requests, last %v", n.Load(), got.Load())
	}
	n.Store(-10)
	if err := p.Start(context.Background()); err == nil || strings.Contains(err.Error(), "uuid") {
		t.Errorf("3 failures: %v", err)
	}
}

func TestTail(t *testing.T) {
	s := strings.Repeat("line\n", 5000)
	got := Tail(s, MaxBody)
	if len(got) > MaxBody || !strings.HasPrefix(got, "line\n") || !strings.HasSuffix(s, got) {
		t.Errorf("tail of %d bytes starts %q", len(got), got[:10])
	}
}

// With ExitStatus, runs end as <url>/<exit code>: /0 on success; a code
// services cannot take falls back to /fail.
func TestExitStatus(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
	}))
	defer srv.Close()
	p := New(srv.URL + "/uuid")
	p.ExitStatus = true
	ctx := context.Background()
	if err := p.Success(ctx, "ok"); err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{6, 14, 300} {
		if err := p.Fail(ctx, code, "boom"); err != nil {
			t.Fatal(err)
		}
	}
	p.ExitStatus = false
	p.Success(ctx, "ok")
	p.Fail(ctx, 6, "boom")
	if s := strings.Join(got, " "); s != "/uuid/0 /uuid/6 /uuid/14 /uuid/fail /uuid /uuid/fail" {
		t.Errorf("pings: %s", s)
	}
}
