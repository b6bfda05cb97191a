package testmail

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// TestInboxSeesOnlyItsMail sends with net/smtp to two inboxes: each lists
// only its own message, and the helper reads subject and body.
func TestInboxSeesOnlyItsMail(t *testing.T) {
	s := Get(t)
	a, b := s.NewInbox(t), s.NewInbox(t)
	for _, in := range []*Inbox{a, b} {
		msg := "From: x@example.com\r\nTo: " + in.Addr + "\r\nSubject: hello " + in.Addr + "\r\n\r\nbody for " + in.Addr + "\r\n"
		if err := smtp.SendMail(s.Addr, nil, "x@example.com", []string{in.Addr}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range []*Inbox{a, b} {
		msgs := in.Wait(1, 10*time.Second)
		if len(msgs) != 1 || msgs[0].Subject != "hello "+in.Addr || !strings.Contains(msgs[0].Text, "body for "+in.Addr) {
			t.Errorf("%s: %+v", in, msgs)
		}
	}
}
