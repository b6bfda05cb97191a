package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/directus-backup/directus-backup/internal/testpg"
)

// Directus's other ways to describe the database (issue 12):
// DB_CONNECTION_STRING, DB_SSL__*, DB_SEARCH_PATH, against the test
// cluster, which also speaks TLS (scripts/pg.sh).

// pgCA is the test cluster's CA certificate.
func pgCA(t *testing.T) string {
	t.Helper()
	ca := os.Getenv("DIRECTUS_BACKUP_TEST_PG_CA")
	if ca == "" {
		if os.Getenv("DIRECTUS_BACKUP_TEST_REQUIRE_PG") != "" {
			t.Fatal("DIRECTUS_BACKUP_TEST_PG_CA is not set: the test cluster has no TLS; start it with scripts/pg.sh")
		}
		t.Skip("no TLS test cluster")
	}
	return ca
}

// pctEncode percent-encodes every byte but letters and digits, as a user
// writes a password with special characters into a URL.
func pctEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// connURL is the fixture's database as a connection string.
func (f *fixture) connURL(host, query string) string {
	u := "postgres://" + f.user + ":" + pctEncode(f.password) + "@" + host + ":" + f.pg.Port + "/" + f.db
	if query != "" {
		u += "?" + query
	}
	return u
}

// spyClients puts pg_dump and psql wrappers first on PATH: each logs its
// arguments (argv.log) and the libpq settings it was given (pgenv.log,
// with the mode of the root certificate file), then runs the real one.
func spyClients(t *testing.T, f *fixture) {
	t.Helper()
	bin := t.TempDir()
	for _, prog := range []string{"pg_dump", "psql"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "%s $*" >> %q
{ echo "%s PGSSLMODE=$PGSSLMODE PGSSLROOTCERT=$PGSSLROOTCERT PGOPTIONS=$PGOPTIONS PGHOST=$PGHOST PGDATABASE=$PGDATABASE"
  [ -n "$PGSSLROOTCERT" ] && [ -e "$PGSSLROOTCERT" ] && echo "rootcert mode $(stat -c %%a "$PGSSLROOTCERT")"
  [ -n "$PGPASSWORD" ] && echo "password given"; } >> %q
exec %q "$@"
`, prog, filepath.Join(f.dir, "argv.log"), prog, filepath.Join(f.dir, "pgenv.log"), real)
		if err := os.WriteFile(filepath.Join(bin, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.path = bin + ":" + os.Getenv("PATH")
}

func (f *fixture) readLog(name string) string {
	data, _ := os.ReadFile(filepath.Join(f.dir, name))
	os.Remove(filepath.Join(f.dir, name))
	return string(data)
}

// noSecretIn fails when the password or the connection string shows in s.
func noSecretIn(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("%s holds a secret (%.12s...):\n%s", what, sec, s)
		}
	}
}

// A .env with nothing but DB_CONNECTION_STRING backs up and restores; the
// password never reaches a process argument, the output or the backup.
func TestConnectionStringOnly(t *testing.T) {
	f := newFixture(t)
	spyClients(t, f)
	cs := f.connURL(f.pg.Host, "sslmode=disable&connect_timeout=10")
	f.env = map[string]string{} // defaults: ./directus/uploads, ./directus/data/backups, method auto -> local
	writeFile(t, filepath.Join(f.dir, ".env"), "DB_CONNECTION_STRING="+cs+"\n")
	want := f.tableData(f.db)

	r := f.run("doctor")
	if !strings.Contains(r.stdout, "host "+f.pg.Host+", port "+f.pg.Port+", sslmode disable") ||
		!strings.Contains(r.stdout, "from DB_CONNECTION_STRING in the .env file "+filepath.Join(f.dir, ".env")) ||
		!strings.Contains(r.stdout, fmt.Sprintf("database %q", f.db)) || !strings.Contains(r.stdout, "sslmode disable") {
		t.Errorf("doctor does not show the connection and its origin:\n%s%s", r.stdout, r.stderr)
	}
	br := f.run("backup")
	if br.code != 0 {
		t.Fatalf("backup: exit %d\n%s", br.code, br.stderr)
	}
	b := f.latest()
	f.pg.MustExec(t, "postgres", `DROP DATABASE "`+f.db+`" WITH (FORCE)`)
	if r := f.run("restore", "--create", "--db"); r.code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	compareData(t, "connection string round trip", f.tableData(f.db), want)

	argv, env := f.readLog("argv.log"), f.readLog("pgenv.log")
	if !strings.Contains(argv, "pg_dump") || !strings.Contains(env, "password given") ||
		!strings.Contains(env, "PGHOST="+f.pg.Host+" PGDATABASE="+f.db) || !strings.Contains(env, "PGSSLMODE=disable") {
		t.Errorf("the clients did not get the connection through the environment:\n%s", env)
	}
	raw := pctEncode(f.password)
	noSecretIn(t, "process arguments", argv, f.password, raw, cs)
	noSecretIn(t, "doctor output", r.stdout+r.stderr, f.password, raw, cs)
	noSecretIn(t, "backup output", br.stdout+br.stderr, f.password, raw, cs)

	// A failed run's error folder (its environment, its log) shows
	// neither: the connection string is a secret as a whole.
	writeFile(t, filepath.Join(f.dir, ".env"), "DB_CONNECTION_STRING="+f.connURL(f.pg.Host, "port="+closedPort(t))+"\n")
	if r := f.run("backup"); r.code == 0 {
		t.Fatal("backup to a closed port succeeded")
	} else {
		noSecretIn(t, "failed backup output", r.stdout+r.stderr, f.password, raw, cs)
	}
	dirs := f.errorDirs()
	if len(dirs) == 0 {
		t.Fatal("no error folder")
	}
	envTxt, _ := os.ReadFile(filepath.Join(dirs[0], "environment.txt"))
	if !strings.Contains(string(envTxt), "DB_CONNECTION_STRING=") {
		t.Errorf("environment.txt lacks DB_CONNECTION_STRING:\n%s", envTxt)
	}
	filepath.WalkDir(dirs[0], func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			noSecretIn(t, p, string(data), f.password, raw, cs)
		}
		return nil
	})
	filepath.WalkDir(b, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "uploads") {
			data, _ := os.ReadFile(p)
			noSecretIn(t, p, string(data), f.password, raw, cs)
		}
		return nil
	})
}

// DB_SSL__CA (PEM content) with DB_SSL__REJECT_UNAUTHORIZED=true verifies
// the server (verify-full); the CA is written to a private file that is
// gone after the run; a wrong CA fails clearly and leaves no backup;
// REJECT_UNAUTHORIZED=false encrypts without verifying (require).
func TestDBSSL(t *testing.T) {
	ca := pgCA(t)
	f := newFixture(t)
	spyClients(t, f)
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	f.env["TMPDIR"] = tmp
	f.env["DB_HOST"] = "localhost" // the certificate's name
	f.env["DB_SSL__REJECT_UNAUTHORIZED"] = "true"
	f.env["DB_SSL__CA"] = strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`) // as a one-line .env value

	f.mustBackup()
	env := f.readLog("pgenv.log")
	if !strings.Contains(env, "pg_dump PGSSLMODE=verify-full PGSSLROOTCERT="+tmp) || !strings.Contains(env, "rootcert mode 600") {
		t.Errorf("pg_dump did not get verify-full with a private CA file:\n%s", env)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary files left after the run: %v", ents)
	}

	// Another CA: the server's certificate is not trusted.
	other := filepath.Join(t.TempDir(), "other-ca.crt")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
		"-subj", "/CN=other CA", "-keyout", other+".key", "-out", other).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	delete(f.env, "DB_SSL__CA")
	f.env["DB_SSL__CA_FILE"] = other
	before := f.backupNames()
	r := f.run("backup")
	if r.code == 0 || !strings.Contains(r.stderr, "certificate verify failed") {
		t.Errorf("wrong CA: exit %d, want a failure saying the certificate is not trusted\n%s", r.code, r.stderr)
	}
	if got := f.backupNames(); len(got) != len(before) {
		t.Errorf("a failed run left a backup: %v", got)
	}
	noSecretIn(t, "output", r.stdout+r.stderr, f.password)

	// Without verification the same wrong CA does not matter: require.
	f.env["DB_SSL__REJECT_UNAUTHORIZED"] = "false"
	f.readLog("pgenv.log")
	f.mustBackup()
	if env := f.readLog("pgenv.log"); !strings.Contains(env, "pg_dump PGSSLMODE=require PGSSLROOTCERT= ") {
		t.Errorf("REJECT_UNAUTHORIZED=false: want sslmode require without a root certificate:\n%s", env)
	}
}

