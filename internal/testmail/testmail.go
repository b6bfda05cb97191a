// Package testmail gives tests a real SMTP server: the mailpit that
// scripts/test.sh starts (scripts/mail.sh) and describes in
// DIRECTUS_BACKUP_TEST_SMTP_ADDR and DIRECTUS_BACKUP_TEST_MAILPIT_API. Tests
// read what arrived through mailpit's HTTP API.
//
// Packages run their tests in parallel against the one server, so each test
// gets its own Inbox (a unique recipient address), sees only the messages
// sent to it, and deletes them when it ends.
//
// Without those variables the tests that need the server are skipped,
// unless DIRECTUS_BACKUP_TEST_REQUIRE_PG is set (scripts/test.sh sets it),
// in which case they fail: CI must never pass by skipping.
package testmail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Server is the test SMTP server.
type Server struct {
	Addr string // host:port, plain SMTP, any login accepted
	API  string // mailpit's HTTP API, http://host:port
}

// Get returns the test server, or skips (or fails, when required) the test.
func Get(t testing.TB) Server {
	t.Helper()
	s := Server{Addr: os.Getenv("DIRECTUS_BACKUP_TEST_SMTP_ADDR"), API: os.Getenv("DIRECTUS_BACKUP_TEST_MAILPIT_API")}
	if s.Addr == "" || s.API == "" {
		if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
			t.Fatal("DIRECTUS_BACKUP_TEST_REQUIRE_PG is set but no SMTP test server is described; run scripts/test.sh")
		}
		t.Skip("no SMTP test server; run scripts/test.sh")
	}
	return s
}

// Inbox is one test's recipient address on the server.
type Inbox struct {
	s    Server
	t    testing.TB
	Addr string // the recipient address, unique to the test
}

// NewInbox makes a unique recipient address; its messages are deleted when
// the test ends.
func (s Server) NewInbox(t testing.TB) *Inbox {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	in := &Inbox{s: s, t: t, Addr: "ops-" + hex.EncodeToString(b) + "@example.com"}
	t.Cleanup(in.deleteAll)
	return in
}

// URL is a shoutrrr smtp:// URL that sends to the inbox, logging in with
// user and password (mailpit accepts any).
func (in *Inbox) URL(user, password string) string {
	u := url.URL{Scheme: "smtp", User: url.UserPassword(user, password), Host: in.s.Addr, Path: "/"}
	q := url.Values{"from": {"directus-backup@example.com"}, "to": {in.Addr}}
	u.RawQuery = q.Encode()
	return u.String()
}

// Message is one received mail.
type Message struct {
	ID      string
	Subject string
	From    string
	To      []string
	Text    string // the plain-text body
	Raw     string // the whole message as received, headers included
}

type address struct {
	Address string `json:"Address"`
}

type summary struct {
	ID      string    `json:"ID"`
	Subject string    `json:"Subject"`
	From    address   `json:"From"`
	To      []address `json:"To"`
}

// Messages returns the messages the inbox received, oldest first.
func (in *Inbox) Messages() []Message {
	in.t.Helper()
	var list struct {
		Messages []summary `json:"messages"`
	}
	in.get("/api/v1/messages?limit=1000", &list)
	var out []Message
	for i := len(list.Messages) - 1; i >= 0; i-- { // the API lists newest first
		m := list.Messages[i]
		if !in.mine(m.To) {
			continue
		}
		var full struct {
			Text string `json:"Text"`
		}
		in.get("/api/v1/message/"+m.ID, &full)
		msg := Message{ID: m.ID, Subject: m.Subject, From: m.From.Address, Text: full.Text, Raw: in.raw(m.ID)}
		for _, a := range m.To {
			msg.To = append(msg.To, a.Address)
		}
		out = append(out, msg)
	}
	return out
}

// Wait returns the inbox's messages once there are at least n, or fails the
// test after timeout. Delivery is done when the sender returns, but mailpit
// stores the message just after.
func (in *Inbox) Wait(n int, timeout time.Duration) []Message {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := in.Messages()
		if len(msgs) >= n || time.Now().After(deadline) {
			if len(msgs) < n {
				in.t.Fatalf("inbox %s: %d messages after %s, want %d", in.Addr, len(msgs), timeout, n)
			}
			return msgs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (in *Inbox) mine(to []address) bool {
	for _, a := range to {
		if strings.EqualFold(a.Address, in.Addr) {
			return true
		}
	}
	return false
}

func (in *Inbox) get(path string, v any) {
	in.t.Helper()
	resp, err := http.Get(in.s.API + path)
	if err != nil {
		in.t.Fatalf("mailpit API: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		in.t.Fatalf("mailpit API GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		in.t.Fatalf("mailpit API GET %s: %v", path, err)
	}
}

func (in *Inbox) raw(id string) string {
	in.t.Helper()
	resp, err := http.Get(in.s.API + "/api/v1/message/" + id + "/raw")
	if err != nil {
		in.t.Fatalf("mailpit API: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		in.t.Fatalf("mailpit API raw %s: %v", id, err)
	}
	return b.String()
}

// deleteAll removes the inbox's messages (DELETE /api/v1/messages with
// their IDs), so the server holds only what running tests sent.
func (in *Inbox) deleteAll() {
	var ids []string
	for _, m := range in.Messages() {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return
	}
	body, _ := json.Marshal(map[string][]string{"IDs": ids})
	req, err := http.NewRequest(http.MethodDelete, in.s.API+"/api/v1/messages", bytes.NewReader(body))
	if err != nil {
		in.t.Error(err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Errorf("mailpit API DELETE: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		in.t.Errorf("mailpit API DELETE: %s", resp.Status)
	}
}

// String names the inbox in test messages.
func (in *Inbox) String() string { return fmt.Sprintf("inbox %s", in.Addr) }
