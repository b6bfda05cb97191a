package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The recipe of docs/restore.md, run as written with a stand-in docker:
// Directus is stopped, the real restore runs, and Directus is started
// again, also when the restore fails (whose exit code the script keeps).
func TestRestoreRecipeStopsAndStartsDirectus(t *testing.T) {
	doc, err := os.ReadFile("../../docs/restore.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(#!/bin/sh\n# Stop Directus.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/restore.md has no restore recipe")
	}
	f := newFixture(t)
	f.mustBackup()
	want := f.tableData(f.db)
	f.execAsUser(f.db, "DELETE FROM tags; UPDATE articles SET title = 'changed'")

	script := filepath.Join(f.dir, "restore-directus.sh")
	writeFile(t, script, string(m[1]))
	os.Chmod(script, 0o755)
	bin := t.TempDir()
	calls := filepath.Join(f.dir, "docker-calls")
	writeFile(t, filepath.Join(bin, "docker"), "#!/bin/sh\necho \"docker $*\" >> "+calls+"\n")
	os.Chmod(filepath.Join(bin, "docker"), 0o755)
	f.path = bin + ":" + filepath.Dir(binPath) + ":" + f.path

	run := func(args ...string) (int, string) {
		os.Remove(calls)
		cmd, _, stderr := f.command()
		cmd.Path, cmd.Args = script, append([]string{script}, args...)
		cmd.Dir = "/" // the script finds its own folder
		code := processExit(cmd.Run())
		got, _ := os.ReadFile(calls)
		if string(got) != "docker compose stop directus\ndocker compose start directus\n" {
			t.Errorf("restore-directus.sh %v: docker called as:\n%s\nstderr:\n%s", args, got, stderr)
		}
		return code, stderr.String()
	}
	if code, stderr := run(); code != 0 {
		t.Fatalf("recipe: exit %d\n%s", code, stderr)
	}
	compareData(t, "after the recipe", f.tableData(f.db), want)
	if code, stderr := run("backup_no_such_one"); code != exitUsage {
		t.Errorf("recipe with a missing backup: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
}
