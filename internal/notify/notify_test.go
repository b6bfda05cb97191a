package notify

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	for _, good := range []string{
		"smtp://user:s3cretpass@mail.example.com:587/?from=backup@example.com&to=ops@example.com",
		"ntfy://ntfy.sh/directus-backups",
		"generic+https://hooks.example.com/backup/tokenpath",
		"slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook",
		"discord://tokentoken@123456789",
		"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@backups",
	} {
		if err := Check(good); err != nil {
			t.Errorf("Check(%s): %v", Label(good), err)
		}
	}
	for _, bad := range []string{"nosuch://x", "smtp://user:s3cretpass@mail.example.com/", "not a url", "https://example.com/x"} {
		err := Check(bad)
		if err == nil {
			t.Errorf("Check(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpass") {
			t.Errorf("Check's error shows the password: %v", err)
		}
	}
}

func TestLabelAndSecrets(t *testing.T) {
	raw := "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@backups"
	if l := Label(raw); l != "telegram" {
		t.Errorf("Label = %q", l)
	}
	if l := Label("smtp://u:p@mail.example.com:587/?to=a@b"); l != "smtp://mail.example.com:587" {
		t.Errorf("Label = %q", l)
	}
	text := "error posting to https://api.telegram.org/bot110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
	got := strings.NewReplacer().Replace(text)
	for _, s := range Secrets(raw) {
		got = strings.ReplaceAll(got, s, "[x]")
	}
	if strings.Contains(got, "AAHdqTcv") {
		t.Errorf("token survives: %s", got)
	}
	g := Secrets("generic+https://hooks.example.com/backup/tok3n?x=1")
	if !slices.Contains(g, "backup/tok3n") {
		t.Errorf("generic path not secret: %q", g)
	}
}

func TestSendGenericWebhook(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + string(b)
	}))
	defer srv.Close()
	raw := "generic+" + srv.URL + "/hook/secrettoken?template=json"
	closed := "generic+http://127.0.0.1:1/closed/5ecret-t0ken"
	res := Send(context.Background(), []string{raw, closed}, Message{Title: "the title", Body: "the body"})
	if res[0].Err != nil {
		t.Fatalf("send: %v", res[0].Err)
	}
	if res[1].Err == nil {
		t.Fatalf("a closed port was reported delivered")
	}
	if strings.Contains(res[1].Err.Error(), "5ecret-t0ken") || res[1].Label != "generic+http://127.0.0.1:1" {
		t.Errorf("the error or label shows the token: %s: %v", res[1].Label, res[1].Err)
	}
	b := <-got
	if !strings.Contains(b, "/hook/secrettoken") || !strings.Contains(b, "the title") || !strings.Contains(b, "the body") {
		t.Errorf("webhook got %q", b)
	}
	if hp, err := Reachable(context.Background(), raw); err != nil || hp != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("Reachable = %q, %v", hp, err)
	}
	if _, err := Reachable(context.Background(), "generic+http://127.0.0.1:1/closed"); err == nil {
		t.Errorf("a closed port is reachable")
	}
}

// A server that accepts the connection and never answers (an SMTP server
// that sends no greeting, a webhook that sends no response) costs at most
// the timeout, for all URLs together: they are sent to in parallel.
func TestSendTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	sendTimeout = 500 * time.Millisecond
	defer func() { sendTimeout = Timeout }()
	addr := l.Addr().String()
	urls := []string{
		"smtp://" + addr + "/?from=a@example.com&to=b@example.com",
		"generic+http://" + addr + "/hook",
		"generic+http://" + addr + "/hook2",
	}
	start := time.Now()
	res := Send(context.Background(), urls, Message{Title: "t", Body: "b"})
	if d := time.Since(start); d > 1200*time.Millisecond { // in sequence it would be 1.5s
		t.Errorf("Send took %s with a 500ms timeout", d)
	}
	for _, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "no answer within 500ms") {
			t.Errorf("%s: %v", r.Label, r.Err)
		}
	}
}
