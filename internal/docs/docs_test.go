// Package docs holds only tests: they check README.md and docs/*.md
// against each other (links, anchors) and against the code (settings).
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/directus-backup/directus-backup/internal/config"
)

var root = filepath.Join("..", "..")

// pages returns README.md and docs/*.md, relative to the repository root.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md")
	}
	return append([]string{filepath.Join(root, "README.md")}, docs...)
}

// blankFences replaces the lines of fenced code blocks with empty lines,
// so that `# comment` lines and [x](y) inside code are not read as
// headings or links, while line numbers stay right.
func blankFences(text string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

var headingRE = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)

// slug makes a heading's anchor the way GitHub does: lower case, only
// letters, digits, '-', '_' and spaces kept, spaces turned into '-'.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors lists a page's heading anchors, with GitHub's -1, -2 suffixes
// for repeated headings.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(blankFences(text), -1) {
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// linkRE matches inline links and images; the label may span lines.
var linkRE = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// TestLinksResolve checks that every relative link in README.md and
// docs/*.md names a file that exists, and that every #anchor names a
// heading of the page it points into.
func TestLinksResolve(t *testing.T) {
	texts := map[string]string{}
	for _, p := range pages(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Clean(p)] = string(data)
	}
	checked := 0
	for page, text := range texts {
		for _, m := range linkRE.FindAllStringSubmatch(blankFences(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			file, frag, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.Clean(filepath.Join(filepath.Dir(page), file))
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %q: %v", page, target, err)
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", page, target)
				continue
			}
			destText, ok := texts[dest]
			if !ok {
				data, err := os.ReadFile(dest)
				if err != nil {
					t.Errorf("%s: link %q: %v", page, target, err)
					continue
				}
				destText = string(data)
			}
			if !anchors(destText)[frag] {
				t.Errorf("%s: link %q: no heading with anchor #%s in %s", page, target, frag, dest)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links found: the link pattern is broken")
	}
}

// TestSlug pins the anchor rule on headings the docs use.
func TestSlug(t *testing.T) {
	for h, want := range map[string]string{
		"What a linked file's hash guarantees":            "what-a-linked-files-hash-guarantees",
		"After every backup: BACKUP_VERIFY":               "after-every-backup-backup_verify",
		"With `directus-backup restore`":                  "with-directus-backup-restore",
		"Manual restore: the fallback that needs no tool": "manual-restore-the-fallback-that-needs-no-tool",
		"Weekly, with cron":                               "weekly-with-cron",
	} {
		if got := slug(h); got != want {
			t.Errorf("slug(%q) = %q, want %q", h, got, want)
		}
	}
}

// settingsHeader starts the settings table in docs/settings.md.
const settingsHeader = "| Environment variable | Flag | Default | Meaning |"

// TestSettingsTableMatchesCode checks docs/settings.md's table against
// config.Settings: the same settings in the same order, with the same
// flag, default and meaning, so that a setting added, renamed or changed
// in the code cannot be missed in the documentation (nor one removed from
// the code stay documented).
func TestSettingsTableMatchesCode(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docs", "settings.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var rows [][]string
	found := 0
	for i, l := range lines {
		if strings.TrimSpace(l) != settingsHeader {
			continue
		}
		found++
		for _, r := range lines[i+2:] {
			r = strings.TrimSpace(r)
			if !strings.HasPrefix(r, "|") {
				break
			}
			cells := strings.Split(strings.Trim(r, "|"), " | ")
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
			}
			rows = append(rows, cells)
		}
	}
	if found != 1 {
		t.Fatalf("docs/settings.md: want one table headed %q, found %d", settingsHeader, found)
	}
	documented := map[string]bool{}
	for _, r := range rows {
		if len(r) != 4 {
			t.Errorf("row %q: want 4 cells, got %d", strings.Join(r, " | "), len(r))
			continue
		}
		documented[strings.Trim(r[0], "`")] = true
	}
	inCode := map[string]bool{}
	for _, s := range config.Settings {
		inCode[s.Env] = true
		if !documented[s.Env] {
			t.Errorf("setting %s is missing from docs/settings.md", s.Env)
		}
	}
	for name := range documented {
		if !inCode[name] {
			t.Errorf("docs/settings.md lists %s, which is not in config.Settings", name)
		}
	}
	if t.Failed() {
		return
	}
	for i, s := range config.Settings {
		r := rows[i]
		if got := strings.Trim(r[0], "`"); got != s.Env {
			t.Errorf("row %d: %s, config.Settings has %s there (same order, please)", i+1, got, s.Env)
			continue
		}
		flag := "—"
		if s.Flag != "" {
			flag = "`--" + s.Flag + "`"
		}
		if r[1] != flag {
			t.Errorf("%s: flag %s, the code has %s", s.Env, r[1], flag)
		}
		def := "(empty)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		if r[2] != def {
			t.Errorf("%s: default %s, the code has %s", s.Env, r[2], def)
		}
		// Code spans are Markdown only; the words must be the code's.
		if strings.ReplaceAll(r[3], "`", "") != s.Usage {
			t.Errorf("%s: meaning %q, the code's usage is %q", s.Env, r[3], s.Usage)
		}
	}
}

// TestReadmeIsAFrontDoor keeps README.md short; details belong in docs/.
func TestReadmeIsAFrontDoor(t *testing.T) {
	fi, err := os.Stat(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 30000 {
		t.Errorf("README.md is %d bytes; keep it under 30 KB and move details into docs/", fi.Size())
	}
}

// TestNoSpecificationWording: readers know "the original backup.sh", not
// a specification they never saw.
func TestNoSpecificationWording(t *testing.T) {
	for _, p := range pages(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(data), "\n") {
			if strings.Contains(strings.ToLower(l), "specification") {
				t.Errorf("%s:%d: say \"the original backup.sh\" instead: %s", p, i+1, strings.TrimSpace(l))
			}
		}
	}
}
