// Package config builds the settings of a directus-backup run.
//
// Every setting is an environment variable name (the names backup.sh used,
// plus Directus's own DB_* names), listed once in [Settings], which also
// drives the command-line flags and --help. [Load] layers four sources,
// highest first:
//
//  1. command-line flags (Sources.Flags, keyed by environment name),
//  2. the real environment (Sources.Env),
//  3. the Directus .env file (BACKUP_ENV_FILE, or ./.env when present),
//  4. the defaults in [Settings].
//
// A value that is empty or only whitespace counts as not set and falls
// through to the next source, like ${VAR:-default} in the old script: an
// empty DB_HOST= left behind by a compose file does not hide the .env value.
// Values are trimmed, except DB_PASSWORD, which is used as given, as
// Directus does.
//
// The .env file is parsed the way Directus parses it (Node's dotenv): no
// $VAR expansion, '#' starts a comment in unquoted values, "double quotes"
// turn \n into a newline, 'single' and `backtick` quotes are literal, and
// lines that are not KEY=VALUE are ignored. Parsing it differently from
// Directus would let the two disagree about the database password.
//
// Relative paths are resolved against Sources.WorkDir. Directus's own
// variables that name paths (STORAGE_LOCAL_ROOT, DB_PASSWORD_FILE) are
// resolved against the .env file's folder when they come from that file,
// because that is where Directus runs from.
//
// BACKUP_FORMATTED_DATE is applied to the timestamp in the location of the
// now argument of [Load]: time.Now() gives local time in production, and
// tests pass a time in a fixed zone instead of touching time.Local.
//
// Invalid values are all reported at once, as an errors.Join of
// [*SettingError] values; every one matches errors.Is(err, [ErrInvalid]).
// Secret values never appear in errors.
package config
