package config

// Setting describes one setting, for flags, --help and the README.
//
// Default is the value shown to users. For most settings it is also the value
// Load uses; for the few whose default is derived (BACKUP_ERROR_DIR,
// BACKUP_TIMESTAMP, BACKUP_UPLOADS_DIR, BACKUP_ENV_FILE) it describes how Load
// derives it, so the CLI must not pass it back as a flag value.
type Setting struct {
	Env     string // environment variable name, the key everywhere else
	Flag    string // long flag name without dashes; "" means no flag
	Default string
	Usage   string
	Secret  bool // never printed, never accepted as a flag
}

// Environment names used by Load.
const (
	envBackupsDir        = "BACKUPS_DIR"
	envRetentionDays     = "BACKUP_RETENTION_DAYS"
	envRetentionCount    = "BACKUP_RETENTION_COUNT"
	envGzipLevel         = "BACKUP_GZIP_LEVEL"
	envCompression       = "BACKUP_COMPRESSION"
	envErrorDir          = "BACKUP_ERROR_DIR"
	envFormattedDate     = "BACKUP_FORMATTED_DATE"
	envTimestamp         = "BACKUP_TIMESTAMP"
	envErrorLogsDays     = "BACKUP_ERROR_LOGS_RETENTION_DAYS"
	envDBClient          = "DB_CLIENT"
	envDBHost            = "DB_HOST"
	envDBPort            = "DB_PORT"
	envDBDatabase        = "DB_DATABASE"
	envDBUser            = "DB_USER"
	envDBPassword        = "DB_PASSWORD"
	envDBPasswordFile    = "DB_PASSWORD_FILE"
	envUploadsDir        = "BACKUP_UPLOADS_DIR"
	envDBMethod          = "BACKUP_DB_METHOD"
	envDockerComposeFile = "BACKUP_DOCKER_COMPOSE_FILE"
	envDockerService     = "BACKUP_DOCKER_SERVICE"
	envComposeFiles      = "BACKUP_COMPOSE_FILES"
	envComposeProject    = "BACKUP_COMPOSE_PROJECT"
	envEnvFile           = "BACKUP_ENV_FILE"
	envVerify            = "BACKUP_VERIFY"
	envRecheckPercent    = "BACKUP_RECHECK_PERCENT"

	envS3Endpoint            = "BACKUP_S3_ENDPOINT"
	envS3Bucket              = "BACKUP_S3_BUCKET"
	envS3Prefix              = "BACKUP_S3_PREFIX"
	envS3Region              = "BACKUP_S3_REGION"
	envS3AccessKeyID         = "BACKUP_S3_ACCESS_KEY_ID"
	envS3AccessKeyIDFile     = "BACKUP_S3_ACCESS_KEY_ID_FILE"
	envS3SecretAccessKey     = "BACKUP_S3_SECRET_ACCESS_KEY"
	envS3SecretAccessKeyFile = "BACKUP_S3_SECRET_ACCESS_KEY_FILE"
	envS3PathStyle           = "BACKUP_S3_PATH_STYLE"
	envS3Insecure            = "BACKUP_S3_INSECURE"
	envS3CAFile              = "BACKUP_S3_CA_FILE"
	envAgeRecipients         = "BACKUP_AGE_RECIPIENTS"
	envAgeRecipientsFile     = "BACKUP_AGE_RECIPIENTS_FILE"
	envAgeIdentityFile       = "BACKUP_AGE_IDENTITY_FILE"
	envOffsiteRetentionDays  = "BACKUP_OFFSITE_RETENTION_DAYS"
	envOffsiteRetentionCount = "BACKUP_OFFSITE_RETENTION_COUNT"
	envS3ObjectLockDays      = "BACKUP_S3_OBJECT_LOCK_DAYS"

	// Grandfather-father-son retention (issue 11).
	envKeepDaily   = "BACKUP_KEEP_DAILY"
	envKeepWeekly  = "BACKUP_KEEP_WEEKLY"
	envKeepMonthly = "BACKUP_KEEP_MONTHLY"
	envPingURL     = "BACKUP_PING_URL"
	envPingExit    = "BACKUP_PING_EXIT_STATUS"
	envMetricsFile = "BACKUP_METRICS_FILE"

	// Hooks (issue 11).
	envBeforeCommand = "BACKUP_BEFORE_COMMAND"
	envAfterCommand  = "BACKUP_AFTER_COMMAND"

	// envStorageLocalRoot is Directus's uploads folder; not a setting of
	// ours, only the default of BACKUP_UPLOADS_DIR.
	envStorageLocalRoot = "STORAGE_LOCAL_ROOT"

	envFiles = "BACKUP_FILES" // issue 12
)

