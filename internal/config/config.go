package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/notify"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// DB is the database connection, in Directus's terms.
type DB struct {
	Client   string // always "pg"
	Host     string // "" = libpq default
	Port     string // validated 1-65535
	Database string
	User     string // "" = libpq default
	Password string // from DB_PASSWORD or DB_PASSWORD_FILE; never log it

	// Issue 12: DB_CONNECTION_STRING, DB_SSL__*, DB_SEARCH_PATH, as libpq
	// settings ("" = libpq's default).
	ConnString                   string // DB_CONNECTION_STRING as given; a secret
	SSLMode                      string // libpq sslmode
	SSLRootCert, SSLCert, SSLKey string // paths for libpq
	SSLRootCertPEM, SSLCertPEM   string // PEM content, to be written to files (dbcerts.Write)
	SSLKeyPEM                    string // PEM content of the client key; a secret
	Options                      string // PGOPTIONS, search_path included
	AppName, ConnectTimeout      string // application_name, connect_timeout from the connection string
	SearchPath                   []string
	// Sources says which setting gave host, port, database, user and
	// sslmode, and where it was set (for doctor).
	Sources map[string]string
	// Ignored lists the settings DB_CONNECTION_STRING overrides that are
	// set all the same (Directus ignores them too).
	Ignored []string

	passwordRaw string // the password as the connection string spells it
}

// Config is the resolved, validated settings of one run.
type Config struct {
	BackupsDir             string // absolute, cleaned
	RetentionDays          int
	RetentionCount         int
	GzipLevel              int
	Compression            string // "gzip" or "none"
	ErrorDir               string // absolute
	DateFormat             string // setting as given
	Timestamp              int64  // BACKUP_TIMESTAMP or now.Unix()
	FormattedDate          string // resolved date string used in the backup folder name
	ErrorLogsRetentionDays int
	DB                     DB
	UploadsDir             string // absolute
	DBMethod               string // "auto", "local" or "docker"
	DockerComposeFile      string // absolute
	DockerService          string
	// ComposeFiles are the compose files (absolute), passed as -f each;
	// the first is DockerComposeFile.
	ComposeFiles   []string
	ComposeProject string // -p, "" = compose's default
	Verify         string // VerifyOff, VerifyFiles or VerifyRestore
	RecheckPercent int    // share of linked upload files re-read per run, 0 to 100
	EnvFile        string // absolute path of the .env file that was read, or ""
	Offsite        Offsite
	PingURL        string // BACKUP_PING_URL, "" = no pings; its path is a secret
	PingExitStatus bool   // BACKUP_PING_EXIT_STATUS: end pings as <url>/<exit code>
	MetricsFile    string // absolute, "" = no metrics file

	// Grandfather-father-son retention; all 0 = the days/count policy alone.
	KeepDaily, KeepWeekly, KeepMonthly int
	MinFree                            MinFree // BACKUP_MIN_FREE
	Schedule                           string  // BACKUP_SCHEDULE, checked; "" = none
	VerifySchedule                     string  // BACKUP_VERIFY_SCHEDULE, checked; "" = none

	BeforeCommand, AfterCommand string // hooks, run with sh -c; "" = none

	// LockWait is how long a run waits for the lock on BACKUPS_DIR
	// (BACKUP_LOCK_WAIT); LockWaitSet: some source sets it.
	LockWait    time.Duration
	LockWaitSet bool
	NotifyURLs  []string // BACKUP_NOTIFY_URLS, each checked; secrets
	NotifyOn    string   // NotifyOnFailure or NotifyOnAlways
	// ExcludeTableData: tables whose rows the dump leaves out
	// (BACKUP_EXCLUDE_TABLE_DATA), checked names; nil = none.
	ExcludeTableData []string
	// Storage is every Directus storage location (STORAGE_LOCATIONS), in
	// order; DefaultLocation names the one in UploadsDir (the first local
	// one), "" when none is local (then UploadsDir is "").
	Storage         []StorageLocation
	DefaultLocation string
	ExtensionsDir   string // EXTENSIONS_PATH, absolute
	NoFiles         bool   // BACKUP_FILES=off: database-only backups

	vars layers // the raw sources, for Lookup and Environ
}

