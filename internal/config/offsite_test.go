package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

const (
	testKeyID  = "AKIAEXAMPLEKEYID7"
	testSecret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
)

// offsiteEnv is a minimal valid offsite setup plus extra.
func offsiteEnv(extra map[string]string) map[string]string {
	m := minimalEnv(map[string]string{
		"BACKUP_S3_BUCKET":            "my-backups",
		"BACKUP_S3_ACCESS_KEY_ID":     testKeyID,
		"BACKUP_S3_SECRET_ACCESS_KEY": testSecret,
	})
	for k, v := range extra {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// oneError loads env and wants exactly one error, about setting.
func oneError(t *testing.T, env map[string]string, wd, setting string) *SettingError {
	t.Helper()
	if wd == "" {
		wd = t.TempDir()
	}
	_, err := Load(Sources{Env: envFunc(env), WorkDir: wd}, fixedNow())
	errs := settingErrors(t, err)
	if len(errs) != 1 || errs[0].Setting != setting {
		t.Fatalf("errors %v, want one about %s", err, setting)
	}
	for _, secret := range []string{testKeyID, testSecret} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error text holds an S3 key: %v", err)
		}
	}
	return errs[0]
}

func ageKey(t *testing.T) (public, private string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), id.String()
}

func TestOffsiteDefaults(t *testing.T) {
	c := mustLoad(t, Sources{Env: envFunc(offsiteEnv(nil)), WorkDir: t.TempDir()})
	want := Offsite{
		Bucket: "my-backups", Endpoint: "s3.amazonaws.com", Secure: true,
		AccessKeyID: testKeyID, SecretAccessKey: testSecret,
		PathStyle: PathStyleAuto, RetentionDays: 30, RetentionCount: 7,
	}
	if !reflect.DeepEqual(c.Offsite, want) {
		t.Errorf("Offsite:\n got %+v\nwant %+v", c.Offsite, want)
	}
	if !c.Offsite.Enabled() {
		t.Error("Enabled() = false with a bucket")
	}
	if got := c.Secrets(); !reflect.DeepEqual(got, []string{testKeyID, testSecret}) {
		t.Errorf("Secrets() = %q, want both S3 keys", got)
	}
	if recs, err := c.Offsite.AgeRecipients(); recs != nil || err != nil {
		t.Errorf("AgeRecipients() without recipients = %v, %v", recs, err)
	}
}

// Without a bucket the other offsite settings are ignored, even invalid ones.
func TestOffsiteOffIgnoresTheRest(t *testing.T) {
	env := minimalEnv(map[string]string{
		"BACKUP_S3_ENDPOINT":            "ftp://x",
		"BACKUP_S3_PREFIX":              "..",
		"BACKUP_S3_INSECURE":            "maybe",
		"BACKUP_S3_ACCESS_KEY_ID_FILE":  "/nonexistent",
		"BACKUP_AGE_RECIPIENTS":         "not-a-key",
		"BACKUP_OFFSITE_RETENTION_DAYS": "-1",
		"BACKUP_S3_BUCKET":              "  ",
	})
	c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: t.TempDir()})
	if !reflect.DeepEqual(c.Offsite, Offsite{}) || c.Offsite.Enabled() {
		t.Errorf("Offsite = %+v, want the zero value", c.Offsite)
	}
	if len(c.Secrets()) != 0 {
		t.Errorf("Secrets() = %q", c.Secrets())
	}
}

