package config

import "testing"

func TestParseMinFree(t *testing.T) {
	good := map[string]MinFree{
		"0": {}, "1GiB": {Bytes: 1 << 30}, "2gib": {Bytes: 2 << 30}, "500MB": {Bytes: 500e6},
		"1.5G": {Bytes: 3 << 29}, "1048576": {Bytes: 1 << 20}, "5%": {Percent: 5}, "0.5 %": {Percent: 0.5},
	}
	for in, want := range good {
		got, err := ParseMinFree(in)
		if err != nil || got != want {
			t.Errorf("ParseMinFree(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GB", "100%", "5%%", "1XB", "NaN"} {
		if m, err := ParseMinFree(in); err == nil {
			t.Errorf("ParseMinFree(%q) = %+v, want an error", in, m)
		}
	}
	if got := (MinFree{Percent: 5}).Of(1000); got != 50 {
		t.Errorf("5%% of 1000 = %d", got)
	}
}

func TestMinFreeSetting(t *testing.T) {
	env := map[string]string{"DB_DATABASE": "d", "BACKUP_MIN_FREE": "a lot"}
	_, err := Load(Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, WorkDir: t.TempDir()}, fixedNow())
	if err == nil {
		t.Fatal("BACKUP_MIN_FREE=a lot was accepted")
	}
}