// Sources are the layers a Config is built from.
type Sources struct {
	Flags   map[string]string           // keyed by env name (the CLI maps changed flags to their env names)
	Env     func(string) (string, bool) // os.LookupEnv in production; nil = empty environment
	WorkDir string                      // for relative paths (os.Getwd in production); "" = os.Getwd

	// Environ lists the whole real environment (os.Environ in production)
	// for Config.Environ, so that the error folder's dump also shows PATH,
	// PG* and the like. nil: Config.Environ lists only the settings,
	// STORAGE_LOCAL_ROOT and the names in Flags and the .env file.
	Environ func() []string

	// NoDatabase is set by commands that never reach the database (prune):
	// then DB_DATABASE is not required.
	NoDatabase bool
}

// Values of Config.Verify (BACKUP_VERIFY).
const (
	VerifyOff     = "off"
	VerifyFiles   = "files"
	VerifyRestore = "restore"
)

// Limits that are not obvious from the settings table.
const (
	// maxDays keeps days*24h far from time.Duration overflow (about 106751
	// days), which would turn a retention cutoff into the future.
	maxDays = 36500
	// maxTimestamp is exclusive; it keeps typos in milliseconds out.
	maxTimestamp = 1e11
)

// Load reads the .env file (BACKUP_ENV_FILE from Flags or Env; by default
// WorkDir/.env when it exists; an explicitly named file that does not exist
// is an error), layers flags > env > file > defaults, resolves and validates
// everything. now gives the default timestamp, and its location is the zone
// BACKUP_FORMATTED_DATE is applied in.
//
// Errors about settings match ErrInvalid and list every problem found.
// Other errors (WorkDir cannot be determined) do not match ErrInvalid.
func Load(src Sources, now time.Time) (*Config, error) {
	wd := src.WorkDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("find the working folder: %w", err)
		}
	}
	wd, err := filepath.Abs(wd)
	if err != nil {
		return nil, fmt.Errorf("find the working folder: %w", err)
	}

	c := &Config{vars: layers{flags: src.Flags, env: src.Env}}
	if src.Environ != nil {
		c.vars.environ = src.Environ()
	}
	if c.EnvFile, c.vars.file, err = readEnvFile(c.vars, wd); err != nil {
		// Without the file every other value may be wrong; report only this.
		return nil, errors.Join(err)
	}

	r := resolver{vars: c.vars, wd: wd, envDir: filepath.Dir(c.EnvFile), envFile: c.EnvFile}

	c.BackupsDir = r.path(envBackupsDir)
	c.RetentionDays = r.integer(envRetentionDays, 0, maxDays, "an integer from 0 to 36500 (0 = no age limit)")
	c.RetentionCount = r.integer(envRetentionCount, 0, math.MaxInt, "an integer of 0 or more (0 = no minimum)")
	c.GzipLevel = r.integer(envGzipLevel, 1, 9, "an integer from 1 to 9")
	c.Compression = r.choice(envCompression, "gzip, zstd or none",
		map[string]string{"gzip": "gzip", "zstd": "zstd", "none": "none"})

	if v, _, ok := r.get(envErrorDir); ok {
		c.ErrorDir = resolvePath(wd, v)
	} else {
		c.ErrorDir = repo.DefaultErrorDir(c.BackupsDir)
	}

	c.Timestamp = now.Unix()
	if v, _, ok := r.get(envTimestamp); ok {
		ts, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ts <= 0 || ts >= maxTimestamp {
			r.fail(envTimestamp, v, "a Unix timestamp in seconds, from 1 to 99999999999", nil)
		} else {
			c.Timestamp = ts
		}
	}
	c.DateFormat = r.value(envFormattedDate)
	// A bad timestamp was reported above; now.Unix() still lets the format
	// be checked.
	if c.FormattedDate, err = formatDate(c.DateFormat, time.Unix(c.Timestamp, 0).In(now.Location())); err != nil {
		r.fail(envFormattedDate, c.DateFormat, dateAccepted, err)
	}

	c.ErrorLogsRetentionDays = r.integer(envErrorLogsDays, 0, maxDays, "an integer from 0 to 36500 (0 = keep all)")

	c.DB.Client = r.dbClient()
	r.dbConnection(&c.DB, src.NoDatabase)

	r.storageAndUploads(c)
	c.ExtensionsDir = r.extensionsDir()
	c.NoFiles = !r.on(envFiles)
	// Backups inside a copied folder would be copied into every new
	// backup (and files inside the backups folder would be pruned).
	for _, l := range append(c.Storage, StorageLocation{Name: envExtensionsPath, Driver: DriverLocal, Root: c.ExtensionsDir}) {
		if l.Driver != DriverLocal || l.Root == "" {
			continue
		}
		what := "the storage location " + l.Name + "'s folder " + l.Root
		switch l.Name {
		case c.DefaultLocation:
			what = "the uploads folder " + l.Root
		case envExtensionsPath:
			what = "the extensions folder " + l.Root
		}
		if within(l.Root, c.BackupsDir) || within(c.BackupsDir, l.Root) {
			r.fail(envBackupsDir, c.BackupsDir, "a folder outside "+what+" (and not containing it)", nil)
		}
		if within(l.Root, c.ErrorDir) || within(c.ErrorDir, l.Root) {
			r.fail(envErrorDir, c.ErrorDir, "a folder outside "+what+" (and not containing it)", nil)
		}
	}
	c.DBMethod = r.choice(envDBMethod, "auto, local or docker",
		map[string]string{"auto": "auto", "local": "local", "docker": "docker"})
	c.Verify = r.choice(envVerify, "0 (no), 1 (checksums) or restore (checksums and a restore test)",
		map[string]string{"0": VerifyOff, "no": VerifyOff, "false": VerifyOff, "off": VerifyOff,
			"1": VerifyFiles, "yes": VerifyFiles, "true": VerifyFiles, "on": VerifyFiles, "restore": VerifyRestore})
	c.RecheckPercent = r.percent(envRecheckPercent)
	c.ComposeFiles = r.composeFiles()
	c.DockerComposeFile = c.ComposeFiles[0]
	c.ComposeProject = r.value(envComposeProject)
	if c.ComposeProject != "" && !composeProjectName(c.ComposeProject) {
		r.fail(envComposeProject, c.ComposeProject,
			"a compose project name: lowercase letters, digits, '_' or '-', starting with a letter or digit", nil)
	}
	c.DockerService = r.value(envDockerService)
	if !composeServiceName(c.DockerService) {
		// Also keeps a value like "-T" from being read as a docker option.
		r.fail(envDockerService, c.DockerService,
			"a compose service name: a letter or digit, then letters, digits, '.', '_' or '-'", nil)
	}

	c.Offsite = r.offsite()
	c.PingURL = r.pingURL()
	c.PingExitStatus = r.on(envPingExit)
	if _, _, ok := r.get(envMetricsFile); ok {
		c.MetricsFile = r.path(envMetricsFile)
	}

	c.KeepDaily = r.integer(envKeepDaily, 0, math.MaxInt, "an integer of 0 or more (0 = no daily rule)")
	c.KeepWeekly = r.integer(envKeepWeekly, 0, math.MaxInt, "an integer of 0 or more (0 = no weekly rule)")
	c.KeepMonthly = r.integer(envKeepMonthly, 0, math.MaxInt, "an integer of 0 or more (0 = no monthly rule)")
	c.MinFree = r.minFree()
	c.BeforeCommand = r.value(envBeforeCommand)
	c.AfterCommand = r.value(envAfterCommand)
	c.Schedule = r.schedule(envSchedule)
	c.VerifySchedule = r.schedule(envVerifySchedule)
	c.LockWait, c.LockWaitSet = r.lockWait()
	c.NotifyURLs = r.notifyURLs()
	c.NotifyOn = r.choice(envNotifyOn, "failure (notify when a run fails) or always (also on success)",
		map[string]string{NotifyOnFailure: NotifyOnFailure, NotifyOnAlways: NotifyOnAlways})
	c.ExcludeTableData = r.excludeTableData()

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return c, nil
}

