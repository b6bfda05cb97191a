package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixedNow is 2023-11-14 22:13:20 UTC, which is already the 15th in UTC+2:
// a wrong zone shows up in the date.
func fixedNow() time.Time {
	return time.Unix(1700000000, 0).In(time.FixedZone("UTC+2", 2*60*60))
}

func envFunc(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// minimalEnv sets the one required setting.
func minimalEnv(extra map[string]string) map[string]string {
	m := map[string]string{"DB_DATABASE": "directus"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func mustLoad(t *testing.T, src Sources) *Config {
	t.Helper()
	c, err := Load(src, fixedNow())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// settingErrors unpacks the joined error Load returns.
func settingErrors(t *testing.T, err error) []*SettingError {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*SettingError
	for _, e := range list {
		var se *SettingError
		if !errors.As(e, &se) {
			t.Fatalf("error %T %q is not a *SettingError", e, e)
		}
		out = append(out, se)
	}
	return out
}

func TestSettingsDefaultsMatchSpec(t *testing.T) {
	// The "Configuration Options" table of the backup.sh documentation.
	spec := []struct{ env, def string }{
		{"BACKUPS_DIR", "./directus/data/backups"},
		{"BACKUP_RETENTION_DAYS", "7"},
		{"BACKUP_RETENTION_COUNT", "0"},
		{"BACKUP_GZIP_LEVEL", "9"},
		{"BACKUP_ERROR_DIR", "$BACKUPS_DIR/error_logs"},
		{"BACKUP_FORMATTED_DATE", "%Y-%m-%d_%H-%M-%S"},
		{"BACKUP_ERROR_LOGS_RETENTION_DAYS", "30"},
	}
	for _, s := range spec {
		if got := settingDefault(s.env); got != s.def {
			t.Errorf("%s default = %q, want %q", s.env, got, s.def)
		}
	}
}

func TestSettingsTable(t *testing.T) {
	envs, flags := map[string]bool{}, map[string]bool{}
	for _, s := range Settings {
		if envs[s.Env] {
			t.Errorf("duplicate setting %s", s.Env)
		}
		envs[s.Env] = true
		if s.Flag != "" && flags[s.Flag] {
			t.Errorf("duplicate flag --%s", s.Flag)
		}
		flags[s.Flag] = true
		if s.Usage == "" {
			t.Errorf("%s has no usage text", s.Env)
		}
		if s.Secret && s.Flag != "" {
			t.Errorf("secret %s has flag --%s; it would show in ps", s.Env, s.Flag)
		}
	}
	for _, name := range []string{"BACKUPS_DIR", "BACKUP_COMPRESSION", "DB_CLIENT", "DB_PASSWORD", "DB_PASSWORD_FILE",
		"BACKUP_UPLOADS_DIR", "BACKUP_DB_METHOD", "BACKUP_DOCKER_COMPOSE_FILE", "BACKUP_DOCKER_SERVICE", "BACKUP_ENV_FILE"} {
		if !envs[name] {
			t.Errorf("setting %s missing", name)
		}
	}
	if !isSecret("DB_PASSWORD") {
		t.Error("DB_PASSWORD is not marked secret")
	}
}

func TestLoadDefaults(t *testing.T) {
	wd := t.TempDir()
	c := mustLoad(t, Sources{Env: envFunc(minimalEnv(nil)), WorkDir: wd})
	want := &Config{
		BackupsDir:             filepath.Join(wd, "directus/data/backups"),
		RetentionDays:          7,
		RetentionCount:         0,
		GzipLevel:              9,
		Compression:            "gzip",
		ErrorDir:               filepath.Join(wd, "directus/data/backups/error_logs"),
		DateFormat:             "%Y-%m-%d_%H-%M-%S",
		Timestamp:              1700000000,
		FormattedDate:          "2023-11-15_00-13-20",
		ErrorLogsRetentionDays: 30,
		DB:                     DB{Client: "pg", Host: "", Port: "5432", Database: "directus", User: "", Password: ""},
		UploadsDir:             filepath.Join(wd, "directus/uploads"),
		DBMethod:               "auto",
		DockerComposeFile:      filepath.Join(wd, "docker-compose.base.yml"),
		DockerService:          "database",
		ComposeFiles:           []string{filepath.Join(wd, "docker-compose.base.yml")},
		Verify:                 VerifyOff,
		RecheckPercent:         5,
		MinFree:                MinFree{Bytes: 1 << 30},
		EnvFile:                "",
	}
	c.vars = layers{}
	clearStorage(t, c, wd)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name            string
		flag, env, file string // "" = not set; "-" = set but blank
		wantLevel       int
	}{
		{name: "default", wantLevel: 9},
		{name: "file", file: "3", wantLevel: 3},
		{name: "env over file", env: "4", file: "3", wantLevel: 4},
		{name: "flag over env and file", flag: "5", env: "4", file: "3", wantLevel: 5},
		{name: "flag over file", flag: "5", file: "3", wantLevel: 5},
		{name: "blank env falls through to file", env: "-", file: "3", wantLevel: 3},
		{name: "blank flag falls through to env", flag: "-", env: "4", wantLevel: 4},
		{name: "blank everywhere gives default", flag: "-", env: "-", file: "-", wantLevel: 9},
		{name: "values are trimmed", env: "  2\t", wantLevel: 2},
	}
	val := func(s string) string {
		if s == "-" {
			return "  "
		}
		return s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			flags, env := map[string]string{}, minimalEnv(nil)
			file := "DB_DATABASE=fromfile\n"
			if tt.flag != "" {
				flags["BACKUP_GZIP_LEVEL"] = val(tt.flag)
			}
			if tt.env != "" {
				env["BACKUP_GZIP_LEVEL"] = val(tt.env)
			}
			if tt.file != "" {
				file += "BACKUP_GZIP_LEVEL=\"" + val(tt.file) + "\"\n"
			}
			writeFile(t, filepath.Join(wd, ".env"), file)
			c := mustLoad(t, Sources{Flags: flags, Env: envFunc(env), WorkDir: wd})
			if c.GzipLevel != tt.wantLevel {
				t.Errorf("GzipLevel = %d, want %d", c.GzipLevel, tt.wantLevel)
			}
			if c.DB.Database != "directus" {
				t.Errorf("DB_DATABASE = %q, want the environment's over the file's", c.DB.Database)
			}
		})
	}
}

func TestPrecedenceAllSettingsFromFile(t *testing.T) {
	wd := t.TempDir()
	writeFile(t, filepath.Join(wd, "conf", "my.env"), `# Directus settings
export DB_CLIENT=postgres
DB_HOST="db.internal"   # trailing comment
DB_PORT='6543'
DB_DATABASE=directus
DB_USER=directus_user
DB_PASSWORD="p#ss word"
BACKUPS_DIR=/srv/backups
BACKUP_RETENTION_DAYS=14
BACKUP_RETENTION_COUNT=3
BACKUP_GZIP_LEVEL=6
BACKUP_COMPRESSION=NONE
BACKUP_ERROR_DIR=errs
BACKUP_FORMATTED_DATE=%F
BACKUP_TIMESTAMP=1600000000
BACKUP_ERROR_LOGS_RETENTION_DAYS=0
BACKUP_DB_METHOD=docker
BACKUP_DOCKER_COMPOSE_FILE=compose.yml
BACKUP_DOCKER_SERVICE=postgres
BACKUP_RECHECK_PERCENT=100
`)
	c := mustLoad(t, Sources{Flags: map[string]string{"BACKUP_ENV_FILE": "conf/my.env"}, WorkDir: wd})
	c.vars = layers{}
	clearStorage(t, c, filepath.Join(wd, "conf"))
	want := &Config{
		BackupsDir:             "/srv/backups",
		RetentionDays:          14,
		RetentionCount:         3,
		GzipLevel:              6,
		Compression:            "none",
		ErrorDir:               filepath.Join(wd, "errs"),
		DateFormat:             "%F",
		Timestamp:              1600000000,
		FormattedDate:          "2020-09-13",
		ErrorLogsRetentionDays: 0,
		DB:                     DB{Client: "pg", Host: "db.internal", Port: "6543", Database: "directus", User: "directus_user", Password: "p#ss word"},
		UploadsDir:             filepath.Join(wd, "directus/uploads"),
		DBMethod:               "docker",
		DockerComposeFile:      filepath.Join(wd, "compose.yml"),
		DockerService:          "postgres",
		ComposeFiles:           []string{filepath.Join(wd, "compose.yml")},
		Verify:                 VerifyOff,
		RecheckPercent:         100,
		MinFree:                MinFree{Bytes: 1 << 30},
		EnvFile:                filepath.Join(wd, "conf", "my.env"),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("from file:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name, src string
		want      map[string]string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}},
		{"comments and blank lines", "# comment\n\n  # indented comment\nA=1 # trailing\nB=x#y\n",
			map[string]string{"A": "1", "B": "x"}},
		{"export prefix", "export A=1\nexport  B=2\n", map[string]string{"A": "1", "B": "2"}},
		{"double quotes expand newlines", `A="line1\nline2"`, map[string]string{"A": "line1\nline2"}},
		{"single quotes are literal", `A='x\ny # not a comment'`, map[string]string{"A": `x\ny # not a comment`}},
		{"backticks", "A=`it's \"q\"`", map[string]string{"A": `it's "q"`}},
		{"quoted hash", `A="a#b" # c`, map[string]string{"A": "a#b"}},
		{"no variable expansion", "A=1\nB=$A${A}\n", map[string]string{"A": "1", "B": "$A${A}"}},
		{"whitespace around =", "A = 1 \n", map[string]string{"A": "1"}},
		{"quoted keeps inner spaces", `A="  x  "`, map[string]string{"A": "  x  "}},
		{"empty values", "A=\nB=\"\"\n", map[string]string{"A": "", "B": ""}},
		{"CRLF", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"multi-line double quoted", "A=\"one\ntwo\"\nB=3\n", map[string]string{"A": "one\ntwo", "B": "3"}},
		{"garbage lines ignored", "not a statement\nA=1\n", map[string]string{"A": "1"}},
		{"yaml style", "A: 1\n", map[string]string{"A": "1"}},
		{"byte order mark", "\ufeffA=1\n", map[string]string{"A": "1"}},
		{"unbalanced quote kept", `A="abc`, map[string]string{"A": `"abc`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseDotenv([]byte(tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseDotenv(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestEnvFile(t *testing.T) {
	t.Run("explicit missing file is an error", func(t *testing.T) {
		wd := t.TempDir()
		// A .env in WorkDir must not be used instead.
		writeFile(t, filepath.Join(wd, ".env"), "DB_DATABASE=x\n")
		_, err := Load(Sources{Env: envFunc(map[string]string{"BACKUP_ENV_FILE": "missing.env"}), WorkDir: wd}, fixedNow())
		errs := settingErrors(t, err)
		if len(errs) != 1 || errs[0].Setting != "BACKUP_ENV_FILE" || errs[0].Value != "missing.env" {
			t.Fatalf("errors = %v, want one about BACKUP_ENV_FILE", err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
		}
	})
	t.Run("explicit flag file is read", func(t *testing.T) {
		wd := t.TempDir()
		p := writeFile(t, filepath.Join(t.TempDir(), "other.env"), "DB_DATABASE=other\n")
		c := mustLoad(t, Sources{Flags: map[string]string{"BACKUP_ENV_FILE": p}, WorkDir: wd})
		if c.DB.Database != "other" || c.EnvFile != p {
			t.Errorf("DB_DATABASE = %q, EnvFile = %q; want other, %s", c.DB.Database, c.EnvFile, p)
		}
	})
	t.Run("default .env is read when present", func(t *testing.T) {
		wd := t.TempDir()
		writeFile(t, filepath.Join(wd, ".env"), "DB_DATABASE=fromfile\n")
		c := mustLoad(t, Sources{WorkDir: wd})
		if c.DB.Database != "fromfile" || c.EnvFile != filepath.Join(wd, ".env") {
			t.Errorf("DB_DATABASE = %q, EnvFile = %q", c.DB.Database, c.EnvFile)
		}
	})
	t.Run("default .env may be absent", func(t *testing.T) {
		c := mustLoad(t, Sources{Env: envFunc(minimalEnv(nil)), WorkDir: t.TempDir()})
		if c.EnvFile != "" {
			t.Errorf("EnvFile = %q, want empty", c.EnvFile)
		}
	})
	t.Run("BACKUP_ENV_FILE inside the file is ignored", func(t *testing.T) {
		wd := t.TempDir()
		writeFile(t, filepath.Join(wd, ".env"), "DB_DATABASE=x\nBACKUP_ENV_FILE=missing.env\n")
		c := mustLoad(t, Sources{WorkDir: wd})
		if c.EnvFile != filepath.Join(wd, ".env") {
			t.Errorf("EnvFile = %q", c.EnvFile)
		}
	})
}

func TestUploadsDir(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		file     string // content of conf/.env, read via BACKUP_ENV_FILE
		want     string // relative to WorkDir unless absolute
		fromConf bool   // want is relative to the conf folder
	}{
		{name: "default", want: "directus/uploads"},
		{name: "STORAGE_LOCAL_ROOT from the file is relative to the file", file: "STORAGE_LOCAL_ROOT=./uploads\n",
			want: "uploads", fromConf: true},
		{name: "STORAGE_LOCAL_ROOT from the environment is relative to WorkDir",
			env: map[string]string{"STORAGE_LOCAL_ROOT": "./uploads"}, file: "STORAGE_LOCAL_ROOT=./other\n", want: "uploads"},
		{name: "absolute STORAGE_LOCAL_ROOT", file: "STORAGE_LOCAL_ROOT=/data/uploads\n", want: "/data/uploads"},
		{name: "BACKUP_UPLOADS_DIR wins and is relative to WorkDir",
			env: map[string]string{"BACKUP_UPLOADS_DIR": "up"}, file: "STORAGE_LOCAL_ROOT=./uploads\n", want: "up"},
		{name: "BACKUP_UPLOADS_DIR from the file is relative to WorkDir", file: "BACKUP_UPLOADS_DIR=up\n", want: "up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			env := minimalEnv(tt.env)
			env["BACKUP_ENV_FILE"] = writeFile(t, filepath.Join(wd, "conf", ".env"), tt.file)
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: wd})
			want := tt.want
			switch {
			case filepath.IsAbs(want):
			case tt.fromConf:
				want = filepath.Join(wd, "conf", want)
			default:
				want = filepath.Join(wd, want)
			}
			if c.UploadsDir != want {
				t.Errorf("UploadsDir = %q, want %q", c.UploadsDir, want)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		file    string            // .env content
		secrets map[string]string // password files to create, relative to WorkDir
		want    string
		wantErr bool
	}{
		{name: "none", want: ""},
		{name: "from the environment, not trimmed", env: map[string]string{"DB_PASSWORD": " s3cret "}, want: " s3cret "},
		{name: "from the file", file: "DB_PASSWORD='s3cret'\n", want: "s3cret"},
		{name: "file: one trailing newline dropped", env: map[string]string{"DB_PASSWORD_FILE": "pw"},
			secrets: map[string]string{"pw": "s3cret\n"}, want: "s3cret"},
		{name: "file: only one newline dropped", env: map[string]string{"DB_PASSWORD_FILE": "pw"},
			secrets: map[string]string{"pw": "s3cret\n\n"}, want: "s3cret\n"},
		{name: "file: CRLF dropped", env: map[string]string{"DB_PASSWORD_FILE": "pw"},
			secrets: map[string]string{"pw": "s3cret\r\n"}, want: "s3cret"},
		{name: "file: no newline", env: map[string]string{"DB_PASSWORD_FILE": "pw"},
			secrets: map[string]string{"pw": "s3cret"}, want: "s3cret"},
		{name: "environment _FILE beats .env DB_PASSWORD", env: map[string]string{"DB_PASSWORD_FILE": "pw"},
			file: "DB_PASSWORD=old\n", secrets: map[string]string{"pw": "new\n"}, want: "new"},
		{name: "environment DB_PASSWORD beats .env _FILE", env: map[string]string{"DB_PASSWORD": "new"},
			file: "DB_PASSWORD_FILE=pw\n", want: "new"},
		{name: "_FILE from .env is relative to the .env folder", file: "DB_PASSWORD_FILE=secrets/pw\n",
			secrets: map[string]string{"conf/secrets/pw": "s3cret\n"}, want: "s3cret"},
		{name: "both in the same source", env: map[string]string{"DB_PASSWORD": "a", "DB_PASSWORD_FILE": "pw"},
			secrets: map[string]string{"pw": "b"}, wantErr: true},
		{name: "unreadable file", env: map[string]string{"DB_PASSWORD_FILE": "nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			env := minimalEnv(tt.env)
			env["BACKUP_ENV_FILE"] = writeFile(t, filepath.Join(wd, "conf", ".env"), tt.file)
			for p, content := range tt.secrets {
				writeFile(t, filepath.Join(wd, p), content)
			}
			c, err := Load(Sources{Env: envFunc(env), WorkDir: wd}, fixedNow())
			if tt.wantErr {
				errs := settingErrors(t, err)
				if len(errs) != 1 || errs[0].Setting != "DB_PASSWORD_FILE" {
					t.Fatalf("err = %v, want one DB_PASSWORD_FILE error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.DB.Password != tt.want {
				t.Errorf("password = %q, want %q", c.DB.Password, tt.want)
			}
			if tt.want != "" && !reflect.DeepEqual(c.Secrets(), []string{tt.want}) {
				t.Errorf("Secrets() = %q", c.Secrets())
			}
		})
	}
}

func TestInvalidValues(t *testing.T) {
	tests := []struct {
		setting, value string
		errContains    string // besides the setting name
	}{
		{"BACKUP_GZIP_LEVEL", "0", "from 1 to 9"},
		{"BACKUP_GZIP_LEVEL", "10", "from 1 to 9"},
		{"BACKUP_GZIP_LEVEL", "abc", "from 1 to 9"},
		{"BACKUP_RETENTION_DAYS", "-1", "0 to 36500"},
		{"BACKUP_RETENTION_DAYS", "x", "0 to 36500"},
		{"BACKUP_RETENTION_DAYS", "200000", "0 to 36500"},
		{"BACKUP_RETENTION_COUNT", "-2", "0 or more"},
		{"BACKUP_ERROR_LOGS_RETENTION_DAYS", "-1", "0 to 36500"},
		{"BACKUP_TIMESTAMP", "abc", "Unix timestamp"},
		{"BACKUP_TIMESTAMP", "-5", "Unix timestamp"},
		{"BACKUP_TIMESTAMP", "0", "Unix timestamp"},
		{"BACKUP_TIMESTAMP", "1700000000000", "Unix timestamp"},
		{"BACKUP_FORMATTED_DATE", "%Y/%m/%d", `it gives "2023/11/15"`},
		{"BACKUP_FORMATTED_DATE", "2024/01/01", "A-Z a-z 0-9"},
		{"BACKUP_FORMATTED_DATE", "..", "A-Z a-z 0-9"},
		{"BACKUP_FORMATTED_DATE", "../../etc", "A-Z a-z 0-9"},
		{"BACKUP_FORMATTED_DATE", "%Y-%Q", "unsupported directive %Q"},
		{"BACKUP_FORMATTED_DATE", "%Y%", "lone %"},
		{"BACKUP_FORMATTED_DATE", "date with spaces", "A-Z a-z 0-9"},
		{"BACKUP_FORMATTED_DATE", strings.Repeat("9", 101), "1 to 100 characters"},
		{"BACKUP_COMPRESSION", "brotli", "gzip, zstd or none"},
		{"DB_CLIENT", "mysql", "not supported yet: directus-backup supports PostgreSQL (pg)"},
		{"DB_CLIENT", "sqlite3", "not supported yet"},
		{"DB_CLIENT", "pgsql", "pg (also postgres or postgresql)"},
		{"DB_PORT", "0", "1 to 65535"},
		{"DB_PORT", "65536", "1 to 65535"},
		{"DB_PORT", "http", "1 to 65535"},
		{"DB_DATABASE", "", "required"},
		{"BACKUP_DB_METHOD", "ssh", "auto, local or docker"},
		{"BACKUP_DOCKER_SERVICE", "-T", "compose service name"},
		{"BACKUP_RECHECK_PERCENT", "101", "set in the environment; accepted: an integer from 0 to 100"},
		{"BACKUP_RECHECK_PERCENT", "-1", "from 0 to 100"},
		{"BACKUP_RECHECK_PERCENT", "5%", "from 0 to 100"},
	}
	for _, tt := range tests {
		t.Run(tt.setting+"="+tt.value, func(t *testing.T) {
			env := minimalEnv(nil)
			env[tt.setting] = tt.value
			_, err := Load(Sources{Env: envFunc(env), WorkDir: t.TempDir()}, fixedNow())
			errs := settingErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			if e.Setting != tt.setting || e.Value != tt.value {
				t.Errorf("SettingError{%q, %q}, want {%q, %q}", e.Setting, e.Value, tt.setting, tt.value)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.setting+"=") || !strings.Contains(msg, tt.errContains) {
				t.Errorf("error %q does not name %s or contain %q", msg, tt.setting, tt.errContains)
			}
		})
	}
}

func TestSettingErrorText(t *testing.T) {
	tests := []struct {
		err  *SettingError
		want string
	}{
		{&SettingError{Setting: "BACKUP_GZIP_LEVEL", Value: "10", Accepted: "an integer from 1 to 9"},
			`BACKUP_GZIP_LEVEL="10" is invalid: accepted: an integer from 1 to 9`},
		{&SettingError{Setting: "DB_CLIENT", Value: "mysql", Accepted: "pg", Err: errors.New("not supported yet")},
			`DB_CLIENT="mysql" is invalid: not supported yet; accepted: pg`},
		// A secret is named without its value, even if one slipped in.
		{&SettingError{Setting: "DB_PASSWORD", Value: "hunter2", Accepted: "x"},
			`DB_PASSWORD is invalid: accepted: x`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%q does not match ErrInvalid", tt.want)
		}
	}
}

func TestAllErrorsReported(t *testing.T) {
	env := map[string]string{
		"BACKUP_GZIP_LEVEL":     "10",
		"BACKUP_RETENTION_DAYS": "x",
		"BACKUP_TIMESTAMP":      "abc",
		"BACKUP_FORMATTED_DATE": "%Q",
		"DB_CLIENT":             "mysql",
		"DB_PORT":               "0",
		// DB_DATABASE missing
	}
	_, err := Load(Sources{Env: envFunc(env), WorkDir: t.TempDir()}, fixedNow())
	var got []string
	for _, e := range settingErrors(t, err) {
		got = append(got, e.Setting)
	}
	want := []string{"BACKUP_RETENTION_DAYS", "BACKUP_GZIP_LEVEL", "BACKUP_TIMESTAMP", "BACKUP_FORMATTED_DATE",
		"DB_CLIENT", "DB_PORT", "DB_DATABASE"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors for %q, want %q (in settings order)", got, want)
	}
}

func TestPasswordNeverInErrors(t *testing.T) {
	const pw = "Pa55-w0rd-XYZZY"
	tests := []struct {
		name string
		env  map[string]string
		file string
	}{
		{"invalid settings beside a password", map[string]string{"DB_PASSWORD": pw, "BACKUP_GZIP_LEVEL": "0", "DB_PORT": "x"}, ""},
		{"password in the .env file", map[string]string{"DB_PORT": "x"}, "DB_PASSWORD=" + pw + "\n"},
		{"conflicting password sources", map[string]string{"DB_PASSWORD": pw, "DB_PASSWORD_FILE": "pw"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			writeFile(t, filepath.Join(wd, "pw"), pw)
			writeFile(t, filepath.Join(wd, ".env"), tt.file)
			_, err := Load(Sources{Env: envFunc(tt.env), WorkDir: wd}, fixedNow())
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error text contains the password: %v", err)
			}
		})
	}
}

func TestFormattedDate(t *testing.T) {
	tests := []struct {
		format, timestamp, want string // want "" = error
	}{
		{"%Y-%m-%d_%H-%M-%S", "", "2023-11-15_00-13-20"},
		{"%Y-%m-%d_%H-%M-%S", "1704067199", "2024-01-01_01-59-59"},
		{"%F", "", "2023-11-15"},
		{"%y%m%d.%j", "", "231115.319"},
		{"%s", "1600000000", "1600000000"},
		{"2024-01-01_10-00-00", "", "2024-01-01_10-00-00"}, // literal, as backup.sh exported it
		{"nightly+v1.2", "", "nightly+v1.2"},
		{"v%%", "", ""}, // "v%" is a valid format but not a safe folder-name part
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			env := minimalEnv(map[string]string{"BACKUP_FORMATTED_DATE": tt.format})
			if tt.timestamp != "" {
				env["BACKUP_TIMESTAMP"] = tt.timestamp
			}
			c, err := Load(Sources{Env: envFunc(env), WorkDir: t.TempDir()}, fixedNow())
			if tt.want == "" {
				if errs := settingErrors(t, err); errs[0].Setting != "BACKUP_FORMATTED_DATE" {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.FormattedDate != tt.want || c.DateFormat != tt.format {
				t.Errorf("FormattedDate = %q (format %q), want %q", c.FormattedDate, c.DateFormat, tt.want)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  int64
	}{
		{"", now.Unix()},
		{"1700000000", 1700000000},
		{" 1 ", 1},
		{"99999999999", 99999999999},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := minimalEnv(map[string]string{"BACKUP_TIMESTAMP": tt.value})
			c, err := Load(Sources{Env: envFunc(env), WorkDir: t.TempDir()}, now)
			if err != nil {
				t.Fatal(err)
			}
			if c.Timestamp != tt.want {
				t.Errorf("Timestamp = %d, want %d", c.Timestamp, tt.want)
			}
		})
	}
}

func TestChoicesAreCanonical(t *testing.T) {
	tests := []struct {
		setting, value string
		get            func(*Config) string
		want           string
	}{
		{"DB_CLIENT", "postgres", func(c *Config) string { return c.DB.Client }, "pg"},
		{"DB_CLIENT", "PostgreSQL", func(c *Config) string { return c.DB.Client }, "pg"},
		{"BACKUP_COMPRESSION", "None", func(c *Config) string { return c.Compression }, "none"},
		{"BACKUP_DB_METHOD", "LOCAL", func(c *Config) string { return c.DBMethod }, "local"},
		{"DB_PORT", "+05432", func(c *Config) string { return c.DB.Port }, "5432"},
	}
	for _, tt := range tests {
		t.Run(tt.setting+"="+tt.value, func(t *testing.T) {
			c := mustLoad(t, Sources{Env: envFunc(minimalEnv(map[string]string{tt.setting: tt.value})), WorkDir: t.TempDir()})
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookupAndEnviron(t *testing.T) {
	wd := t.TempDir()
	writeFile(t, filepath.Join(wd, ".env"), "FROM_FILE=f\nSHARED=file\nBLANK_IN_ENV=file\nDB_DATABASE=directus\n")
	environ := []string{"SHARED=env", "BLANK_IN_ENV=", "PATH=/bin", "FLAGGED=env"}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	flags := map[string]string{"FLAGGED": "flag"}

	tests := []struct {
		name    string
		environ func() []string
		want    []string
	}{
		{"full environment", func() []string { return environ },
			[]string{"BLANK_IN_ENV=file", "DB_DATABASE=directus", "FLAGGED=flag", "FROM_FILE=f", "PATH=/bin", "SHARED=env"}},
		// Without the list only known names are asked for: PATH is missing.
		{"known names only", nil,
			[]string{"BLANK_IN_ENV=file", "DB_DATABASE=directus", "FLAGGED=flag", "FROM_FILE=f", "SHARED=env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, Sources{Flags: flags, Env: envFunc(env), WorkDir: wd, Environ: tt.environ})
			if got := c.Environ(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Environ = %q, want %q", got, tt.want)
			}
		})
	}

}

func TestWorkDirRelativePaths(t *testing.T) {
	wd := t.TempDir()
	c := mustLoad(t, Sources{Env: envFunc(minimalEnv(map[string]string{
		"BACKUPS_DIR":      "b/../backups/",
		"BACKUP_ERROR_DIR": "/var/log/../errs",
	})), WorkDir: wd})
	if c.BackupsDir != filepath.Join(wd, "backups") {
		t.Errorf("BackupsDir = %q", c.BackupsDir)
	}
	if c.ErrorDir != "/var/errs" {
		t.Errorf("ErrorDir = %q", c.ErrorDir)
	}
}

func TestBackupsAndUploadsMustNotNest(t *testing.T) {
	wd := t.TempDir()
	for _, tc := range []struct{ backups, uploads string }{
		{"./directus/uploads/backups", "./directus/uploads"},
		{"./directus", "./directus/uploads"},
		{"./same", "./same"},
	} {
		env := map[string]string{"DB_DATABASE": "d", "BACKUPS_DIR": tc.backups, "BACKUP_UPLOADS_DIR": tc.uploads}
		_, err := Load(Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, WorkDir: wd}, time.Now())
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != "BACKUPS_DIR" {
			t.Errorf("backups %s, uploads %s: %v", tc.backups, tc.uploads, err)
		}
	}
	env := map[string]string{"DB_DATABASE": "d", "BACKUPS_DIR": "./directus/data/backups", "BACKUP_UPLOADS_DIR": "./directus/uploads"}
	if _, err := Load(Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, WorkDir: wd}, time.Now()); err != nil {
		t.Errorf("the default layout is rejected: %v", err)
	}
}

// An invalid value names where it was set: the flag, the environment, or
// the .env file by its path (a stray value there is easy to miss).
func TestInvalidValueNamesItsSource(t *testing.T) {
	wd := t.TempDir()
	envFile := filepath.Join(wd, ".env")
	if err := os.WriteFile(envFile, []byte("DB_DATABASE=directus\nBACKUP_GZIP_LEVEL=10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		src   Sources
		value string
		want  string
	}{
		{".env file", Sources{WorkDir: wd}, "10", "set in the .env file " + envFile + ";"},
		{"environment", Sources{Env: envFunc(map[string]string{"BACKUP_GZIP_LEVEL": "11"}), WorkDir: wd}, "11", "set in the environment;"},
		{"flag", Sources{Flags: map[string]string{"BACKUP_GZIP_LEVEL": "12"}, Env: envFunc(map[string]string{"BACKUP_GZIP_LEVEL": "11"}), WorkDir: wd}, "12", "set by a command-line flag;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.src, fixedNow())
			errs := settingErrors(t, err)
			if len(errs) != 1 || errs[0].Setting != "BACKUP_GZIP_LEVEL" || errs[0].Value != tt.value {
				t.Fatalf("errors %v", err)
			}
			if msg := errs[0].Error(); !strings.Contains(msg, tt.want) {
				t.Errorf("%q does not say %q", msg, tt.want)
			}
		})
	}
}
