package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadEnvFile loads settings from a .env file holding dotenv, with the
// environment env.
func loadEnvFile(t *testing.T, dotenv string, env map[string]string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Sources{Env: envFunc(env), WorkDir: dir}, fixedNow())
	return c, dir, err
}

// Directus's type prefixes are stripped from its variables, wherever they
// are set (@directus/env's cast).
func TestDirectusTypePrefixes(t *testing.T) {
	c, _, err := loadEnvFile(t, `DB_PORT="number:25432"
DB_DATABASE="string:directus"
DB_USER="string:app"
DB_PASSWORD="string:p:w"
DB_HOST="string:db.local"
STORAGE_LOCATIONS="array:local,string:s3"
STORAGE_S3_DRIVER="string:s3"
STORAGE_S3_BUCKET="string:bkt"
STORAGE_S3_KEY="string:AKIA"
STORAGE_S3_SECRET="string:sec"
STORAGE_S3_FORCE_PATH_STYLE="boolean:true"
STORAGE_LOCAL_ROOT="string:./up"
EXTENSIONS_PATH="string:./ext"
DB_SEARCH_PATH="array:public,string:other"
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Port != "25432" || c.DB.Database != "directus" || c.DB.User != "app" || c.DB.Password != "p:w" || c.DB.Host != "db.local" {
		t.Errorf("DB = %+v", c.DB)
	}
	if len(c.Storage) != 2 || c.Storage[1].Name != "s3" || c.Storage[1].S3.Bucket != "bkt" || c.Storage[1].S3.Key != "AKIA" ||
		c.Storage[1].S3.Secret != "sec" || !c.Storage[1].S3.ForcePathStyle {
		t.Errorf("Storage = %+v", c.Storage)
	}
	if filepath.Base(c.UploadsDir) != "up" || filepath.Base(c.ExtensionsDir) != "ext" {
		t.Errorf("UploadsDir %s, ExtensionsDir %s", c.UploadsDir, c.ExtensionsDir)
	}
	if strings.Join(c.DB.SearchPath, ",") != "public,other" {
		t.Errorf("SearchPath = %q", c.DB.SearchPath)
	}

	// In the environment too; boolean: follows Directus's toBoolean.
	c, err = loadDB(t, map[string]string{"DB_PORT": "number:6543", "DB_DATABASE": "string:d",
		"DB_SSL__REJECT_UNAUTHORIZED": "boolean:0", "DB_SSL__CA_FILE": "string:/etc/hostname"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Port != "6543" || c.DB.Database != "d" || c.DB.SSLMode != "require" {
		t.Errorf("DB = %+v", c.DB)
	}
	// A word that is not a prefix stays: a password may hold a colon.
	c, err = loadDB(t, map[string]string{"DB_DATABASE": "d", "DB_PASSWORD": "String:x", "DB_HOST": "db:5432"}, nil)
	if err != nil || c.DB.Password != "String:x" || c.DB.Host != "db:5432" {
		t.Errorf("got %v, %+v", err, c)
	}
}

// A prefix the tool cannot honour is refused, naming the variable and the
// prefix, never the value.
func TestDirectusTypePrefixRefused(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"DB_HOST", "json:\"h\""},
		{"DB_HOST", "number:5"},
		{"DB_PORT", "regex:5432"},
		{"DB_PASSWORD", "json:secretvalue"},
		{"DB_SSL__REJECT_UNAUTHORIZED", "string:false"},
		{"STORAGE_LOCATIONS", "local,json:x"},
		{"STORAGE_LOCAL_ROOT", "array:a"},
	} {
		env := map[string]string{"DB_DATABASE": "d", tt.name: tt.value}
		_, err := loadDB(t, env, nil)
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != tt.name || !strings.Contains(err.Error(), "type prefix") {
			t.Errorf("%s=%s: got %v", tt.name, tt.value, err)
			continue
		}
		flag, _, _ := strings.Cut(tt.value[strings.LastIndex(tt.value, ",")+1:], ":")
		if !strings.Contains(err.Error(), `"`+flag+`:"`) || strings.Contains(err.Error(), tt.name+"=") || !strings.Contains(err.Error(), "in the environment") {
			t.Errorf("%s=%s: %v", tt.name, tt.value, err)
		}
	}
}

// Every Directus variable the tool reads takes NAME_FILE, relative to the
// .env file's folder, with DB_PASSWORD_FILE's precedence rules.
func TestDirectusFileVariables(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("db", "directus")
	write("user", "app\n")
	write("port", "number:6543\n")
	write("pw", " pass word \n")
	write("root", "./uploads")
	write("bucket", "bkt")
	write(".env", `DB_DATABASE_FILE="./db"
DB_USER_FILE=./user
DB_PORT_FILE=./port
DB_PASSWORD_FILE=./pw
DB_HOST_FILE="string:./db"
STORAGE_LOCATIONS=local,s3
STORAGE_LOCAL_ROOT_FILE=./root
STORAGE_S3_DRIVER=s3
STORAGE_S3_BUCKET_FILE=./bucket
STORAGE_S3_BUCKET=ignored-wins-file-same-place
`)
	_, err := Load(Sources{Env: envFunc(nil), WorkDir: dir}, fixedNow())
	if err == nil || !strings.Contains(err.Error(), "STORAGE_S3_BUCKET_FILE") || !strings.Contains(err.Error(), "not both in the same place") {
		t.Fatalf("both in the .env: got %v", err)
	}
	// The environment's NAME wins over the file's NAME_FILE, as for DB_PASSWORD.
	c, err := Load(Sources{Env: envFunc(map[string]string{"STORAGE_S3_BUCKET": "envbkt"}), WorkDir: dir}, fixedNow())
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Database != "directus" || c.DB.User != "app" || c.DB.Port != "6543" || c.DB.Password != " pass word " || c.DB.Host != "directus" {
		t.Errorf("DB = %+v", c.DB)
	}
	if c.UploadsDir != filepath.Join(dir, "uploads") || c.Storage[1].S3.Bucket != "envbkt" {
		t.Errorf("UploadsDir %s, Storage %+v", c.UploadsDir, c.Storage)
	}
	// An unreadable file names NAME_FILE and where it is set.
	_, err = loadDB(t, map[string]string{"DB_DATABASE_FILE": "/nonexistent/db"}, nil)
	var se *SettingError
	if !errors.As(err, &se) || se.Setting != "DB_DATABASE_FILE" || !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "in the environment") {
		t.Errorf("unreadable: got %v", err)
	}
	// A bad value read from a file says so.
	write("badport", "x")
	_, err = loadDB(t, map[string]string{"DB_DATABASE": "d", "DB_PORT_FILE": filepath.Join(dir, "badport")}, nil)
	if err == nil || !strings.Contains(err.Error(), "DB_PORT_FILE") {
		t.Errorf("bad port from a file: got %v", err)
	}
}

// Doctor's warning: Directus variables the environment and the .env file
// set differently, by name only.
func TestEnvOverrides(t *testing.T) {
	c, _, err := loadEnvFile(t, "DB_DATABASE=d\nDB_HOST=filehost\nDB_PASSWORD=filepw\nDB_USER=u\nBACKUP_GZIP_LEVEL=5\nSTORAGE_LOCAL_ROOT=./up\n",
		map[string]string{"DB_HOST": "envhost", "DB_PASSWORD": "envpw", "DB_USER": " u ", "BACKUP_GZIP_LEVEL": "6", "STORAGE_LOCAL_ROOT": "/srv/up"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.EnvOverrides(), ","); got != "DB_HOST,DB_PASSWORD,STORAGE_LOCAL_ROOT" {
		t.Errorf("EnvOverrides = %s", got)
	}
}

// CONFIG_PATH: from the environment it names the file read instead of
// ./.env; inside the .env its file is laid over it; .json is read, .js and
// .yaml are refused with what to do instead.
func TestConfigPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(".env", "DB_DATABASE=fromdotenv\n")
	write("directus.env", "DB_DATABASE=fromconfig\nDB_PORT=number:6000\n")
	write("config.json", `{"DB_DATABASE": "fromjson", "DB_PORT": 6001, "STORAGE_S3_FORCE_PATH_STYLE": true}`)
	write("nested.json", `{"DB_DATABASE": "x", "DB_SSL": {"rejectUnauthorized": false}}`)
	load := func(env map[string]string) (*Config, error) {
		return Load(Sources{Env: envFunc(env), WorkDir: dir}, fixedNow())
	}

	c, err := load(map[string]string{"CONFIG_PATH": "directus.env"})
	if err != nil || c.DB.Database != "fromconfig" || c.DB.Port != "6000" || c.EnvFile != filepath.Join(dir, "directus.env") {
		t.Fatalf("CONFIG_PATH .env: %v %+v", err, c)
	}
	c, err = load(map[string]string{"CONFIG_PATH": filepath.Join(dir, "config.json")})
	if err != nil || c.DB.Database != "fromjson" || c.DB.Port != "6001" {
		t.Fatalf("CONFIG_PATH .json: %v %+v", err, c)
	}
	// BACKUP_ENV_FILE wins over CONFIG_PATH in the environment.
	c, err = load(map[string]string{"CONFIG_PATH": "directus.env", "BACKUP_ENV_FILE": ".env"})
	if err != nil || c.DB.Database != "fromdotenv" {
		t.Fatalf("BACKUP_ENV_FILE: %v %+v", err, c)
	}
	// Inside the .env: laid over it.
	write(".env", "DB_DATABASE=fromdotenv\nDB_HOST=h\nCONFIG_PATH=./directus.env\n")
	c, err = load(nil)
	if err != nil || c.DB.Database != "fromconfig" || c.DB.Host != "h" {
		t.Fatalf("CONFIG_PATH in .env: %v %+v", err, c)
	}

	for file, want := range map[string]string{"config.js": "BACKUP_ENV_FILE", "config.yaml": "YAML",
		"nested.json": "DB_SSL", "missing.env": "no such file"} {
		_, err := load(map[string]string{"CONFIG_PATH": file})
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != "CONFIG_PATH" || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("CONFIG_PATH=%s: got %v", file, err)
		}
	}
}
