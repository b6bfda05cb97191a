// Package ping sends health-check pings in the convention healthchecks.io
// defined and Cronitor and others accept: <url>/start when a run starts,
// <url> on success, <url>/fail with the end of the log on failure. A ping
// that cannot be sent is the caller's warning, never a failed run, so every
// function returns an error and does nothing else.
package ping

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults: a monitoring service that is down must not hold a backup up for
// long (3 tries of 10 s at most, 1 s apart).
const (
	Timeout = 10 * time.Second
	Retries = 2
	// MaxBody is healthchecks.io's default body limit (10 KB); the log's
	// last lines are what says why a run failed.
	MaxBody = 10_000
)

// Pinger pings one check URL. The zero Client means a client of its own
// with Timeout per request.
type Pinger struct {
	URL     string
	Client  *http.Client
	Retries int           // tries after the first; 0 = none
	Pause   time.Duration // between tries
	// ExitStatus ends runs with <url>/<exit code> (<url>/0 on success),
	// the form healthchecks.io takes, instead of <url> and <url>/fail.
	ExitStatus bool
}

// New returns a Pinger for url with the defaults.
func New(url string) *Pinger {
	return &Pinger{URL: url, Client: &http.Client{Timeout: Timeout}, Retries: Retries, Pause: time.Second}
}

// Start tells the service a run has started (it then measures the run and
// alerts when no end ping follows).
func (p *Pinger) Start(ctx context.Context) error { return p.send(ctx, "/start", "") }

// Success ends the run as a success; body is a short summary.
func (p *Pinger) Success(ctx context.Context, body string) error {
	if p.ExitStatus {
		return p.send(ctx, "/0", body)
	}
	return p.send(ctx, "", body)
}

// Fail ends the run as a failure; body (the end of the log, secrets
// removed by the caller) is cut to its last MaxBody bytes.
// code is the run's exit code, sent as <url>/<code> when ExitStatus is set
// (a code outside 1-255 is sent as /fail: services take 0-255, and 0 is
// success).
func (p *Pinger) Fail(ctx context.Context, code int, body string) error {
	suffix := "/fail"
	if p.ExitStatus && code > 0 && code < 256 {
		suffix = "/" + strconv.Itoa(code)
	}
	return p.send(ctx, suffix, Tail(body, MaxBody))
}

// Tail returns the last max bytes of s, from a line start when one is
// within them, so the service shows whole lines.
func Tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return s
}

// endpoint appends suffix to the URL's path, keeping its query
// (https://host/uuid?rid=1 + /fail = https://host/uuid/fail?rid=1).
func (p *Pinger) endpoint(suffix string) (string, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return "", fmt.Errorf("ping URL: %w", err)
	}
	u.Path = strings.TrimRight(u.Path, "/") + suffix
	u.RawPath = ""
	return u.String(), nil
}

func (p *Pinger) send(ctx context.Context, suffix, body string) error {
	target, err := p.endpoint(suffix)
	if err != nil {
		return err
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	what := "success"
	if suffix != "" {
		what = strings.TrimPrefix(suffix, "/")
	}
	var last error
	for try := 0; try <= p.Retries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s ping: %w (after: %v)", what, ctx.Err(), last)
			case <-time.After(p.Pause):
			}
		}
		if last = post(ctx, client, target, body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%s ping failed after %d tries: %w", what, p.Retries+1, last)
}

func post(ctx context.Context, client *http.Client, target, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return scrub(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP status %s", resp.Status)
	}
	return nil
}

// scrub drops the URL from a client error: its path is the check's token.
func scrub(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Reachable checks that the ping URL's host resolves and accepts a TCP
// connection, without an HTTP request: healthchecks.io counts any request
// to a check URL as a ping.
func Reachable(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("ping URL: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	d := net.Dialer{Timeout: Timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", u.Host, err)
	}
	return c.Close()
}
