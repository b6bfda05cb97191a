package exitcode

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readmeHeader starts the exit-code table in the documentation.
const readmeHeader = "| Code | Meaning | Returned by |"

// TestReadmeTableMatches checks that the documentation's exit-code table
// (README.md, or a page under docs/ once it moves there) has the same codes,
// meanings and commands as Table, in the same order.
func TestReadmeTableMatches(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{filepath.Join(root, "README.md")}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, docs...)
	var found []string
	var rows []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) != readmeHeader {
				continue
			}
			found = append(found, f)
			for _, r := range lines[i+2:] {
				if !strings.HasPrefix(strings.TrimSpace(r), "|") {
					break
				}
				rows = append(rows, strings.TrimSpace(r))
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one table headed %q in README.md or docs/*.md, found %d: %v", readmeHeader, len(found), found)
	}
	if len(rows) != len(Table) {
		t.Errorf("%s: %d rows, Table has %d codes", found[0], len(rows), len(Table))
	}
	for i, r := range rows {
		cells := strings.Split(strings.Trim(r, "|"), "|")
		if len(cells) != 3 {
			t.Errorf("row %q: want 3 cells", r)
			continue
		}
		code, err := strconv.Atoi(strings.TrimSpace(cells[0]))
		if err != nil {
			t.Errorf("row %q: code: %v", r, err)
			continue
		}
		if i >= len(Table) {
			t.Errorf("row %q: no such code in Table", r)
			continue
		}
		in := Table[i]
		if code != in.Code {
			t.Errorf("row %d: code %d, Table has %d", i, code, in.Code)
		}
		if m := strings.TrimSpace(cells[1]); m != in.Meaning {
			t.Errorf("code %d: README says %q, Table says %q", code, m, in.Meaning)
		}
		var cmds []string
		if c := strings.TrimSpace(cells[2]); c == "all" {
			cmds = allCommands
		} else {
			for _, c := range strings.Split(c, ",") {
				cmds = append(cmds, strings.Trim(strings.TrimSpace(c), "`"))
			}
		}
		if !slices.Equal(cmds, in.Commands) {
			t.Errorf("code %d: README says commands %v, Table says %v", code, cmds, in.Commands)
		}
	}
}
