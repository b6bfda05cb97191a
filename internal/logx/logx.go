// Package logx builds the run's logger: timestamped lines on stderr with the
// "ERROR:" and "WARN:" prefixes the original backup.sh's log analysis looks for
// (or JSON for log shippers), a plain-text copy kept for the error folder,
// and every secret scrubbed from both before it is written.
package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Formats for New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a logger writing to out in the given format and, when capture
// is not nil, a text copy of every line to capture. Each non-empty secret is
// replaced by [REDACTED] wherever it would appear.
func New(out io.Writer, format string, capture io.Writer, level slog.Level, secrets []string) *slog.Logger {
	var hs []slog.Handler
	scrub := func(w io.Writer) io.Writer { return &scrubWriter{w: w, secrets: nonEmpty(secrets)} }
	if format == FormatJSON {
		hs = append(hs, slog.NewJSONHandler(scrub(out), &slog.HandlerOptions{Level: level}))
	} else {
		hs = append(hs, &textHandler{w: scrub(out), level: level, mu: &sync.Mutex{}})
	}
	if capture != nil {
		hs = append(hs, &textHandler{w: scrub(capture), level: slog.LevelDebug, mu: &sync.Mutex{}})
	}
	var h slog.Handler = fanout(hs)
	if len(hs) == 1 {
		h = hs[0]
	}
	// Secrets are removed from the message and values before encoding
	// (quoting and JSON escaping would hide them from a byte-level search),
	// and once more from the encoded bytes.
	return slog.New(&redactHandler{next: h, secrets: nonEmpty(secrets)})
}

// redactHandler replaces secrets in a record's message and attribute
// values before the next handler encodes them.
type redactHandler struct {
	next    slog.Handler
	secrets []string
}

func (h *redactHandler) scrub(s string) string {
	for _, sec := range h.secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i, g := range as {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindString, slog.KindAny:
		if s := v.String(); h.scrub(s) != s {
			return slog.String(a.Key, h.scrub(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, h.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(h.attr(a)); return true })
	return h.next.Handle(ctx, nr)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(out), secrets: h.secrets}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
			if j, err := json.Marshal(s); err == nil && string(j[1:len(j)-1]) != s {
				out = append(out, string(j[1:len(j)-1])) // as it appears inside JSON
			}
		}
	}
	return out
}

type scrubWriter struct {
	w       io.Writer
	secrets []string
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	q := p
	for _, sec := range s.secrets {
		q = bytes.ReplaceAll(q, []byte(sec), []byte("[REDACTED]"))
	}
	if _, err := s.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// textHandler writes "2006-01-02 15:04:05 LEVEL: message key=value ...".
type textHandler struct {
	w      io.Writer
	level  slog.Level
	attrs  []slog.Attr
	groups string
	mu     *sync.Mutex
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("2006-01-02 15:04:05 "))
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("ERROR: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("WARN: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("DEBUG: ")
	default:
		b.WriteString("INFO: ")
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Equal(slog.Attr{}) {
			return
		}
		b.WriteByte(' ')
		b.WriteString(h.groups + a.Key)
		b.WriteByte('=')
		v := a.Value.String()
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(v)
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.groups = h.groups + name + "."
	return &c
}

type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