func TestOffsiteAllFromEnvFile(t *testing.T) {
	wd := t.TempDir()
	pub, _ := ageKey(t)
	writeFile(t, filepath.Join(wd, ".env"), `DB_DATABASE=directus
BACKUP_S3_BUCKET=backups.example
BACKUP_S3_ENDPOINT=http://127.0.0.1:9000/
BACKUP_S3_PREFIX=/directus/prod
BACKUP_S3_REGION=eu-central-1
BACKUP_S3_ACCESS_KEY_ID=`+testKeyID+`
BACKUP_S3_SECRET_ACCESS_KEY="`+testSecret+`"
BACKUP_S3_PATH_STYLE=yes
BACKUP_AGE_RECIPIENTS=`+pub+`
BACKUP_AGE_IDENTITY_FILE=keys/offsite.key
BACKUP_OFFSITE_RETENTION_DAYS=90
BACKUP_OFFSITE_RETENTION_COUNT=0
BACKUP_S3_OBJECT_LOCK_DAYS=14
`)
	c := mustLoad(t, Sources{WorkDir: wd})
	want := Offsite{
		Bucket: "backups.example", Endpoint: "127.0.0.1:9000", Secure: false, Prefix: "directus/prod/",
		Region: "eu-central-1", AccessKeyID: testKeyID, SecretAccessKey: testSecret, PathStyle: PathStyleOn,
		Recipients: []string{pub}, IdentityFile: filepath.Join(wd, "keys/offsite.key"),
		RetentionDays: 90, RetentionCount: 0, ObjectLockDays: 14,
	}
	if !reflect.DeepEqual(c.Offsite, want) {
		t.Errorf("Offsite:\n got %+v\nwant %+v", c.Offsite, want)
	}
	recs, err := c.Offsite.AgeRecipients()
	if err != nil || len(recs) != 1 {
		t.Errorf("AgeRecipients() = %v, %v", recs, err)
	}
}

func TestOffsiteEndpoint(t *testing.T) {
	tests := []struct {
		endpoint, insecure string
		want               string // "" = error
		secure             bool
		errContains        string
	}{
		{endpoint: "s3.eu-central-003.backblazeb2.com", want: "s3.eu-central-003.backblazeb2.com", secure: true},
		{endpoint: "minio.lan:9000", want: "minio.lan:9000", secure: true},
		{endpoint: "minio.lan:9000", insecure: "true", want: "minio.lan:9000", secure: false},
		{endpoint: "https://s3.example.com", want: "s3.example.com", secure: true},
		{endpoint: "HTTPS://s3.example.com:8443/", want: "s3.example.com:8443", secure: true},
		{endpoint: "http://127.0.0.1:9000", want: "127.0.0.1:9000", secure: false},
		{endpoint: "http://127.0.0.1:9000", insecure: "on", want: "127.0.0.1:9000", secure: false},
		{endpoint: "http://[::1]:9000", want: "[::1]:9000", secure: false},
		{endpoint: "https://s3.example.com", insecure: "true", errContains: "contradicts"},
		{endpoint: "ftp://s3.example.com", errContains: `unknown scheme "ftp"`},
		{endpoint: "https://s3.example.com/bucket", errContains: "not just a host and port"},
		{endpoint: "s3.example.com/bucket", errContains: "not just a host and port"},
		{endpoint: "https://s3.example.com?x=1", errContains: "not just a host and port"},
		{endpoint: "s3.example.com:0", errContains: "1 to 65535"},
		{endpoint: "s3.example.com:http", errContains: `; invalid port ":http" after host;`},
		{endpoint: "s3.example.com:", errContains: "empty port"},
		{endpoint: "s3 example.com", errContains: `; invalid character " " in host name;`},
		{endpoint: "s3.exa$mple.com", errContains: "not a host name"},
		{endpoint: "https://", errContains: "not just a host and port"},
		{endpoint: "-s3.example.com", errContains: "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint+"/"+tt.insecure, func(t *testing.T) {
			env := offsiteEnv(map[string]string{"BACKUP_S3_ENDPOINT": tt.endpoint, "BACKUP_S3_INSECURE": tt.insecure})
			if tt.want == "" {
				e := oneError(t, env, "", "BACKUP_S3_ENDPOINT")
				if msg := e.Error(); !strings.Contains(msg, tt.errContains) {
					t.Errorf("%q does not say %q", msg, tt.errContains)
				}
				return
			}
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: t.TempDir()})
			if c.Offsite.Endpoint != tt.want || c.Offsite.Secure != tt.secure {
				t.Errorf("Endpoint, Secure = %q, %v; want %q, %v", c.Offsite.Endpoint, c.Offsite.Secure, tt.want, tt.secure)
			}
		})
	}
}

