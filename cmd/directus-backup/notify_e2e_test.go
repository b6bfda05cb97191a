package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/directus-backup/directus-backup/internal/testmail"
)

// secretsIn fails the test when text holds one of the secrets.
func secretsIn(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q:\n%s", what, s, text)
		}
	}
}

// A failing backup (wrong database password) sends exactly one mail (real
// SMTP: mailpit) and one webhook message naming host, backup, failed step
// and error, with no secret; a successful backup with the default
// BACKUP_NOTIFY_ON sends nothing, with always it sends one; verify notifies
// too. doctor checks each notifier's server without sending.
func TestNotifyBackupOutcome(t *testing.T) {
	mail := testmail.Get(t)
	f := newFixture(t)
	inbox := mail.NewInbox(t)
	recv := newPingReceiver(t)
	smtpPass := "Smtp-P4ss-" + filepath.Base(f.dir)
	const hookToken = "b7e1c0de-webhook-token"
	f.env["BACKUP_NOTIFY_URLS"] = inbox.URL("backup-mailer", smtpPass) + ",generic+" + recv.URL + "/hooks/" + hookToken
	host, _ := os.Hostname()

	f.mustBackup()
	time.Sleep(300 * time.Millisecond)
	if n := len(inbox.Messages()); n != 0 {
		t.Errorf("a successful backup with BACKUP_NOTIFY_ON unset sent %d mails", n)
	}
	if reqs := recv.take(); len(reqs) != 0 {
		t.Errorf("a successful backup with BACKUP_NOTIFY_ON unset called the webhook: %s", paths(reqs))
	}

	wrong := "Wr0ng-" + f.password
	f.env["DB_PASSWORD"] = wrong
	r := f.run("backup")
	if r.code == 0 {
		t.Fatalf("backup with a wrong password succeeded")
	}
	secrets := []string{wrong, f.password, smtpPass, hookToken}
	msgs := inbox.Wait(1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if msgs = inbox.Messages(); len(msgs) != 1 {
		t.Fatalf("failed backup: %d mails, want 1", len(msgs))
	}
	m := msgs[0]
	if !strings.HasPrefix(m.Subject, "directus-backup on "+host+": backup backup_") || !strings.Contains(m.Subject, "FAILED (step ") {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"host:   " + host, "backup: backup_", "step:   ", "password authentication failed", "exit code"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("failure mail lacks %q:\n%s", want, m.Text)
		}
	}
	secretsIn(t, "the failure mail", m.Raw, secrets...)
	secretsIn(t, "the log", r.stderr, secrets...)
	reqs := recv.take()
	if len(reqs) != 1 || reqs[0].path != "/hooks/"+hookToken {
		t.Fatalf("webhook requests: %s, want one to the hook", paths(reqs))
	}
	if !strings.HasPrefix(reqs[0].body, m.Subject+"\n") || !strings.Contains(reqs[0].body, "password authentication failed") || !strings.Contains(reqs[0].body, "host:   "+host) {
		t.Errorf("webhook body lacks the title, error or host:\n%s", reqs[0].body)
	}
	secretsIn(t, "the webhook body", reqs[0].body, secrets...)
	for _, d := range f.errorDirs() {
		filepath.WalkDir(d, func(p string, e os.DirEntry, _ error) error {
			if e != nil && !e.IsDir() {
				data, _ := os.ReadFile(p)
				secretsIn(t, p, string(data), smtpPass, hookToken)
			}
			return nil
		})
	}

	// always: a successful backup sends one mail with the summary.
	f.env["DB_PASSWORD"] = f.password
	f.env["BACKUP_NOTIFY_ON"] = "always"
	r = f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	msgs = inbox.Wait(2, 10*time.Second)
	m = msgs[1]
	if m.Subject != "directus-backup on "+host+": backup "+filepath.Base(f.latest())+" succeeded" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Backup complete: ") || !strings.Contains(m.Text, "kept ") {
		t.Errorf("success mail lacks the summary:\n%s", m.Text)
	}
	if reqs := recv.take(); len(reqs) != 1 {
		t.Errorf("webhook requests after a successful backup with always: %d, want 1", len(reqs))
	}

	// verify notifies through the same path.
	if r = f.run("verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s", r.code, r.stderr)
	}
	msgs = inbox.Wait(3, 10*time.Second)
	if want := "directus-backup on " + host + ": verify of the latest backup succeeded"; msgs[2].Subject != want {
		t.Errorf("verify mail subject %q, want %q", msgs[2].Subject, want)
	}
	recv.take()

	// doctor connects to each notifier's server and sends nothing.
	r = f.run("doctor")
	if !strings.Contains(r.stdout, "notify URL 1") || !strings.Contains(r.stdout, mail.Addr+" accepts connections (no message sent)") ||
		!strings.Contains(r.stdout, "notify URL 2") {
		t.Errorf("doctor's notify checks:\n%s", r.stdout)
	}
	secretsIn(t, "doctor's output", r.stdout+r.stderr, secrets...)
	time.Sleep(300 * time.Millisecond)
	if n := len(inbox.Messages()); n != 3 {
		t.Errorf("doctor sent mail: %d messages, want 3", n)
	}
	if reqs := recv.take(); len(reqs) != 0 {
		t.Errorf("doctor called the webhook: %s", paths(reqs))
	}
}

