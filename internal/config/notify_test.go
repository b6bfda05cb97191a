package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// URLs are split at spaces, line breaks and commas before a scheme; a comma
// inside a URL (smtp's to= list) stays.
func TestSplitNotifyURLs(t *testing.T) {
	got := splitNotifyURLs(" smtp://h/?from=a@x&to=b@x,c@x,ntfy://ntfy.sh/t\n generic+https://h/p,, ")
	want := []string{"smtp://h/?from=a@x&to=b@x,c@x", "ntfy://ntfy.sh/t", "generic+https://h/p"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// BACKUP_NOTIFY_URLS_FILE is read like DB_PASSWORD_FILE; the URLs'
// credentials are secrets; BACKUP_NOTIFY_ON defaults to failure.
func TestNotifyURLsFile(t *testing.T) {
	dir := t.TempDir()
	urls := "smtp://mailer:Sm7p-pass-word@mail.example.com:587/?from=a@example.com&to=b@example.com,c@example.com\n" +
		"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@backups\n"
	if err := os.WriteFile(filepath.Join(dir, "notify-urls"), []byte(urls), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, Sources{WorkDir: dir, Env: envFunc(minimalEnv(map[string]string{"BACKUP_NOTIFY_URLS_FILE": "notify-urls"}))})
	if len(c.NotifyURLs) != 2 || c.NotifyOn != NotifyOnFailure {
		t.Fatalf("urls %q, on %q", c.NotifyURLs, c.NotifyOn)
	}
	s := c.Secrets()
	for _, want := range []string{"Sm7p-pass-word", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", c.NotifyURLs[0]} {
		if !slices.Contains(s, want) {
			t.Errorf("Secrets() lacks %q", want)
		}
	}
	_, err := Load(Sources{WorkDir: dir, Env: envFunc(minimalEnv(map[string]string{
		"BACKUP_NOTIFY_URLS":      "ntfy://ntfy.sh/t",
		"BACKUP_NOTIFY_URLS_FILE": "notify-urls",
	}))}, fixedNow())
	if err == nil || !strings.Contains(err.Error(), "either BACKUP_NOTIFY_URLS or BACKUP_NOTIFY_URLS_FILE") {
		t.Errorf("both in the environment: %v", err)
	}
}