// Keys written into the endpoint URL are refused without echoing them.
func TestOffsiteEndpointWithCredentials(t *testing.T) {
	env := offsiteEnv(map[string]string{"BACKUP_S3_ENDPOINT": "https://" + testKeyID + ":" + testSecret + "@s3.example.com"})
	e := oneError(t, env, "", "BACKUP_S3_ENDPOINT")
	if msg := e.Error(); !strings.Contains(msg, "credentials in the endpoint") || !strings.HasPrefix(msg, "BACKUP_S3_ENDPOINT is invalid:") || e.Value != "" {
		t.Errorf("%q (value %q): want an explanation and no value", msg, e.Value)
	}
}

func TestOffsitePrefix(t *testing.T) {
	tests := []struct{ prefix, want, errContains string }{
		{"directus", "directus/", ""},
		{"/directus/prod/", "directus/prod/", ""},
		{"/", "", ""},
		{"a.b/c-d_e", "a.b/c-d_e/", ""},
		{"..", "", `".."`},
		{"a/../b", "", `".."`},
		{"a//b", "", `"//"`},
		{"./a", "", `"."`},
		{"a\x01b", "", "control character"},
		{strings.Repeat("p", 513), "", "longer than 512 bytes"},
		{"a\xffb", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			env := offsiteEnv(map[string]string{"BACKUP_S3_PREFIX": tt.prefix})
			if tt.errContains != "" {
				e := oneError(t, env, "", "BACKUP_S3_PREFIX")
				if msg := e.Error(); !strings.Contains(msg, tt.errContains) {
					t.Errorf("%q does not say %q", msg, tt.errContains)
				}
				return
			}
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: t.TempDir()})
			if c.Offsite.Prefix != tt.want {
				t.Errorf("Prefix = %q, want %q", c.Offsite.Prefix, tt.want)
			}
		})
	}
}

func TestOffsiteBucketName(t *testing.T) {
	for _, ok := range []string{"abc", "my-backups", "backups.example.com", "0backup9", strings.Repeat("a", 63)} {
		if c := mustLoad(t, Sources{Env: envFunc(offsiteEnv(map[string]string{"BACKUP_S3_BUCKET": ok})), WorkDir: t.TempDir()}); c.Offsite.Bucket != ok {
			t.Errorf("bucket %q became %q", ok, c.Offsite.Bucket)
		}
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "My-Backups", "my_backups", "s3://my-backups",
		"-backups", "backups-", "back..ups", "192.168.1.10", "my backups", "my/backups"} {
		t.Run(bad, func(t *testing.T) {
			e := oneError(t, offsiteEnv(map[string]string{"BACKUP_S3_BUCKET": bad}), "", "BACKUP_S3_BUCKET")
			if msg := e.Error(); !strings.Contains(msg, "an S3 bucket name: 3 to 63 lowercase letters") {
				t.Errorf("%q does not explain the rules", msg)
			}
		})
	}
}

