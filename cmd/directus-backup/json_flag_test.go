package main

import (
	"io"
	"testing"

	"github.com/spf13/cobra"
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
		// A group (offsite) has no work of its own: its commands take it.
		cmds := []*cobra.Command{c}
		if c.HasSubCommands() {
			cmds = c.Commands()
		}
		for _, c := range cmds {
			n++
			if c.Flags().Lookup("json") == nil {
				t.Errorf("%s has no --json", c.CommandPath())
			}
		}
	}
	if n < 7 {
		t.Errorf("found %d commands, want at least 7", n)
	}
}