// Settings lists every setting in display order (single source of truth for
// the CLI's flags and help). Treat it as read-only.
var Settings = []Setting{
	{Env: envBackupsDir, Flag: "backups-dir", Default: "./directus/data/backups",
		Usage: "folder that holds the backups"},
	{Env: envRetentionDays, Flag: "retention-days", Default: "7",
		Usage: "remove backups older than this many days (0 = no age limit, at most 36500)"},
	{Env: envRetentionCount, Flag: "retention-count", Default: "0",
		Usage: "always keep at least this many newest backups; with BACKUP_RETENTION_DAYS=0, keep only this many (0 = no count rule)"},
	{Env: envGzipLevel, Flag: "gzip-level", Default: "9",
		Usage: "gzip compression level of the database dump, 1 (fastest) to 9 (smallest); 9 uses the parallel encoder's level 8, whose output is within 1% of gzip -9's size"},
	{Env: envCompression, Flag: "compression", Default: "gzip",
		Usage: "database dump compression: gzip (db_backup.sql.gz, read by gunzip), zstd (db_backup.sql.zst: faster and smaller, read by zstd -d) or none (db_backup.sql)"},
	{Env: envErrorDir, Flag: "error-dir", Default: "$BACKUPS_DIR/error_logs",
		Usage: "folder for the diagnostics of failed runs"},
	{Env: envFormattedDate, Flag: "formatted-date", Default: "%Y-%m-%d_%H-%M-%S",
		Usage: "date part of backup folder names: a strftime format (%Y %m %d %H %M %S %y %j %s %F %%, local time) or a literal date"},
	{Env: envTimestamp, Flag: "timestamp", Default: "now",
		Usage: "Unix timestamp used to name the backup (default: the current time)"},
	{Env: envErrorLogsDays, Flag: "error-logs-retention-days", Default: "30",
		Usage: "remove error logs older than this many days (0 = keep all, at most 36500)"},
	{Env: envDBClient, Flag: "db-client", Default: "pg",
		Usage: "Directus database client; only pg (PostgreSQL) is supported"},
	{Env: envDBHost, Flag: "db-host", Default: "",
		Usage: "database host (empty = libpq default, usually the local socket)"},
	{Env: envDBPort, Flag: "db-port", Default: "5432",
		Usage: "database port"},
	{Env: envDBDatabase, Flag: "db-database", Default: "",
		Usage: "database name (required)"},
	{Env: envDBUser, Flag: "db-user", Default: "",
		Usage: "database user (empty = libpq default)"},
	{Env: envDBPassword, Flag: "", Default: "", Secret: true,
		Usage: "database password; environment or .env only, since a flag would show in ps"},
	{Env: envDBPasswordFile, Flag: "db-password-file", Default: "",
		Usage: "file holding the database password (Directus *_FILE convention, one trailing newline dropped); " +
			"if DB_PASSWORD is also set, the one from the higher-precedence source wins, and both in the same source is an error"},
	{Env: envUploadsDir, Flag: "uploads-dir", Default: "$STORAGE_LOCAL_ROOT or ./directus/uploads",
		Usage: "Directus uploads folder to back up"},
	{Env: envVerify, Flag: "verify", Default: "0",
		Usage: "verify each new backup: 0 (no), 1 (dump and file checksums, as the verify command), restore (also restore the dump into a scratch database and compare row counts)"},
	{Env: envRecheckPercent, Flag: "recheck-percent", Default: "5",
		Usage: "share of the unchanged (hard-linked) upload files each backup re-reads to catch bit rot in earlier backups, 0 to 100: each is re-read at least every ceil(100/N) runs (0 = never, 100 = every run)"},
	{Env: envDBMethod, Flag: "db-method", Default: "auto",
		Usage: "how to run pg_dump: local, docker (docker compose exec) or auto"},
	{Env: envDockerComposeFile, Flag: "docker-compose-file", Default: "docker-compose.base.yml",
		Usage: "compose file of the database service, for --db-method=docker (unset: the first of the names BACKUP_COMPOSE_FILES lists found in the working folder, else this default)"},
	{Env: envDockerService, Flag: "docker-service", Default: "database",
		Usage: "compose service running PostgreSQL, for --db-method=docker"},
	{Env: envEnvFile, Flag: "env-file", Default: "./.env when present",
		Usage: "Directus .env file to read settings from (an explicitly named file must exist)"},

	// Offsite copies; all of them are ignored while BACKUP_S3_BUCKET is empty.
	{Env: envS3Bucket, Flag: "s3-bucket", Default: "",
		Usage: "S3 bucket for offsite copies of each new backup (empty = no offsite copies, and the other offsite settings are ignored)"},
	{Env: envS3Endpoint, Flag: "s3-endpoint", Default: "s3.amazonaws.com",
		Usage: "S3 server: host[:port] (https) or an http:// or https:// URL without a path"},
	{Env: envS3Prefix, Flag: "s3-prefix", Default: "",
		Usage: "folder inside the bucket for this deployment's objects (empty = the bucket's top level)"},
	{Env: envS3Region, Flag: "s3-region", Default: "",
		Usage: "S3 region (empty = ask the server, else us-east-1)"},
	{Env: envS3AccessKeyID, Flag: "", Default: "", Secret: true,
		Usage: "S3 access key id; environment or .env only, since a flag would show in ps"},
	{Env: envS3AccessKeyIDFile, Flag: "s3-access-key-id-file", Default: "",
		Usage: "file holding the S3 access key id, by the same rules as DB_PASSWORD_FILE"},
	{Env: envS3SecretAccessKey, Flag: "", Default: "", Secret: true,
		Usage: "S3 secret access key; environment or .env only, since a flag would show in ps"},
	{Env: envS3SecretAccessKeyFile, Flag: "s3-secret-access-key-file", Default: "",
		Usage: "file holding the S3 secret access key, by the same rules as DB_PASSWORD_FILE"},
	{Env: envS3PathStyle, Flag: "s3-path-style", Default: "auto",
		Usage: "bucket addressing: true (path style, host/bucket), false (virtual-host style, bucket.host) or auto (chosen by the S3 client)"},
	{Env: envS3Insecure, Flag: "s3-insecure", Default: "false",
		Usage: "true to talk plain http to the S3 server, for a server on the same host or network"},
	{Env: envS3CAFile, Flag: "s3-ca-file", Default: "",
		Usage: "PEM file of the certificate authorities to trust for the S3 server, besides the system's"},
	{Env: envAgeRecipients, Flag: "age-recipients", Default: "",
		Usage: "age public keys (age1...), comma separated, that every offsite object is encrypted to (empty = objects are stored unencrypted)"},
	{Env: envAgeRecipientsFile, Flag: "age-recipients-file", Default: "",
		Usage: "file of age public keys, one per line, # comments allowed; used instead of BACKUP_AGE_RECIPIENTS by the same precedence rule as DB_PASSWORD_FILE"},
	{Env: envAgeIdentityFile, Flag: "age-identity-file", Default: "",
		Usage: "age private key file, needed only to restore or read back offsite copies; keep it off the backup host"},
	{Env: envOffsiteRetentionDays, Flag: "offsite-retention-days", Default: "30",
		Usage: "remove offsite backups older than this many days, as BACKUP_RETENTION_DAYS does locally"},
	{Env: envOffsiteRetentionCount, Flag: "offsite-retention-count", Default: "7",
		Usage: "always keep at least this many newest offsite backups, as BACKUP_RETENTION_COUNT does locally"},
	{Env: envS3ObjectLockDays, Flag: "s3-object-lock-days", Default: "0",
		Usage: "write offsite objects under S3 Object Lock for this many days, renewed while backups use them (0 = off, at most 36500)"},

	// Grandfather-father-son retention, on top of the days and count rules.
	{Env: envKeepDaily, Flag: "keep-daily", Default: "0",
		Usage: "also keep the newest backup of each of the last N days that have backups (0 = no daily rule; any BACKUP_KEEP_* above 0 makes BACKUP_RETENTION_DAYS=0 mean no age rule)"},
	{Env: envKeepWeekly, Flag: "keep-weekly", Default: "0",
		Usage: "also keep the newest backup of each of the last N ISO weeks (Monday to Sunday) that have backups (0 = no weekly rule)"},
	{Env: envKeepMonthly, Flag: "keep-monthly", Default: "0",
		Usage: "also keep the newest backup of each of the last N calendar months that have backups (0 = no monthly rule)"},
	// Monitoring (issue 11): health-check pings and the metrics file.
	{Env: envPingURL, Flag: "", Default: "", Secret: true,
		Usage: "health-check URL (healthchecks.io convention): each backup requests <url>/start, then <url> on success or <url>/fail with the last log lines; environment or .env only, since its path is a secret token"},
	{Env: envPingExit, Flag: "ping-exit-status", Default: "off",
		Usage: "on: each run ends with <url>/<exit code> (<url>/0 on success) instead of <url> and <url>/fail, for services that take an exit status (healthchecks.io); off: <url> and <url>/fail, which every service takes"},
	{Env: envMetricsFile, Flag: "metrics-file", Default: "",
		Usage: "Prometheus textfile (node_exporter textfile collector) rewritten after every backup and verify run (empty = none)"},
	{Env: envMinFree, Flag: "min-free", Default: "1GiB",
		Usage: "free space BACKUPS_DIR must keep after the run's estimated need (the last backup's dump plus the upload bytes it copied), else the run stops before any work: a size (2GiB, 500MB) or a share of the filesystem (5%); 0 = off"},
	// Hooks (issue 11): shell commands around each backup run.
	{Env: envBeforeCommand, Flag: "before-command", Default: "",
		Usage: "shell command (sh -c, in the working folder) run before each backup does any work; a non-zero exit stops the run with exit code 15 (empty = none)"},
	{Env: envAfterCommand, Flag: "after-command", Default: "",
		Usage: "shell command (sh -c, in the working folder) run after each backup, success or failure, with BACKUP_RESULT, BACKUP_EXIT_CODE, BACKUP_NAME, BACKUP_PATH, BACKUP_FAILED_STEP and BACKUP_ERROR set; its failure is only a warning (empty = none)"},
	// Scheduler (issue 11): directus-backup schedule.
	{Env: envSchedule, Flag: "schedule", Default: "",
		Usage: "when directus-backup schedule runs a backup: 5-field cron (0 2 * * *), @daily and the other descriptors, or @every <duration>; checked at load"},
	{Env: envVerifySchedule, Flag: "verify-schedule", Default: "",
		Usage: "when directus-backup schedule runs verify --all --restore-test (e.g. 0 4 * * 0; empty = never), same forms as BACKUP_SCHEDULE"},
	// Docker method as Directus users deploy it (issue 11).
	{Env: envComposeFiles, Flag: "compose-files", Default: "",
		Usage: "comma-separated compose files passed as -f a -f b, for the docker method (overrides BACKUP_DOCKER_COMPOSE_FILE; empty = BACKUP_DOCKER_COMPOSE_FILE, or the first of docker-compose.base.yml, compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml found in the working folder)"},
	{Env: envComposeProject, Flag: "compose-project", Default: "",
		Usage: "compose project name passed as -p, for the docker method (empty = compose's own default)"},
	// Lock wait (issue 11): queue behind another run instead of failing.
	{Env: envLockWait, Flag: "lock-wait", Default: "0",
		Usage: "how long backup, prune and restore wait for another run to release BACKUPS_DIR before failing with exit code 11: a duration (30s, 5m, 1h30m, at most 24h); 0 = fail at once; schedule waits 1h unless it is set"},
	// Notifications (issue 11): shoutrrr URLs told about each run.
	{Env: envNotifyURLs, Flag: "", Default: "", Secret: true,
		Usage: "notification URLs (shoutrrr convention: smtp://, ntfy://, slack://, discord://, telegram://, generic+https://...) separated by spaces, or by commas before the next URL; checked at load; environment or .env only, since they hold passwords and tokens (empty = no notifications)"},
	{Env: envNotifyURLsFile, Flag: "notify-urls-file", Default: "",
		Usage: "file holding BACKUP_NOTIFY_URLS (one or more per line), by the same rules as DB_PASSWORD_FILE"},
	{Env: envNotifyOn, Flag: "notify-on", Default: NotifyOnFailure,
		Usage: "when backup and verify runs send to BACKUP_NOTIFY_URLS: failure, or always (also on success)"},
	// Directus's database settings beyond host, port, database, user (issue 12).
	{Env: envDBConnString, Flag: "", Default: "", Secret: true,
		Usage: "PostgreSQL connection string, as Directus takes it: postgres://user:password@host:5432/database?sslmode=require, or libpq's key=value form; when set, DB_HOST, DB_PORT, DB_DATABASE, DB_USER, DB_PASSWORD and DB_SSL__* are ignored, as Directus ignores them; environment or .env only, since it holds the password"},
	{Env: envDBConnStringFile, Flag: "db-connection-string-file", Default: "",
		Usage: "file holding DB_CONNECTION_STRING, by the same rules as DB_PASSWORD_FILE"},
	{Env: envDBSSLReject, Flag: "db-ssl-reject-unauthorized", Default: "",
		Usage: "true: TLS, the server's certificate and name verified (libpq sslmode verify-full, against DB_SSL__CA or else the system's authorities); false: TLS without verification (sslmode require); unset with no other DB_SSL__* setting: no TLS settings"},
	{Env: envDBSSLCA, Flag: "", Default: "", Secret: true, // PEM content: doctor shows [set], not the blob
		Usage: "PEM content of the certificate authority that signed the server's certificate (implies verify-full unless DB_SSL__REJECT_UNAUTHORIZED=false); written to a private temporary file for libpq"},
	{Env: envDBSSLCAFile, Flag: "db-ssl-ca-file", Default: "",
		Usage: "path of the server's certificate authority PEM file, instead of DB_SSL__CA (libpq sslrootcert)"},
	{Env: envDBSSLCert, Flag: "", Default: "", Secret: true, // PEM content: doctor shows [set], not the blob
		Usage: "PEM content of a client certificate, with DB_SSL__KEY (libpq sslcert)"},
	{Env: envDBSSLCertFile, Flag: "db-ssl-cert-file", Default: "",
		Usage: "path of the client certificate PEM file, instead of DB_SSL__CERT"},
	{Env: envDBSSLKey, Flag: "", Default: "", Secret: true,
		Usage: "PEM content of the client certificate's private key (libpq sslkey); environment or .env only"},
	{Env: envDBSSLKeyFile, Flag: "db-ssl-key-file", Default: "",
		Usage: "path of the client key PEM file, instead of DB_SSL__KEY (libpq requires mode 0600 or 0640 owned by root)"},
	{Env: envDBSearchPath, Flag: "db-search-path", Default: "",
		Usage: "comma-separated schemas, as Directus's search path: every psql and pg_dump session gets -c search_path=\"a\",\"b\" (PGOPTIONS); the dump always holds every schema of the database"},
	// Smaller dumps on request (issue 12).
	{Env: envExcludeTableData, Flag: "exclude-table-data", Default: "",
		Usage: "comma-separated tables whose rows the dump leaves out (pg_dump --exclude-table-data), e.g. directus_activity,directus_revisions: their definitions are kept and a restore brings them back empty (those rows are gone); exact names (case kept, no wildcards), optionally schema.table; directus_migrations is refused (empty = none)"},
	// Storage locations and extensions (issue 12).
	{Env: envFiles, Flag: "files", Default: "on",
		Usage: "on: back up the database, every local storage location (STORAGE_LOCATIONS) and the extensions folder (EXTENSIONS_PATH); off: the database only"},
}

// settingDefault returns the Default of the named setting.
func settingDefault(env string) string {
	for _, s := range Settings {
		if s.Env == env {
			return s.Default
		}
	}
	return ""
}

// isSecret reports whether the named setting is marked Secret.
func isSecret(env string) bool {
	for _, s := range Settings {
		if s.Env == env {
			return s.Secret
		}
	}
	return false
}