func TestOffsiteChoicesAndNumbers(t *testing.T) {
	tests := []struct {
		setting, value string
		get            func(Offsite) any
		want           any // nil = error
	}{
		{"BACKUP_S3_PATH_STYLE", "TRUE", func(o Offsite) any { return o.PathStyle }, PathStyleOn},
		{"BACKUP_S3_PATH_STYLE", "off", func(o Offsite) any { return o.PathStyle }, PathStyleOff},
		{"BACKUP_S3_PATH_STYLE", "0", func(o Offsite) any { return o.PathStyle }, PathStyleOff},
		{"BACKUP_S3_PATH_STYLE", "Auto", func(o Offsite) any { return o.PathStyle }, PathStyleAuto},
		{"BACKUP_S3_PATH_STYLE", "dns", nil, nil},
		{"BACKUP_S3_INSECURE", "yes", func(o Offsite) any { return o.Secure }, false},
		{"BACKUP_S3_INSECURE", "0", func(o Offsite) any { return o.Secure }, true},
		{"BACKUP_S3_INSECURE", "maybe", nil, nil},
		{"BACKUP_S3_REGION", "auto", func(o Offsite) any { return o.Region }, "auto"},
		{"BACKUP_S3_REGION", "us east", nil, nil},
		{"BACKUP_OFFSITE_RETENTION_DAYS", "0", func(o Offsite) any { return o.RetentionDays }, 0},
		{"BACKUP_OFFSITE_RETENTION_DAYS", "36500", func(o Offsite) any { return o.RetentionDays }, 36500},
		{"BACKUP_OFFSITE_RETENTION_DAYS", "36501", nil, nil},
		{"BACKUP_OFFSITE_RETENTION_DAYS", "-1", nil, nil},
		{"BACKUP_OFFSITE_RETENTION_COUNT", "1000", func(o Offsite) any { return o.RetentionCount }, 1000},
		{"BACKUP_OFFSITE_RETENTION_COUNT", "-1", nil, nil},
		{"BACKUP_OFFSITE_RETENTION_COUNT", "x", nil, nil},
		{"BACKUP_S3_OBJECT_LOCK_DAYS", "36500", func(o Offsite) any { return o.ObjectLockDays }, 36500},
		{"BACKUP_S3_OBJECT_LOCK_DAYS", "36501", nil, nil},
		{"BACKUP_S3_OBJECT_LOCK_DAYS", "-1", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.setting+"="+tt.value, func(t *testing.T) {
			env := offsiteEnv(map[string]string{tt.setting: tt.value})
			if tt.want == nil {
				e := oneError(t, env, "", tt.setting)
				if e.Value != tt.value {
					t.Errorf("Value = %q, want %q", e.Value, tt.value)
				}
				return
			}
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: t.TempDir()})
			if got := tt.get(c.Offsite); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// The S3 keys follow DB_PASSWORD's rules: NAME or NAME_FILE, the higher
// source wins, both in one source is refused, one trailing newline of a
// file dropped. Their _FILE paths are relative to the working folder.
func TestOffsiteKeys(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		file       string            // .env content
		keyFiles   map[string]string // relative to WorkDir
		wantID     string
		wantSecret string
		errSetting string // one error about this setting
		errText    string
	}{
		{name: "from the environment, trimmed", env: map[string]string{"BACKUP_S3_ACCESS_KEY_ID": " id1 "},
			wantID: "id1", wantSecret: testSecret},
		{name: "from files, one newline dropped",
			env: map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "<unset>", "BACKUP_S3_SECRET_ACCESS_KEY": "<unset>",
				"BACKUP_S3_ACCESS_KEY_ID_FILE": "keys/id", "BACKUP_S3_SECRET_ACCESS_KEY_FILE": "keys/secret"},
			keyFiles: map[string]string{"keys/id": "id2\n", "keys/secret": "sec2\r\n"}, wantID: "id2", wantSecret: "sec2"},
		{name: "_FILE from .env is relative to the working folder",
			env:      map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "<unset>", "BACKUP_ENV_FILE": "conf/.env"},
			file:     "BACKUP_S3_SECRET_ACCESS_KEY_FILE=keys/secret\n",
			keyFiles: map[string]string{"keys/secret": "sec3"}, wantID: testKeyID, wantSecret: "sec3"},
		{name: "environment _FILE beats .env key",
			env:      map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "<unset>", "BACKUP_S3_SECRET_ACCESS_KEY_FILE": "s"},
			file:     "BACKUP_S3_SECRET_ACCESS_KEY=old\n",
			keyFiles: map[string]string{"s": "new\n"}, wantID: testKeyID, wantSecret: "new"},
		{name: "environment key beats .env _FILE",
			file:   "BACKUP_S3_SECRET_ACCESS_KEY_FILE=nonexistent\n",
			wantID: testKeyID, wantSecret: testSecret},
		{name: "both in the same source", env: map[string]string{"BACKUP_S3_ACCESS_KEY_ID_FILE": "id"},
			keyFiles: map[string]string{"id": "other"}, errSetting: "BACKUP_S3_ACCESS_KEY_ID_FILE", errText: "not both in the same place"},
		{name: "unreadable file",
			env:        map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "<unset>", "BACKUP_S3_SECRET_ACCESS_KEY_FILE": "nope"},
			errSetting: "BACKUP_S3_SECRET_ACCESS_KEY_FILE", errText: "a readable file holding the S3 secret access key"},
		{name: "empty file",
			env:      map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "<unset>", "BACKUP_S3_SECRET_ACCESS_KEY_FILE": "empty"},
			keyFiles: map[string]string{"empty": "\n"}, errSetting: "BACKUP_S3_SECRET_ACCESS_KEY_FILE", errText: "the file is empty"},
		{name: "two lines in a file",
			env:      map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "<unset>", "BACKUP_S3_SECRET_ACCESS_KEY_FILE": "two"},
			keyFiles: map[string]string{"two": testSecret + "\n\n"}, errSetting: "BACKUP_S3_SECRET_ACCESS_KEY_FILE", errText: "without spaces"},
		{name: "a space inside", env: map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": testSecret + " x"},
			errSetting: "BACKUP_S3_SECRET_ACCESS_KEY", errText: "without spaces"},
		{name: "key id missing", env: map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "<unset>"},
			errSetting: "BACKUP_S3_ACCESS_KEY_ID",
			errText:    "both BACKUP_S3_ACCESS_KEY_ID (or BACKUP_S3_ACCESS_KEY_ID_FILE) and BACKUP_S3_SECRET_ACCESS_KEY (or BACKUP_S3_SECRET_ACCESS_KEY_FILE) are required"},
		{name: "secret blank", env: map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": "  "},
			errSetting: "BACKUP_S3_SECRET_ACCESS_KEY", errText: "are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			env := offsiteEnv(tt.env)
			if tt.file != "" {
				writeFile(t, filepath.Join(wd, "conf", ".env"), tt.file)
				env["BACKUP_ENV_FILE"] = filepath.Join(wd, "conf", ".env")
			}
			for p, content := range tt.keyFiles {
				writeFile(t, filepath.Join(wd, p), content)
			}
			if tt.errSetting != "" {
				e := oneError(t, env, wd, tt.errSetting)
				if msg := e.Error(); !strings.Contains(msg, tt.errText) {
					t.Errorf("%q does not say %q", msg, tt.errText)
				}
				return
			}
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: wd})
			if c.Offsite.AccessKeyID != tt.wantID || c.Offsite.SecretAccessKey != tt.wantSecret {
				t.Errorf("keys = %q, %q; want %q, %q", c.Offsite.AccessKeyID, c.Offsite.SecretAccessKey, tt.wantID, tt.wantSecret)
			}
			if got := c.Secrets(); !reflect.DeepEqual(got, []string{tt.wantID, tt.wantSecret}) {
				t.Errorf("Secrets() = %q", got)
			}
		})
	}
}

