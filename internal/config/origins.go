package config

import "strconv"

// Where a setting's value came from, as SettingValue.From says it (doctor
// prints them; the .env file's origin is "EnvFileOrigin <path>").
const (
	FromFlag        = "flag"
	FromEnvironment = "environment"
	EnvFileOrigin   = ".env file"
	FromDefault     = "default"
)

// Shown instead of a secret's value.
const (
	SecretSet    = "[set]"
	SecretNotSet = "(not set)"
)

// SettingValue is one setting's effective value and its source.
type SettingValue struct {
	Env   string // the setting's name
	Value string // as its source gives it, trimmed; SecretSet or SecretNotSet for a secret
	From  string // FromFlag, FromEnvironment, EnvFileOrigin+" "+path or FromDefault
}

// IsDefault reports whether no source sets the value.
func (v SettingValue) IsDefault() bool { return v.From == FromDefault }

// Origins lists every setting of Settings, in its order, with the value in
// effect and where it came from, so that a user can see which of several
// sources won. Secrets are never returned, only whether they are set (a
// NAME_FILE variant is a path and shown). A value that is blank counts as
// not set, as in Load.
func (c *Config) Origins() []SettingValue {
	r := resolver{vars: c.vars}
	out := make([]SettingValue, 0, len(Settings))
	for _, s := range Settings {
		v, o, ok := r.get(s.Env)
		if s.Env == envEnvFile && o == fromFile {
			ok = false // the file cannot name itself: readEnvFile ignores it there
		}
		sv := SettingValue{Env: s.Env, Value: v, From: FromDefault}
		if ok {
			switch o {
			case fromFlag:
				sv.From = FromFlag
			case fromEnv:
				sv.From = FromEnvironment
			case fromFile:
				sv.From = EnvFileOrigin + " " + c.EnvFile
			}
		} else {
			sv.Value = c.derivedDefault(s)
		}
		if s.Secret {
			sv.Value = SecretNotSet
			if ok {
				sv.Value = SecretSet
			}
		}
		out = append(out, sv)
	}
	return out
}

// derivedDefault is the value a setting takes by default: the Default
// shown in --help, or for the few whose default Load derives, what it
// derived for this run.
func (c *Config) derivedDefault(s Setting) string {
	switch s.Env {
	case envErrorDir:
		return c.ErrorDir
	case envUploadsDir:
		return c.UploadsDir // from STORAGE_LOCAL_ROOT when that is set
	case envEnvFile:
		return c.EnvFile // "" when none was read
	case envTimestamp:
		return strconv.FormatInt(c.Timestamp, 10)
	}
	return s.Default
}