// Environ returns the merged environment as sorted KEY=VALUE strings: the
// real environment (Sources.Environ as of Load) with the .env file beneath
// it and the flags above it, by the same rule as Load (a blank value only
// wins when no source has a non-blank one). It holds secrets: pass it
// through redact.Env before writing it anywhere.
func (c *Config) Environ() []string {
	merged := map[string]string{}
	put := func(k, v string) {
		// A blank value never hides a non-blank one from a lower layer.
		if old, ok := merged[k]; ok && blank(v) && !blank(old) {
			return
		}
		merged[k] = v
	}
	for k, v := range c.vars.file {
		put(k, v)
	}
	if c.vars.environ != nil {
		for _, kv := range c.vars.environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				put(k, v)
			}
		}
	} else if c.vars.env != nil {
		// Without the full list, ask for every name we know of.
		names := []string{envStorageLocalRoot}
		for _, s := range Settings {
			names = append(names, s.Env)
		}
		for k := range c.vars.file {
			names = append(names, k)
		}
		for k := range c.vars.flags {
			names = append(names, k)
		}
		for _, k := range names {
			if v, ok := c.vars.env(k); ok {
				put(k, v)
			}
		}
	}
	for k, v := range c.vars.flags {
		put(k, v)
	}
	out := make([]string, 0, len(merged))
	for k, v := range merged {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Secrets returns the secret values in use (the database password, the
// connection string and the password as it spells it, the client key, the S3
// keys, the ping URL and its path, the notification URLs' credentials, the s3
// storage locations' keys), for redact.String on log text, pg_dump output and
// error folders.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.DB.Password, c.DB.ConnString, c.DB.passwordRaw, c.DB.SSLKeyPEM, c.Offsite.AccessKeyID, c.Offsite.SecretAccessKey, c.PingURL, pingSecret(c.PingURL)} {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, u := range c.NotifyURLs {
		out = append(out, notify.Secrets(u)...)
	}
	return append(out, c.storageSecrets()...)
}

