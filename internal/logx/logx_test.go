package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestTextPrefixesAndCapture(t *testing.T) {
	var out, capture bytes.Buffer
	log := New(&out, FormatText, &capture, slog.LevelInfo, nil)
	log.Info("started", "path", "/a b")
	log.Warn("careful")
	log.Error("failed", "err", errors.New("boom"))
	log.Debug("hidden on stderr")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	for i, want := range []string{` INFO: started path="/a b"`, " WARN: careful", " ERROR: failed err=boom"} {
		if !strings.HasSuffix(lines[i], want) || len(lines[i]) != 19+len(want) {
			t.Errorf("line %d = %q, want timestamp + %q", i, lines[i], want)
		}
	}
	if !strings.Contains(capture.String(), "DEBUG: hidden on stderr") {
		t.Errorf("capture lacks debug detail: %q", capture.String())
	}
}

func TestSecretsScrubbed(t *testing.T) {
	secret := `pa"ss wo<r>d&\x01`
	for _, format := range []string{FormatText, FormatJSON} {
		var out, capture bytes.Buffer
		log := New(&out, format, &capture, slog.LevelInfo, []string{secret, ""})
		log.Error("connect failed: password "+secret+" rejected", "dsn", "postgres://u:"+secret+"@h/db",
			"err", errors.New("auth "+secret), slog.Group("g", "inner", secret))
		for name, s := range map[string]string{"out": out.String(), "capture": capture.String()} {
			if strings.Contains(s, "ss wo") || strings.Contains(s, "u003c") {
				t.Errorf("%s %s leaks the secret: %s", format, name, s)
			}
			if !strings.Contains(s, "[REDACTED]") {
				t.Errorf("%s %s: no redaction mark: %s", format, name, s)
			}
		}
		if format == FormatJSON {
			var m map[string]any
			if err := json.Unmarshal(out.Bytes(), &m); err != nil {
				t.Errorf("JSON broken by scrubbing: %v: %s", err, out.String())
			}
		}
	}
}