// The connection string's own TLS parameters, and one we cannot honour.
func TestConnectionStringTLSAndRefusal(t *testing.T) {
	ca := pgCA(t)
	f := newFixture(t)
	spyClients(t, f)
	for _, k := range []string{"DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USER", "DB_PASSWORD"} {
		delete(f.env, k)
	}
	f.env["DB_CONNECTION_STRING"] = f.connURL("127.0.0.1", "sslmode=verify-full&sslrootcert="+ca)
	f.mustBackup()
	if env := f.readLog("pgenv.log"); !strings.Contains(env, "pg_dump PGSSLMODE=verify-full PGSSLROOTCERT="+ca) {
		t.Errorf("pg_dump did not get the URL's TLS settings:\n%s", env)
	}
	noSecretIn(t, "process arguments", f.readLog("argv.log"), f.password, pctEncode(f.password), f.env["DB_CONNECTION_STRING"])

	f.env["DB_CONNECTION_STRING"] = f.connURL("127.0.0.1", "target_session_attrs=read-write")
	r := f.run("backup")
	if r.code != exitUsage || !strings.Contains(r.stderr, "target_session_attrs") {
		t.Errorf("unsupported parameter: exit %d, want %d naming it\n%s", r.code, exitUsage, r.stderr)
	}
	noSecretIn(t, "output", r.stdout+r.stderr, f.password, pctEncode(f.password))
	if f.readLog("argv.log") != "" {
		t.Error("a client ran despite the invalid setting")
	}
}

