package exitcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// codeErr is a step-like error that carries a code and wraps a cause.
type codeErr struct {
	code int
	err  error
}

func (e codeErr) Error() string { return "step: " + e.err.Error() }
func (e codeErr) Unwrap() error { return e.err }
func (e codeErr) ExitCode() int { return e.code }

func TestFind(t *testing.T) {
	locked := New(Locked, "locked")
	for _, tc := range []struct {
		name string
		err  error
		want int
		ok   bool
	}{
		{"nil", nil, OK, true},
		{"plain", errors.New("x"), Failure, false},
		{"sentinel wrapped", fmt.Errorf("take lock: %w", locked), Locked, true},
		{"With", With(Refused, errors.New("x")), Refused, true},
		{"interrupted", fmt.Errorf("dump: %w", context.Canceled), Interrupted, true},
		{"interruption beats a code", With(Restore, fmt.Errorf("psql: %w", context.Canceled)), Interrupted, true},
		{"interruption beside a code", fmt.Errorf("%w: %w", New(NoCheck, "could not verify"), context.Canceled), Interrupted, true},
		{"cleanup beats interruption", codeErr{Cleanup, context.Canceled}, Cleanup, true},
		{"outermost code", With(NoCheck, locked), NoCheck, true},
		{"joined", errors.Join(errors.New("a"), With(Usage, errors.New("b"))), Usage, true},
	} {
		got, ok := Find(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Find = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", locked), locked) || locked.Error() != "locked" {
		t.Error("a sentinel must match errors.Is and keep its message")
	}
	if With(Usage, nil) != nil {
		t.Error("With(code, nil) must be nil")
	}
}

func TestHelpListsOnlyTheCommandsCodes(t *testing.T) {
	h := Help("restore")
	for _, want := range []string{"\n  0    success", "\n  2 ", "\n  11 ", "\n  12 ", "\n  13 ", "\n  130 "} {
		if !strings.Contains(h, want) {
			t.Errorf("restore help lacks %q:\n%s", want, h)
		}
	}
	for _, not := range []string{"\n  4 ", "\n  8 ", "\n  9 "} {
		if strings.Contains(h, not) {
			t.Errorf("restore help lists %q, which restore never returns:\n%s", not, h)
		}
	}
	all := Help("")
	for _, in := range Table {
		if !strings.Contains(all, fmt.Sprintf("\n  %d ", in.Code)) {
			t.Errorf("top-level help lacks code %d", in.Code)
		}
	}
	for _, l := range strings.Split(all, "\n") {
		if len(l) > 80 {
			t.Errorf("help line longer than 80 columns: %q", l)
		}
	}
}

func TestTableIsOrderedAndUnique(t *testing.T) {
	for i := 1; i < len(Table); i++ {
		if Table[i].Code <= Table[i-1].Code {
			t.Errorf("Table out of order at code %d", Table[i].Code)
		}
	}
}
