package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// composeFixture is a fixture whose PATH starts with a folder holding the
// stand-in docker (testdata/docker), and, with oldCompose, the stand-in
// of the old docker-compose program (the same script under that name).
func composeFixture(t *testing.T, oldCompose bool) (*fixture, string) {
	t.Helper()
	f := newFixture(t)
	wd, _ := os.Getwd()
	bin := t.TempDir()
	script := filepath.Join(wd, "testdata", "docker")
	if err := os.Symlink(script, filepath.Join(bin, "docker")); err != nil {
		t.Fatal(err)
	}
	if oldCompose {
		if err := os.Symlink(script, filepath.Join(bin, "docker-compose")); err != nil {
			t.Fatal(err)
		}
	}
	argvLog := filepath.Join(f.dir, "docker-argv.log")
	f.path = bin + ":" + os.Getenv("PATH")
	f.env["BACKUP_DB_METHOD"] = "auto"
	f.env["FAKE_DOCKER_ARGV_LOG"] = argvLog
	f.env["FAKE_DOCKER_PGHOST"] = f.pg.Host
	f.env["FAKE_DOCKER_PGPORT"] = f.pg.Port
	return f, argvLog
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each file name docker compose looks for (and the original script's
// docker-compose.base.yml) is found in the working folder: auto picks the
// docker method and passes that file.
func TestComposeFileNames(t *testing.T) {
	f, argvLog := composeFixture(t, false)
	for _, name := range []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml", "docker-compose.base.yml"} {
		p := filepath.Join(f.dir, name)
		writeFile(t, p, "services: {}\n")
		os.Remove(argvLog)
		r := f.run("backup")
		if r.code != 0 {
			t.Fatalf("%s: backup: exit %d\n%s", name, r.code, r.stderr)
		}
		argv, _ := os.ReadFile(argvLog)
		if !strings.Contains(string(argv), "docker compose -f "+p+" exec -T") {
			t.Errorf("%s: docker called as %q", name, argv)
		}
		if m, _ := readManifest(t, f.latest()); m.Database.Method != "docker" {
			t.Errorf("%s: manifest method %q", name, m.Database.Method)
		}
		if name == "compose.yaml" {
			// doctor reports the same detection.
			if r := f.run("doctor"); !strings.Contains(r.stdout, "method docker (BACKUP_DB_METHOD=auto), compose file(s) "+p) {
				t.Errorf("doctor does not report the compose file found:\n%s", r.stdout)
			}
		}
		os.Remove(p)
	}
}

// BACKUP_COMPOSE_FILES and BACKUP_COMPOSE_PROJECT become -f a -f b -p name;
// a project name that reads as an option is refused.
func TestComposeFilesAndProject(t *testing.T) {
	f, argvLog := composeFixture(t, false)
	a, b := filepath.Join(f.dir, "a.yml"), filepath.Join(f.dir, "sub", "b.yml")
	writeFile(t, a, "services: {}\n")
	writeFile(t, b, "services: {}\n")
	f.env["BACKUP_COMPOSE_FILES"] = "a.yml, sub/b.yml"
	f.env["BACKUP_COMPOSE_PROJECT"] = "directus"
	want := f.tableData(f.db)
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	argv, _ := os.ReadFile(argvLog)
	if !strings.Contains(string(argv), fmt.Sprintf("docker compose -f %s -f %s -p directus exec -T -e PGPASSWORD database pg_dump -U %s -d dbname='%s' application_name=directus-backup-", a, b, f.user, f.db)) {
		t.Errorf("docker called as %q", argv)
	}
	fresh := f.db + "_compose"
	f.pg.CreateDB(t, fresh, f.user)
	f.specRestore(filepath.Join(f.latest(), "db_backup.sql.gz"), fresh)
	compareData(t, "compose files restore", f.tableData(fresh), want)

	f.env["BACKUP_COMPOSE_PROJECT"] = "-T"
	if r := f.run("backup"); r.code != exitUsage || !strings.Contains(r.stderr, "BACKUP_COMPOSE_PROJECT") {
		t.Errorf("bad project: exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
	}
}

// Without the compose plugin the old docker-compose program is used; with
// neither, the run stops before any work with a message naming both.
func TestComposeFallback(t *testing.T) {
	f, argvLog := composeFixture(t, false)
	writeFile(t, filepath.Join(f.dir, "docker-compose.yml"), "services: {}\n")
	f.env["FAKE_DOCKER_NO_COMPOSE"] = "1"
	r := f.run("backup")
	if r.code == 0 {
		t.Fatalf("backup without any compose succeeded\n%s", r.stderr)
	}
	for _, s := range []string{"docker compose version: docker: 'compose' is not a docker command.", "docker-compose version:", "docker-compose-plugin"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("message lacks %q:\n%s", s, r.stderr)
		}
	}
	if ents, _ := os.ReadDir(f.backups); len(ents) > 1 {
		t.Errorf("failed run left %d entries in BACKUPS_DIR", len(ents))
	}
	r = f.run("doctor")
	if !strings.Contains(r.stdout+r.stderr, "'compose' is not a docker command") {
		t.Errorf("doctor does not report the missing plugin:\n%s%s", r.stdout, r.stderr)
	}

	f2, argvLog2 := composeFixture(t, true)
	writeFile(t, filepath.Join(f2.dir, "docker-compose.yml"), "services: {}\n")
	f2.env["FAKE_DOCKER_NO_COMPOSE"] = "1"
	if r := f2.run("backup"); r.code != 0 {
		t.Fatalf("backup with docker-compose: exit %d\n%s", r.code, r.stderr)
	}
	argv, _ := os.ReadFile(argvLog2)
	if !strings.Contains(string(argv), "docker-compose -f "+filepath.Join(f2.dir, "docker-compose.yml")+" exec -T") {
		t.Errorf("docker-compose not used: %q", argv)
	}
	_ = argvLog
}

// SIGTERM stops pg_dump inside the container too: the stand-in runs it in
// its own session, out of reach of the signal to the local client, as
// docker compose exec does; only the second exec can stop it.
func TestComposeSIGTERMStopsContainerPgDump(t *testing.T) {
	f, _ := composeFixture(t, false)
	writeFile(t, filepath.Join(f.dir, "compose.yaml"), "services: {}\n")
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	container := t.TempDir()
	started, killed := filepath.Join(f.dir, "started"), filepath.Join(f.dir, "killed")
	script := fmt.Sprintf(`#!/bin/bash
[ "$1" = --version ] && exec %q --version
for a; do [ "$a" = --version ] && exec %q --version; done
echo "$@" > %q
trap 'echo killed > %q; kill $s; exit 143' TERM
sleep 60 & s=$!
wait $s
`, real, real, started, killed)
	if err := os.WriteFile(filepath.Join(container, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f.env["FAKE_DOCKER_DETACH"] = "1"
	f.env["FAKE_DOCKER_CONTAINER_PATH"] = container + ":" + os.Getenv("PATH")
	cmd, _, stderr := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pg_dump in the container", func() bool { _, err := os.Stat(started); return err == nil })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(killed); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_dump in the container was not stopped\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A DB_HOST that does not resolve here (a compose service name) with a
// compose file present: doctor says to use the docker method.
func TestDBHostHintsDockerMethod(t *testing.T) {
	f, _ := composeFixture(t, false)
	writeFile(t, filepath.Join(f.dir, "compose.yaml"), "services: {}\n")
	f.env["BACKUP_DB_METHOD"] = "local"
	f.env["DB_HOST"] = "database.invalid"
	r := f.run("doctor")
	out := r.stdout + r.stderr
	for _, s := range []string{`DB_HOST "database.invalid" does not resolve`, "compose.yaml is here", "BACKUP_DB_METHOD=docker"} {
		if !strings.Contains(out, s) {
			t.Errorf("doctor output lacks %q:\n%s", s, out)
		}
	}
	// A backup that then fails to connect has said the same in its log.
	r = f.run("backup")
	if r.code == 0 || !strings.Contains(r.stderr, "compose.yaml is here") || !strings.Contains(r.stderr, "BACKUP_DB_METHOD=docker") {
		t.Errorf("backup: exit %d, its log does not point at the docker method:\n%s", r.code, r.stderr)
	}
}
