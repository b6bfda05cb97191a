package config

import (
	"strings"
	"testing"
	"time"
)

func TestLockWaitSetting(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		env["DB_DATABASE"] = "d"
		return Load(Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, WorkDir: t.TempDir()}, fixedNow())
	}
	c, err := load(map[string]string{})
	if err != nil || c.LockWait != 0 || c.LockWaitSet {
		t.Fatalf("default: %v set=%v, %v; want 0, not set", c.LockWait, c.LockWaitSet, err)
	}
	for v, want := range map[string]time.Duration{"0": 0, "0s": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "24h": 24 * time.Hour} {
		c, err := load(map[string]string{"BACKUP_LOCK_WAIT": v})
		if err != nil || c.LockWait != want || !c.LockWaitSet {
			t.Errorf("%q: %v set=%v, %v; want %v, set", v, c.LockWait, c.LockWaitSet, err, want)
		}
	}
	for _, v := range []string{"5", "-1s", "24h0m1s", "soon", "10 minutes"} {
		_, err := load(map[string]string{"BACKUP_LOCK_WAIT": v})
		if err == nil {
			t.Errorf("%q was accepted", v)
			continue
		}
		for _, want := range []string{"BACKUP_LOCK_WAIT", v, "environment", "30s, 5m or 1h30m"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: the error lacks %q: %v", v, want, err)
			}
		}
	}
}