// DB_SEARCH_PATH: Directus's tables in a second schema are backed up and
// restored, and every session gets the search path.
func TestSearchPathSchema(t *testing.T) {
	f := newFixture(t)
	spyClients(t, f)
	f.execAsUser(f.db, `CREATE SCHEMA cms;
CREATE TABLE cms.directus_settings (id serial PRIMARY KEY, project_name text);
INSERT INTO cms.directus_settings (project_name) VALUES ('in cms'), ('Ünïcødé');`)
	f.env["DB_SEARCH_PATH"] = "cms,public"
	const q = "COPY (SELECT * FROM cms.directus_settings ORDER BY 1) TO STDOUT"
	want := f.pg.MustExec(t, f.db, q)
	f.mustBackup()
	if env := f.readLog("pgenv.log"); !strings.Contains(env, `pg_dump PGSSLMODE= PGSSLROOTCERT= PGOPTIONS=-c search_path="cms","public"`) {
		t.Errorf("pg_dump did not get the search path:\n%s", env)
	}
	f.pg.MustExec(t, "postgres", `DROP DATABASE "`+f.db+`" WITH (FORCE)`)
	if r := f.run("restore", "--create", "--db"); r.code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := f.pg.MustExec(t, f.db, q); got != want {
		t.Errorf("cms.directus_settings after restore:\n got  %q\n want %q", got, want)
	}
	// The restored database answers unqualified names through the path.
	out := f.execAsUser(f.db, `SET search_path = cms, public; SELECT count(*) FROM directus_settings;`)
	if out != "2" {
		t.Errorf("unqualified count = %q", out)
	}
}

// The docker method with a connection string: user and database from the
// string, the password and the search path passed by name (-e NAME), never
// on docker's command line.
func TestConnectionStringDockerMethod(t *testing.T) {
	f := newFixture(t)
	wd, _ := os.Getwd()
	argvLog := filepath.Join(f.dir, "docker-argv.log")
	f.path = filepath.Join(wd, "testdata") + ":" + os.Getenv("PATH")
	for _, k := range []string{"DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USER", "DB_PASSWORD"} {
		delete(f.env, k)
	}
	cs := "postgres://" + f.user + ":" + pctEncode(f.password) + "@database:5432/" + f.db
	f.env["DB_CONNECTION_STRING"] = cs
	f.env["DB_SEARCH_PATH"] = "public"
	f.env["BACKUP_DB_METHOD"] = "docker"
	f.env["FAKE_DOCKER_ARGV_LOG"] = argvLog
	f.env["FAKE_DOCKER_PGHOST"] = f.pg.Host
	f.env["FAKE_DOCKER_PGPORT"] = f.pg.Port
	os.WriteFile(filepath.Join(f.dir, "docker-compose.base.yml"), []byte("services: {}\n"), 0o644)
	want := f.tableData(f.db)
	b := f.mustBackup()
	argv, _ := os.ReadFile(argvLog)
	if !strings.Contains(string(argv), "exec -T -e PGPASSWORD -e PGOPTIONS database pg_dump -U "+f.user+" -d dbname='"+f.db+"' application_name=") {
		t.Errorf("docker called as %q", argv)
	}
	noSecretIn(t, "docker's command line", string(argv), f.password, pctEncode(f.password), cs)
	fresh := f.db + "_docker"
	f.pg.CreateDB(t, fresh, f.user)
	f.specRestore(filepath.Join(b, "db_backup.sql.gz"), fresh)
	compareData(t, "docker dump restore", f.tableData(fresh), want)
}