// origin is where a value came from; higher wins.
type origin int

const (
	fromDefault origin = iota
	fromFile
	fromEnv
	fromFlag
)

// String says where a value was set, for error messages.
func (o origin) String() string {
	switch o {
	case fromFile:
		return "in the .env file"
	case fromEnv:
		return "in the environment"
	case fromFlag:
		return "by a command-line flag"
	}
	return "by default"
}

// layers are the raw sources of a Config.
type layers struct {
	flags   map[string]string
	env     func(string) (string, bool)
	file    map[string]string
	environ []string // snapshot of Sources.Environ, for Environ only
}

// lookup returns the highest non-blank value of name, or failing that the
// highest blank one, untrimmed.
func (l layers) lookup(name string) (string, origin, bool) {
	var (
		blankVal  string
		blankFrom origin
		found     bool
	)
	try := func(v string, ok bool, from origin) bool {
		if !ok {
			return false
		}
		if !blank(v) {
			return true
		}
		if !found {
			blankVal, blankFrom, found = v, from, true
		}
		return false
	}
	if v, ok := l.flags[name]; try(v, ok, fromFlag) {
		return v, fromFlag, true
	}
	if l.env != nil {
		if v, ok := l.env(name); try(v, ok, fromEnv) {
			return v, fromEnv, true
		}
	}
	if v, ok := l.file[name]; try(v, ok, fromFile) {
		return v, fromFile, true
	}
	return blankVal, blankFrom, found
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// readEnvFile finds and parses the .env file. The file layer is not used to
// find it: BACKUP_ENV_FILE inside a .env file means nothing. Without
// BACKUP_ENV_FILE, CONFIG_PATH in the environment names the file, as for
// Directus. A CONFIG_PATH inside the file (which a compose env_file hands
// to Directus's environment) names a file whose settings are laid over it.
func readEnvFile(l layers, wd string) (string, map[string]string, error) {
	v, _, ok := l.lookup(envEnvFile)
	v = strings.TrimSpace(v)
	explicit := ok && v != ""
	if cp, from, ok := l.lookup(envConfigPath); !explicit && ok && !blank(cp) && from != fromFile {
		return readConfigPath(cp, from.String(), wd)
	}
	path := filepath.Join(wd, ".env")
	if explicit {
		path = resolvePath(wd, v)
	} else {
		v = path
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		vars := parseDotenv(data)
		if cp := vars[envConfigPath]; !blank(cp) {
			p, more, err := readConfigPath(cp, fromFile.String()+" "+path, filepath.Dir(path))
			if err != nil {
				return "", nil, err
			}
			if p != path {
				for k, v := range more {
					vars[k] = v
				}
			}
		}
		return path, vars, nil
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return "", nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, &SettingError{Setting: envEnvFile, Value: v,
			Accepted: "the path of an existing .env file", Err: err}
	default:
		return "", nil, &SettingError{Setting: envEnvFile, Value: v,
			Accepted: "a readable .env file", Err: err}
	}
}
