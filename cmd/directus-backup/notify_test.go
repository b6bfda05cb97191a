package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/job"
)

// notifyRun redacts the settings' secrets from what it sends, also when an
// error quotes one (a connection string, say), and logs a delivery.
func TestNotifyRunRedacts(t *testing.T) {
	recv := newPingReceiver(t)
	const secret = "Db-pa55word-in-an-error"
	cfg := &config.Config{NotifyURLs: []string{"generic+" + recv.URL + "/hook"}, NotifyOn: config.NotifyOnFailure}
	cfg.DB.Password = secret
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := &job.StepError{Step: job.StepDatabase, Err: errors.New("connect postgres://app:" + secret + "@db/directus: refused")}
	notifyRun(context.Background(), cfg, log, outcome{Command: "backup", Name: "backup_x", Err: err, Summary: "summary " + secret})
	reqs := recv.take()
	if len(reqs) != 1 {
		t.Fatalf("%d webhook requests, want 1", len(reqs))
	}
	if strings.Contains(reqs[0].body, secret) || !strings.Contains(reqs[0].body, "step:   database") {
		t.Errorf("body:\n%s", reqs[0].body)
	}
	if !strings.Contains(logs.String(), "notification sent") {
		t.Errorf("log:\n%s", logs.String())
	}
	// failure only: a success sends nothing.
	notifyRun(context.Background(), cfg, log, outcome{Command: "backup", Name: "backup_x"})
	if n := len(recv.take()); n != 0 {
		t.Errorf("a success with BACKUP_NOTIFY_ON=failure sent %d", n)
	}
}
