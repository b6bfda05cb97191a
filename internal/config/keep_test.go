package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// BACKUP_KEEP_*: 0 by default, read from every source, integers of 0 or
// more only.
func TestKeepSettings(t *testing.T) {
	c := mustLoad(t, Sources{Env: envFunc(minimalEnv(nil)), WorkDir: t.TempDir()})
	if c.KeepDaily != 0 || c.KeepWeekly != 0 || c.KeepMonthly != 0 {
		t.Errorf("defaults %d/%d/%d, want 0/0/0", c.KeepDaily, c.KeepWeekly, c.KeepMonthly)
	}

	wd := t.TempDir()
	writeFile(t, filepath.Join(wd, ".env"), "BACKUP_KEEP_MONTHLY=12\nBACKUP_KEEP_WEEKLY=1\n")
	c = mustLoad(t, Sources{Env: envFunc(minimalEnv(map[string]string{"BACKUP_KEEP_WEEKLY": "4"})),
		Flags: map[string]string{"BACKUP_KEEP_DAILY": "7"}, WorkDir: wd})
	if c.KeepDaily != 7 || c.KeepWeekly != 4 || c.KeepMonthly != 12 {
		t.Errorf("flag/env/.env gave %d/%d/%d, want 7/4/12", c.KeepDaily, c.KeepWeekly, c.KeepMonthly)
	}

	for _, name := range []string{"BACKUP_KEEP_DAILY", "BACKUP_KEEP_WEEKLY", "BACKUP_KEEP_MONTHLY"} {
		for _, v := range []string{"-1", "x", "1.5", "7d", ""} {
			env := minimalEnv(map[string]string{name: v})
			_, err := Load(Sources{Env: envFunc(env), WorkDir: t.TempDir()}, fixedNow())
			if v == "" { // blank is unset, as for every setting
				if err != nil {
					t.Errorf("%s=%q: %v", name, v, err)
				}
				continue
			}
			errs := settingErrors(t, err)
			if len(errs) != 1 || errs[0].Setting != name || !strings.Contains(err.Error(), "an integer of 0 or more") {
				t.Errorf("%s=%q: %v", name, v, err)
			}
		}
	}
}