// No S3 key reaches an error text, whatever else is wrong.
func TestOffsiteKeysNeverInErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"invalid settings beside the keys": offsiteEnv(map[string]string{"BACKUP_S3_PREFIX": "..", "BACKUP_S3_PATH_STYLE": "x", "DB_PORT": "x"}),
		"a key with a space":               offsiteEnv(map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY": testSecret + " " + testKeyID}),
		"both forms in one place":          offsiteEnv(map[string]string{"BACKUP_S3_SECRET_ACCESS_KEY_FILE": "k"}),
		"keys in the endpoint":             offsiteEnv(map[string]string{"BACKUP_S3_ENDPOINT": "http://" + testKeyID + ":" + testSecret + "@h"}),
	} {
		t.Run(name, func(t *testing.T) {
			wd := t.TempDir()
			writeFile(t, filepath.Join(wd, "k"), testSecret)
			_, err := Load(Sources{Env: envFunc(env), WorkDir: wd}, fixedNow())
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), testKeyID) {
				t.Errorf("error text holds an S3 key: %v", err)
			}
		})
	}
}

func TestAgeRecipients(t *testing.T) {
	pub1, priv1 := ageKey(t)
	pub2, _ := ageKey(t)
	hy, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pq := hy.Recipient().String()
	bad := pub2[:len(pub2)-3] + "qqq" // a typo: the checksum fails

	tests := []struct {
		name       string
		env        map[string]string
		file       string            // .env content
		files      map[string]string // relative to WorkDir
		want       []string
		errSetting string
		errText    string
		hidden     string // must not appear in the error
	}{
		{name: "one", env: map[string]string{"BACKUP_AGE_RECIPIENTS": pub1}, want: []string{pub1}},
		{name: "comma separated, spaces and empty entries",
			env: map[string]string{"BACKUP_AGE_RECIPIENTS": " " + pub1 + " ,, " + pub2 + ","}, want: []string{pub1, pub2}},
		{name: "post-quantum", env: map[string]string{"BACKUP_AGE_RECIPIENTS": pq + "," + pub1}, want: []string{pq, pub1}},
		{name: "file with comments and blank lines",
			env:   map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "recipients.txt"},
			files: map[string]string{"recipients.txt": "# offsite keys\n\n" + pub1 + "\r\n  # laptop\n" + pub2 + "\n\n"},
			want:  []string{pub1, pub2}},
		{name: "environment file beats .env list",
			env:   map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "r"},
			file:  "BACKUP_AGE_RECIPIENTS=" + pub1 + "\n",
			files: map[string]string{"r": pub2 + "\n"}, want: []string{pub2}},
		{name: "environment list beats .env file",
			env:  map[string]string{"BACKUP_AGE_RECIPIENTS": pub1},
			file: "BACKUP_AGE_RECIPIENTS_FILE=nonexistent\n", want: []string{pub1}},
		{name: "both in the same source",
			env: map[string]string{"BACKUP_AGE_RECIPIENTS": pub1, "BACKUP_AGE_RECIPIENTS_FILE": "r"}, files: map[string]string{"r": pub2},
			errSetting: "BACKUP_AGE_RECIPIENTS_FILE", errText: "not both in the same place"},
		{name: "a typo names the entry",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS": pub1 + "," + bad},
			errSetting: "BACKUP_AGE_RECIPIENTS", errText: "entry 2: malformed recipient"},
		{name: "not a key",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS": "ssh-ed25519"},
			errSetting: "BACKUP_AGE_RECIPIENTS", errText: "entry 1: unknown recipient type"},
		{name: "two keys without a comma",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS": pub1 + " " + pub2},
			errSetting: "BACKUP_AGE_RECIPIENTS", errText: "entry 1: a space or line break inside a key"},
		{name: "a typo in the file names the line",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "r"},
			files:      map[string]string{"r": "# keys\n" + pub1 + "\n\n" + bad + "\n"},
			errSetting: "BACKUP_AGE_RECIPIENTS_FILE", errText: "line 4: malformed recipient"},
		{name: "a private key in the list is refused and not shown",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS": pub2 + "," + priv1},
			errSetting: "BACKUP_AGE_RECIPIENTS", errText: "entry 2 is an age private key", hidden: priv1},
		{name: "a private key in the file is refused and not shown",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "r"},
			files:      map[string]string{"r": "# created: today\n# public key: " + pub1 + "\n" + priv1 + "\n"},
			errSetting: "BACKUP_AGE_RECIPIENTS_FILE", errText: "line 3 is an age private key", hidden: priv1},
		{name: "only commas",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS": ", ,"},
			errSetting: "BACKUP_AGE_RECIPIENTS", errText: "no age public key found"},
		{name: "a file of comments only",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "r"},
			files:      map[string]string{"r": "# nothing yet\n"},
			errSetting: "BACKUP_AGE_RECIPIENTS_FILE", errText: "no age public key found"},
		{name: "a missing file",
			env:        map[string]string{"BACKUP_AGE_RECIPIENTS_FILE": "r"},
			errSetting: "BACKUP_AGE_RECIPIENTS_FILE", errText: "a readable file of age public keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			env := offsiteEnv(tt.env)
			if tt.file != "" {
				env["BACKUP_ENV_FILE"] = writeFile(t, filepath.Join(wd, ".env"), tt.file)
			}
			for p, content := range tt.files {
				writeFile(t, filepath.Join(wd, p), content)
			}
			if tt.errSetting != "" {
				e := oneError(t, env, wd, tt.errSetting)
				msg := e.Error()
				if !strings.Contains(msg, tt.errText) {
					t.Errorf("%q does not say %q", msg, tt.errText)
				}
				if tt.hidden != "" && (strings.Contains(msg, tt.hidden) || e.Value != "" && tt.errSetting == "BACKUP_AGE_RECIPIENTS") {
					t.Errorf("error text or value shows the private key: %q", msg)
				}
				if tt.errSetting == "BACKUP_AGE_RECIPIENTS" && tt.hidden != "" && !strings.HasPrefix(msg, "BACKUP_AGE_RECIPIENTS is invalid:") {
					t.Errorf("%q shows a value, want the setting named without one", msg)
				}
				return
			}
			c := mustLoad(t, Sources{Env: envFunc(env), WorkDir: wd})
			if !reflect.DeepEqual(c.Offsite.Recipients, tt.want) {
				t.Errorf("Recipients = %q, want %q", c.Offsite.Recipients, tt.want)
			}
			recs, err := c.Offsite.AgeRecipients()
			if err != nil || len(recs) != len(tt.want) {
				t.Errorf("AgeRecipients() = %d, %v; want %d", len(recs), err, len(tt.want))
			}
		})
	}
}

