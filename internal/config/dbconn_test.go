package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"

// loadDB loads settings from the environment env only (no .env file).
func loadDB(t *testing.T, env map[string]string, flags map[string]string) (*Config, error) {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return Load(Sources{Env: envFunc(env), Flags: flags, WorkDir: t.TempDir(),
		Environ: func() []string { return environ }}, fixedNow())
}

func TestConnectionString(t *testing.T) {
	old := SystemCABundles
	SystemCABundles = []string{"/nonexistent/bundle.pem"} // verify-full without sslrootcert: libpq's own default
	defer func() { SystemCABundles = old }()
	tests := []struct {
		name string
		cs   string
		want DB
	}{
		{name: "URL", cs: "postgres://app:p%40ss%2Fw%3Ard@db.example.com:6543/directus?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x&connect_timeout=7",
			want: DB{Host: "db.example.com", Port: "6543", User: "app", Password: "p@ss/w:rd", Database: "directus",
				SSLMode: "verify-full", SSLRootCert: "/etc/ca.pem", AppName: "x", ConnectTimeout: "7"}},
		{name: "key=value holding ://", cs: "host=h dbname=d options='-c x=http://y'",
			want: DB{Host: "h", Port: "5432", Database: "d", Options: "-c x=http://y"}},
		{name: "verify-full without a root certificate", cs: "postgres://u@h/d?sslmode=verify-full",
			want: DB{Host: "h", Port: "5432", User: "u", Database: "d", SSLMode: "verify-full"}},
		{name: "postgresql scheme, default port", cs: "postgresql://app@localhost/d",
			want: DB{Host: "localhost", Port: "5432", User: "app", Database: "d"}},
		{name: "no-verify is require", cs: "postgres://u:p@h/d?sslmode=no-verify",
			want: DB{Host: "h", Port: "5432", User: "u", Password: "p", Database: "d", SSLMode: "require"}},
		{name: "socket folder as host parameter", cs: "postgres://u@/d?host=/run/postgresql&port=5433",
			want: DB{Host: "/run/postgresql", Port: "5433", User: "u", Database: "d"}},
		{name: "percent-encoded socket folder", cs: "postgres://u:p@%2Frun%2Fpostgresql:5433/d",
			want: DB{Host: "/run/postgresql", Port: "5433", User: "u", Password: "p", Database: "d"}},
		{name: "options", cs: "postgres://u@h/d?options=-c%20statement_timeout%3D0",
			want: DB{Host: "h", Port: "5432", User: "u", Database: "d", Options: "-c statement_timeout=0"}},
		{name: "key=value", cs: `host=h port=5433 dbname='my db' user=u password='it\'s' sslmode=require`,
			want: DB{Host: "h", Port: "5433", User: "u", Password: "it's", Database: "my db", SSLMode: "require"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadDB(t, map[string]string{"DB_CONNECTION_STRING": tt.cs}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := c.DB
			got.Client, got.ConnString, got.Sources, got.passwordRaw, got.Ignored = "", "", nil, "", nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if c.DB.ConnString != tt.cs || !slices.Contains(c.Secrets(), tt.cs) {
				t.Errorf("the connection string is not among the secrets: %q", c.Secrets())
			}
		})
	}
}

// The connection string wins over the separate settings, as in Directus;
// they are listed as ignored, and a flag for one is refused.
func TestConnectionStringPrecedence(t *testing.T) {
	env := map[string]string{"DB_CONNECTION_STRING": "postgres://u:p%23w@h:5439/d", "DB_HOST": "other",
		"DB_DATABASE": "otherdb", "DB_PASSWORD": "pw2", "DB_SSL__REJECT_UNAUTHORIZED": "false"}
	c, err := loadDB(t, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Host != "h" || c.DB.Database != "d" || c.DB.Password != "p#w" || c.DB.SSLMode != "" {
		t.Errorf("DB = %+v", c.DB)
	}
	want := []string{"DB_HOST", "DB_DATABASE", "DB_PASSWORD", "DB_SSL__REJECT_UNAUTHORIZED"}
	if !reflect.DeepEqual(c.DB.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", c.DB.Ignored, want)
	}
	if s := c.DB.Sources["host"]; s != "DB_CONNECTION_STRING in the environment" {
		t.Errorf("host source %q", s)
	}
	if !slices.Contains(c.Secrets(), "p%23w") {
		t.Errorf("the encoded password is not a secret: %q", c.Secrets())
	}
	_, err = loadDB(t, env, map[string]string{"DB_HOST": "flaghost"})
	errs := settingErrors(t, err)
	if len(errs) != 1 || errs[0].Setting != "DB_HOST" || !strings.Contains(errs[0].Error(), "DB_CONNECTION_STRING") {
		t.Errorf("err = %v, want one DB_HOST error naming DB_CONNECTION_STRING", err)
	}
}

func TestConnectionStringRefused(t *testing.T) {
	const pw = "Sup3rSecretPw"
	tests := map[string]string{
		"unsupported parameter": "postgres://u:" + pw + "@h/d?target_session_attrs=read-write",
		"several hosts":         "postgres://u:" + pw + "@h1,h2/d",
		"no database":           "postgres://u:" + pw + "@h",
		"scheme":                "mysql://u:" + pw + "@h/d",
		"bad sslmode":           "postgres://u:" + pw + "@h/d?sslmode=maybe",
		"bad URL":               "postgres://u:" + pw + "@h:port/d",
		"not key=value":         "host h password " + pw,
	}
	for name, cs := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := loadDB(t, map[string]string{"DB_CONNECTION_STRING": cs}, nil)
			errs := settingErrors(t, err)
			if len(errs) != 1 || errs[0].Setting != "DB_CONNECTION_STRING" {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("the error shows the password: %v", err)
			}
			if name == "unsupported parameter" && !strings.Contains(err.Error(), "target_session_attrs") {
				t.Errorf("the error does not name the parameter: %v", err)
			}
		})
	}
}

