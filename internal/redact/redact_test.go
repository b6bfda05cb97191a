package redact

import (
	"reflect"
	"strings"
	"testing"
)

func TestIsSecretName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"DB_PASSWORD", true},
		{"db_password", true},
		{"KEY", true},
		{"SECRET", true},
		{"ADMIN_TOKEN", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"SMTP_PASS", true},
		{"GOOGLE_APPLICATION_CREDENTIALS", true},
		{"SSH_PRIVATE_KEY_PATH", true},
		{"AUTH_GITHUB_CLIENT_ID", true},
		{"DB_HOST", false},
		{"PATH", false},
		{"BACKUPS_DIR", false},
		{"PUBLIC_URL", false},
		{"ADMIN_PW", true},
		{"DB_PWD", true},
		{"PWA_ENABLED", false},
		{"UPWARD", false},
	}
	for _, tt := range tests {
		if got := IsSecretName(tt.name); got != tt.want {
			t.Errorf("IsSecretName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"password by name", "DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"},
		{"bare KEY", "KEY=abc-123", "KEY=[REDACTED]"},
		{"SECRET", "SECRET=s", "SECRET=[REDACTED]"},
		{"token", "ADMIN_TOKEN=tok", "ADMIN_TOKEN=[REDACTED]"},
		{"AWS key", "AWS_SECRET_ACCESS_KEY=wJalr/K7MDENG", "AWS_SECRET_ACCESS_KEY=[REDACTED]"},
		{"lower-case name", "my_pass=x", "my_pass=[REDACTED]"},
		{"value with =", "DB_PASSWORD=a=b", "DB_PASSWORD=[REDACTED]"},
		{"empty secret stays empty", "DB_PASSWORD=", "DB_PASSWORD="},
		{"plain value kept", "DB_HOST=db.internal", "DB_HOST=db.internal"},
		{"empty plain value", "DB_HOST=", "DB_HOST="},
		{"postgres URL", "DB_CONNECTION_STRING=postgres://user:pass@host:5432/db",
			"DB_CONNECTION_STRING=postgres://user:[REDACTED]@host:5432/db"},
		{"URL without password kept", "DATABASE_URL=postgres://user@host/db", "DATABASE_URL=postgres://user@host/db"},
		{"URL without userinfo kept", "PUBLIC_URL=https://cms.example.com/admin", "PUBLIC_URL=https://cms.example.com/admin"},
		{"URL with empty password kept", "URL=redis://user:@host", "URL=redis://user:@host"},
		{"password with raw @", "REDIS=redis://default:p@ss@cache:6379", "REDIS=redis://default:[REDACTED]@cache:6379"},
		{"two URLs", "CACHE=redis://a:x1@h1:6379,redis://b:y2@h2:6379",
			"CACHE=redis://a:[REDACTED]@h1:6379,redis://b:[REDACTED]@h2:6379"},
		{"URL in text", "NOTE=see amqp://guest:guest@mq/ for details", "NOTE=see amqp://guest:[REDACTED]@mq/ for details"},
		{"libpq key/value", "DSN=host=db user=u password=xyz dbname=d",
			"DSN=host=db user=u password=[REDACTED] dbname=d"},
		{"libpq quoted value", `DSN=host=db password='a b\'c' dbname=d`,
			"DSN=host=db password=[REDACTED] dbname=d"},
		{"libpq spaces around =", "DSN=password = xyz port=5432", "DSN=password = [REDACTED] port=5432"},
		{"ODBC", "CONN=Server=db;Uid=u;Pwd=xyz;Database=d", "CONN=Server=db;Uid=u;Pwd=[REDACTED];Database=d"},
		{"URL query", "URL=postgres://h/db?sslmode=require&password=xyz&x=1",
			"URL=postgres://h/db?sslmode=require&password=[REDACTED]&x=1"},
		{"no = in line", "garbage postgres://u:p@h", "garbage postgres://u:[REDACTED]@h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Env([]string{tt.in})
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("Env(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEnvKeepsOrder(t *testing.T) {
	in := []string{"B=1", "A_TOKEN=t", "A=2"}
	want := []string{"B=1", "A_TOKEN=[REDACTED]", "A=2"}
	if got := Env(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	if in[1] != "A_TOKEN=t" {
		t.Error("Env modified its argument")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"one secret", `pg_dump: error: password "hunter2" rejected`, []string{"hunter2"},
			`pg_dump: error: password "[REDACTED]" rejected`},
		{"every occurrence", "a hunter2 b hunter2", []string{"hunter2"}, "a [REDACTED] b [REDACTED]"},
		{"several secrets", "x=one y=two", []string{"one", "two"}, "x=[REDACTED] y=[REDACTED]"},
		{"longer secret first", "pw=abcdef", []string{"abc", "abcdef"}, "pw=[REDACTED]"},
		{"empty secret ignored", "nothing to hide", []string{""}, "nothing to hide"},
		{"no secrets", "text", nil, "text"},
		{"special characters are literal", "p=a.b*c", []string{"a.b*c"}, "p=[REDACTED]"},
		{"multi-line", "line1 s3cr3t\nline2 s3cr3t", []string{"s3cr3t"}, "line1 [REDACTED]\nline2 [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("String(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
			}
		})
	}
}

func TestNoSecretSurvives(t *testing.T) {
	const pw = "Zq9-secret-value"
	environ := []string{
		"DB_PASSWORD=" + pw,
		"DB_URL=postgres://directus:" + pw + "@db:5432/directus",
		"DSN=host=db password=" + pw,
		"PLAIN=hello",
	}
	for _, line := range Env(environ) {
		if strings.Contains(line, pw) {
			t.Errorf("Env leaked the password: %q", line)
		}
	}
	if got := String("FATAL: "+pw, pw); strings.Contains(got, pw) {
		t.Errorf("String leaked the password: %q", got)
	}
}