// writeCA writes a self-signed CA certificate as PEM.
func writeCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

func TestOffsiteCAFile(t *testing.T) {
	wd := t.TempDir()
	writeCA(t, filepath.Join(wd, "ca.pem"))
	writeFile(t, filepath.Join(wd, "junk.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
	c := mustLoad(t, Sources{Env: envFunc(offsiteEnv(map[string]string{"BACKUP_S3_CA_FILE": "ca.pem"})), WorkDir: wd})
	if c.Offsite.CAFile != filepath.Join(wd, "ca.pem") {
		t.Errorf("CAFile = %q", c.Offsite.CAFile)
	}
	for _, tt := range []struct {
		env     map[string]string
		errText string
	}{
		{map[string]string{"BACKUP_S3_CA_FILE": "junk.pem"}, "no PEM certificate in it"},
		{map[string]string{"BACKUP_S3_CA_FILE": "missing.pem"}, "no such file"},
		{map[string]string{"BACKUP_S3_CA_FILE": "ca.pem", "BACKUP_S3_INSECURE": "true"}, "plain http endpoint"},
		{map[string]string{"BACKUP_S3_CA_FILE": "ca.pem", "BACKUP_S3_ENDPOINT": "http://h:9000"}, "plain http endpoint"},
	} {
		e := oneError(t, offsiteEnv(tt.env), wd, "BACKUP_S3_CA_FILE")
		if msg := e.Error(); !strings.Contains(msg, tt.errText) {
			t.Errorf("%q does not say %q", msg, tt.errText)
		}
	}
}

// The identity file is only a path for Load: the backup host normally does
// not have it, and only commands that decrypt read it.
func TestOffsiteIdentityFileNotRead(t *testing.T) {
	wd := t.TempDir()
	c := mustLoad(t, Sources{Env: envFunc(offsiteEnv(map[string]string{"BACKUP_AGE_IDENTITY_FILE": "keys/missing.key"})), WorkDir: wd})
	if c.Offsite.IdentityFile != filepath.Join(wd, "keys/missing.key") {
		t.Errorf("IdentityFile = %q", c.Offsite.IdentityFile)
	}
}
