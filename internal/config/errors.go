package config

import (
	"fmt"

	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// ErrInvalid is matched (errors.Is) by every error Load returns because of a
// bad setting, so the CLI can map it to its usage exit code.
var ErrInvalid = exitcode.New(exitcode.Usage, "invalid settings")

// SettingError reports one invalid setting.
type SettingError struct {
	Setting  string // environment name, e.g. BACKUP_GZIP_LEVEL
	Value    string // the value as given; always "" for secret settings
	Accepted string // what would be accepted
	From     string // where the value came from: "in the environment", "in the .env file /srv/.env", "by a command-line flag", "by default"; may be ""
	Err      error  // optional detail: unreadable file, unknown directive, ...

	// HideValue keeps Value out of Error(): the value of a setting that is
	// not secret may still hold one by mistake (a private key among public
	// keys, credentials in a URL).
	HideValue bool
}

// Error reads like
//
//	BACKUP_GZIP_LEVEL="10" is invalid: set in the .env file /srv/directus/.env; accepted: an integer from 1 to 9
//
// with the detail, when there is one, before "accepted". A secret setting
// (or one with HideValue) is named without its value.
func (e *SettingError) Error() string {
	s := e.Setting
	if !isSecret(e.Setting) && !e.HideValue {
		s += fmt.Sprintf("=%q", e.Value)
	}
	s += " is invalid: "
	if e.From != "" {
		s += "set " + e.From + "; "
	}
	if e.Err != nil {
		s += e.Err.Error() + "; "
	}
	return s + "accepted: " + e.Accepted
}

// Is makes every SettingError match ErrInvalid.
func (e *SettingError) Is(target error) bool { return target == ErrInvalid }

// ExitCode: an invalid setting is a usage error.
func (e *SettingError) ExitCode() int { return exitcode.Usage }

// Unwrap returns the detail, so errors.Is(err, fs.ErrNotExist) works for a
// missing file.
func (e *SettingError) Unwrap() error { return e.Err }