func TestDBSSL(t *testing.T) {
	dir := t.TempDir()
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), testPEM+"\n")
	bundle := writeFile(t, filepath.Join(dir, "bundle.pem"), testPEM+"\n")
	old := SystemCABundles
	SystemCABundles = []string{filepath.Join(dir, "missing.pem"), bundle}
	defer func() { SystemCABundles = old }()

	tests := []struct {
		name               string
		env                map[string]string
		mode, root, rootPE string
	}{
		{"none", map[string]string{}, "", "", ""},
		{"reject false", map[string]string{"DB_SSL__REJECT_UNAUTHORIZED": "false", "DB_SSL__CA_FILE": caFile}, "require", "", ""},
		{"reject true, system CAs", map[string]string{"DB_SSL__REJECT_UNAUTHORIZED": "true"}, "verify-full", bundle, ""},
		{"CA content", map[string]string{"DB_SSL__CA": testPEM}, "verify-full", "", testPEM + "\n"},
		{"CA content with \\n", map[string]string{"DB_SSL__CA": strings.ReplaceAll(testPEM, "\n", `\n`)}, "verify-full", "", testPEM + "\n"},
		{"CA file", map[string]string{"DB_SSL__CA_FILE": caFile, "DB_SSL__REJECT_UNAUTHORIZED": "true"}, "verify-full", caFile, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadDB(t, minimalEnv(tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.DB.SSLMode != tt.mode || c.DB.SSLRootCert != tt.root || c.DB.SSLRootCertPEM != tt.rootPE {
				t.Errorf("sslmode %q root %q PEM %q", c.DB.SSLMode, c.DB.SSLRootCert, c.DB.SSLRootCertPEM)
			}
		})
	}

	key := "-----BEGIN PRIVATE KEY-----\nsecretkeybytes\n-----END PRIVATE KEY-----"
	c, err := loadDB(t, minimalEnv(map[string]string{"DB_SSL__CERT": testPEM, "DB_SSL__KEY": key, "DB_SSL__CA_FILE": caFile}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Secrets(), key+"\n") {
		t.Errorf("the client key is not a secret")
	}

	refused := []struct {
		name, setting string
		env           map[string]string
	}{
		{"unknown DB_SSL option", "DB_SSL__SERVERNAME", map[string]string{"DB_SSL__SERVERNAME": "x"}},
		{"DB_SSL alone", "DB_SSL", map[string]string{"DB_SSL": "true"}},
		{"a path in DB_SSL__CA", "DB_SSL__CA", map[string]string{"DB_SSL__CA": caFile}},
		{"missing CA file", "DB_SSL__CA_FILE", map[string]string{"DB_SSL__CA_FILE": filepath.Join(dir, "nope.pem")}},
		{"bad boolean", "DB_SSL__REJECT_UNAUTHORIZED", map[string]string{"DB_SSL__REJECT_UNAUTHORIZED": "maybe"}},
		{"0, which Node would read as verify", "DB_SSL__REJECT_UNAUTHORIZED", map[string]string{"DB_SSL__REJECT_UNAUTHORIZED": "0"}},
		{"key without certificate", "DB_SSL__KEY", map[string]string{"DB_SSL__KEY": key, "DB_SSL__CA_FILE": caFile}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadDB(t, minimalEnv(tt.env), nil)
			errs := settingErrors(t, err)
			if len(errs) != 1 || errs[0].Setting != tt.setting {
				t.Fatalf("err = %v, want one %s error", err, tt.setting)
			}
			if strings.Contains(err.Error(), "secretkeybytes") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}

	SystemCABundles = []string{filepath.Join(dir, "missing.pem")}
	_, err = loadDB(t, minimalEnv(map[string]string{"DB_SSL__REJECT_UNAUTHORIZED": "true"}), nil)
	if errs := settingErrors(t, err); len(errs) != 1 || !strings.Contains(errs[0].Error(), "DB_SSL__CA_FILE") {
		t.Errorf("without a system bundle: %v", err)
	}
}

// verify-full in the URL without sslrootcert: the system's authorities,
// as Node uses its own, unless PGSSLROOTCERT says otherwise.
func TestConnectionStringSystemCAs(t *testing.T) {
	bundle := writeFile(t, filepath.Join(t.TempDir(), "bundle.pem"), testPEM+"\n")
	old := SystemCABundles
	SystemCABundles = []string{bundle}
	defer func() { SystemCABundles = old }()
	env := map[string]string{"DB_CONNECTION_STRING": "postgres://u@h/d?sslmode=verify-full"}
	c, err := loadDB(t, env, nil)
	if err != nil || c.DB.SSLRootCert != bundle {
		t.Fatalf("root certificate %q, err %v", c.DB.SSLRootCert, err)
	}
	env["PGSSLROOTCERT"] = "/elsewhere.pem"
	if c, err = loadDB(t, env, nil); err != nil || c.DB.SSLRootCert != "" {
		t.Errorf("with PGSSLROOTCERT set: root certificate %q, err %v", c.DB.SSLRootCert, err)
	}
}

func TestSearchPath(t *testing.T) {
	c, err := loadDB(t, map[string]string{"DB_CONNECTION_STRING": "postgres://u@h/d?options=-c%20work_mem%3D8MB",
		"DB_SEARCH_PATH": "directus, Public"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `-c work_mem=8MB -c search_path="directus","Public"`; c.DB.Options != want {
		t.Errorf("Options = %q, want %q", c.DB.Options, want)
	}
	_, err = loadDB(t, minimalEnv(map[string]string{"DB_SEARCH_PATH": `my schema`}), nil)
	if errs := settingErrors(t, err); len(errs) != 1 || errs[0].Setting != "DB_SEARCH_PATH" {
		t.Errorf("err = %v", err)
	}
}