// The certificate files written for libpq are removed when a run is
// stopped with SIGTERM too.
func TestDBSSLFilesRemovedOnSIGTERM(t *testing.T) {
	ca := pgCA(t)
	f := newFixture(t)
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	f.env["TMPDIR"] = tmp
	f.env["DB_HOST"] = "localhost"
	f.env["DB_SSL__CA"] = strings.TrimSpace(string(pem))
	slowPgDump(t, f, "5")
	cmd, _, stderr := f.command("backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "temp folder", func() bool { return hasTemp(f) })
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "directus-backup-tls-") {
		t.Errorf("certificate folder during the run: %v", ents)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("backup stopped by SIGTERM succeeded\n%s", stderr)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left after SIGTERM: %v", ents)
	}
}

// A client certificate (DB_SSL__CERT and DB_SSL__KEY as PEM content) logs
// in a role that the server admits by certificate only: the key reaches
// libpq as a private file, and never shows.
func TestDBSSLClientCertificate(t *testing.T) {
	ca := pgCA(t)
	f := newFixture(t)
	role := testpg.UniqueName("cert")
	f.pg.MustExec(t, "postgres", `CREATE ROLE "`+role+`" LOGIN IN ROLE "`+f.user+`"`)
	t.Cleanup(func() { f.pg.Exec("postgres", `DROP ROLE IF EXISTS "`+role+`"`) })

	// The server admits the role over TLS by certificate, nothing else.
	hba := f.pg.MustExec(t, "postgres", "SHOW hba_file")
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatalf("read %s: %v", hba, err)
	}
	line := "hostssl all " + role + " 127.0.0.1/32 cert\nhost all " + role + " 127.0.0.1/32 reject\n"
	if err := os.WriteFile(hba, append([]byte(line), orig...), 0o600); err != nil {
		t.Fatalf("write %s: %v", hba, err)
	}
	t.Cleanup(func() {
		// Only our lines go; another test may have added its own meanwhile.
		cur, _ := os.ReadFile(hba)
		os.WriteFile(hba, []byte(strings.Replace(string(cur), line, "", 1)), 0o600)
		f.pg.Exec("postgres", "SELECT pg_reload_conf()")
	})
	f.pg.MustExec(t, "postgres", "SELECT pg_reload_conf()")

	dir := t.TempDir()
	key, crt := filepath.Join(dir, "client.key"), filepath.Join(dir, "client.crt")
	for _, args := range [][]string{
		{"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + role, "-keyout", key, "-out", key + ".csr"},
		{"x509", "-req", "-in", key + ".csr", "-CA", ca, "-CAkey", filepath.Join(filepath.Dir(ca), "ca.key"),
			"-CAcreateserial", "-CAserial", filepath.Join(dir, "ca.srl"), "-days", "1", "-out", crt},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	keyPEM, _ := os.ReadFile(key)
	crtPEM, _ := os.ReadFile(crt)

	delete(f.env, "DB_PASSWORD")
	f.env["DB_USER"] = role
	f.env["DB_HOST"] = "localhost"
	f.env["DB_SSL__CA_FILE"] = ca
	f.env["DB_SSL__CERT"] = string(crtPEM)
	f.env["DB_SSL__KEY"] = string(keyPEM)
	spyClients(t, f)
	want := f.tableData(f.db)
	r := f.run("backup")
	if r.code != 0 {
		t.Fatalf("backup with a client certificate: exit %d\n%s", r.code, r.stderr)
	}
	fresh := f.db + "_cert"
	f.pg.CreateDB(t, fresh, f.user)
	f.specRestore(filepath.Join(f.latest(), "db_backup.sql.gz"), fresh)
	compareData(t, "client certificate backup", f.tableData(fresh), want)
	body := strings.TrimSpace(strings.Split(strings.Split(string(keyPEM), "-----\n")[1], "-----END")[0])
	noSecretIn(t, "process arguments", f.readLog("argv.log"), body[:40])
	noSecretIn(t, "output", r.stdout+r.stderr, body[:40])

	// Without the certificate the same role is turned away.
	delete(f.env, "DB_SSL__CERT")
	delete(f.env, "DB_SSL__KEY")
	if r := f.run("backup"); r.code == 0 {
		t.Error("backup without the client certificate succeeded")
	}
}
