package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// Origins names the source of each setting (flag, environment, the .env
// file with its path, default), follows Load's precedence and blank rule,
// and never returns a secret's value.
func TestOrigins(t *testing.T) {
	dir := t.TempDir()
	const password, keyID = "pa55-from-dotenv", "AKIA-from-env"
	envFile := writeFile(t, filepath.Join(dir, ".env"), "DB_DATABASE=directus\n"+
		"DB_PASSWORD="+password+"\n"+
		"BACKUP_RETENTION_DAYS=14\n"+
		"BACKUP_GZIP_LEVEL=3\n"+ // the flag wins
		"DB_HOST=db.internal\n"+ // the blank environment value does not hide it
		"DB_PORT=6543\n"+ // the environment wins
		"BACKUP_ENV_FILE=/elsewhere/.env\n") // means nothing inside the file
	c := mustLoad(t, Sources{
		Flags:   map[string]string{"BACKUP_GZIP_LEVEL": "5"},
		Env:     envFunc(map[string]string{"DB_HOST": "  ", "DB_PORT": "5433", envS3AccessKeyID: keyID}),
		WorkDir: dir,
	})
	got := map[string]SettingValue{}
	for _, s := range c.Origins() {
		got[s.Env] = s
		if strings.Contains(s.Value, password) || strings.Contains(s.Value, keyID) {
			t.Errorf("%s shows a secret: %+v", s.Env, s)
		}
	}
	if len(got) != len(Settings) {
		t.Errorf("%d settings listed, want all %d", len(got), len(Settings))
	}
	fromFile := EnvFileOrigin + " " + envFile
	for env, want := range map[string]SettingValue{
		"BACKUP_GZIP_LEVEL":     {Value: "5", From: FromFlag},
		"DB_PORT":               {Value: "5433", From: FromEnvironment},
		"DB_HOST":               {Value: "db.internal", From: fromFile},
		"BACKUP_RETENTION_DAYS": {Value: "14", From: fromFile},
		"DB_PASSWORD":           {Value: SecretSet, From: fromFile},
		envS3AccessKeyID:        {Value: SecretSet, From: FromEnvironment},
		envS3SecretAccessKey:    {Value: SecretNotSet, From: FromDefault},
		envPingURL:              {Value: SecretNotSet, From: FromDefault},
		"BACKUP_COMPRESSION":    {Value: "gzip", From: FromDefault},
		// Derived defaults show what this run derived.
		"BACKUP_ERROR_DIR":   {Value: filepath.Join(dir, "directus/data/backups/error_logs"), From: FromDefault},
		"BACKUP_UPLOADS_DIR": {Value: filepath.Join(dir, "directus/uploads"), From: FromDefault},
		"BACKUP_ENV_FILE":    {Value: envFile, From: FromDefault},
	} {
		want.Env = env
		if got[env] != want {
			t.Errorf("%s = %+v, want %+v", env, got[env], want)
		}
	}
	if !got["BACKUP_COMPRESSION"].IsDefault() || got["DB_PORT"].IsDefault() {
		t.Error("IsDefault does not follow From")
	}
}