// A notifier nobody answers leaves the backup successful (exit 0) with a
// warning that shows no secret; doctor warns about it.
func TestNotifyUnreachable(t *testing.T) {
	f := newFixture(t)
	const token = "c0ffee00-unreachable-hook"
	const pass = "Unre4chable-smtp-pass"
	f.env["BACKUP_NOTIFY_URLS"] = "generic+http://" + freeAddr(t) + "/hook/" + token +
		" smtp://mailer:" + pass + "@" + freeAddr(t) + "/?from=a@example.com&to=b@example.com"
	f.env["BACKUP_NOTIFY_ON"] = "always"
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup with unreachable notifiers: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Count(r.stderr, "notification not sent; the backup's result stands") != 2 || !strings.Contains(r.stderr, "WARN") {
		t.Errorf("want two warnings about the notifications:\n%s", r.stderr)
	}
	secretsIn(t, "the log", r.stderr, token, pass)
	r = f.run("doctor")
	if !strings.Contains(r.stdout, "warn  notify URL 1") || !strings.Contains(r.stdout, "warn  notify URL 2") {
		t.Errorf("doctor does not warn about the unreachable notifiers:\n%s", r.stdout)
	}
	secretsIn(t, "doctor's output", r.stdout+r.stderr, token, pass)
}

// notify --test delivers one message per URL and exits 0; with an
// unreachable URL among them it still delivers to the others, reports
// which failed (text and JSON) and exits 1.
func TestNotifyTestCommand(t *testing.T) {
	mail := testmail.Get(t)
	a, b := mail.NewInbox(t), mail.NewInbox(t)
	bare := newBare(t)
	env := bare.env
	const pass = "T3st-cmd-smtp-pass"
	bare.env = append(env, "BACKUP_NOTIFY_URLS="+a.URL("mailer", pass)+"\n"+b.URL("mailer", pass))
	r := bare.run("notify", "--test")
	if r.code != 0 {
		t.Fatalf("notify --test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, in := range []*testmail.Inbox{a, b} {
		msgs := in.Wait(1, 10*time.Second)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "test message") {
			t.Errorf("%s: %d messages %+v", in, len(msgs), msgs)
		}
	}
	if strings.Count(r.stdout, "test message sent") != 2 {
		t.Errorf("output:\n%s", r.stdout)
	}

	const token = "d00df00d-closed-hook-token"
	bare.env = append(env, "BACKUP_NOTIFY_URLS="+a.URL("mailer", pass)+",generic+http://"+freeAddr(t)+"/h/"+token)
	r = bare.run("notify", "--test", "--json")
	if r.code != 1 {
		t.Fatalf("notify --test with an unreachable URL: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	var doc struct {
		OK      bool
		Results []struct {
			N        int
			Notifier string
			OK       bool
			Error    string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("notify --test --json: %v\n%s", err, r.stdout)
	}
	if doc.OK || len(doc.Results) != 2 || !doc.Results[0].OK || doc.Results[1].OK || doc.Results[1].Error == "" {
		t.Errorf("JSON: %+v", doc)
	}
	if msgs := a.Wait(2, 10*time.Second); len(msgs) != 2 {
		t.Errorf("the reachable URL got %d messages in all, want 2", len(msgs))
	}
	secretsIn(t, "notify --test's output", r.stdout+r.stderr, token, pass)
}

// An invalid URL or BACKUP_NOTIFY_ON is refused before any work (exit 2, no
// backups folder made), naming the setting and its origin, never the URL's
// secrets.
func TestNotifyInvalidSettings(t *testing.T) {
	bare := newBare(t)
	base := append(bare.env, "DB_DATABASE=directus", "DB_PASSWORD=x", "BACKUP_DB_METHOD=local")
	const pass = "Inv4lid-url-pass"
	for _, tc := range []struct {
		env  string
		want string
	}{
		{"BACKUP_NOTIFY_URLS=smtp://mailer:" + pass + "@mail.example.com:587/?from=a@example.com", "BACKUP_NOTIFY_URLS is invalid: set in the environment; URL 1 of 1 (smtp://mail.example.com:587)"},
		{"BACKUP_NOTIFY_URLS=nosuch://" + pass + "@x", `unknown service: "nosuch"`},
		{"BACKUP_NOTIFY_ON=sometimes", `BACKUP_NOTIFY_ON="sometimes" is invalid: set in the environment; accepted: failure`},
	} {
		bare.env = append(base[:len(base):len(base)], tc.env)
		r := bare.run("backup")
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", tc.env, r.code, tc.want, r.stderr)
		}
		secretsIn(t, "the error", r.stderr, pass)
		if _, err := os.Stat(bare.backups); !os.IsNotExist(err) {
			t.Errorf("%s: the backups folder was made: %v", tc.env, err)
		}
	}
}
