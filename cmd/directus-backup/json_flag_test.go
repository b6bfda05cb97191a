package main

import (
	"io"
	"testing"
)

// docs/usage.md says every command in its table takes --json; a new
// command must too.
func TestEveryCommandTakesJSON(t *testing.T) {
	root, _ := newRootCommand(io.Discard, io.Discard)
	n := 0
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		n++
		if c.Flags().Lookup("json") == nil {
			t.Errorf("%s has no --json", c.Name())
		}
	}
	if n < 7 {
		t.Errorf("found %d commands, want at least 7", n)
	}
}
