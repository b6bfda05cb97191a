package config

import (
	"strings"
	"testing"
)

func TestScheduleSetting(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		env["DB_DATABASE"] = "d"
		return Load(Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, WorkDir: t.TempDir()}, fixedNow())
	}
	c, err := load(map[string]string{"BACKUP_SCHEDULE": "0 2 * * *", "BACKUP_VERIFY_SCHEDULE": "@weekly"})
	if err != nil || c.Schedule != "0 2 * * *" || c.VerifySchedule != "@weekly" {
		t.Fatalf("good schedules: %+v, %v", c, err)
	}
	_, err = load(map[string]string{"BACKUP_SCHEDULE": "at 2am", "BACKUP_VERIFY_SCHEDULE": "0 25 * * *"})
	if err == nil {
		t.Fatal("bad schedules were accepted")
	}
	for _, want := range []string{"BACKUP_SCHEDULE", "BACKUP_VERIFY_SCHEDULE", "5-field cron"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}
