package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbcerts"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/logx"
	"github.com/directus-backup/directus-backup/internal/redact"
)

var errUsage = exitcode.New(exitcode.Usage, "usage")

// usageArgs makes a cobra argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return fmt.Errorf("%w: %v (see %s --help)", errUsage, err, c.CommandPath())
		}
		return nil
	}
}

// app holds what every subcommand shares: where output goes and the
// global flags.
type app struct {
	stdout, stderr io.Writer
	flags          *pflag.FlagSet
	logFormat      string
	verbose        bool
	quiet          bool
	noProgress     bool
	// secrets of the loaded settings (the database password), scrubbed
	// from JSON output and from the final error lines too.
	secrets []string
	// certsCleanup removes the database certificates the last load wrote
	// (DB_SSL__CA and the like as PEM content); runCLI calls it at the end.
	certsCleanup func()
}

// removeCerts removes the certificate files of the last load, if any.
func (a *app) removeCerts() {
	if a.certsCleanup != nil {
		a.certsCleanup()
		a.certsCleanup = nil
	}
}

func newRootCommand(stdout, stderr io.Writer) (*cobra.Command, *app) {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "directus-backup",
		Short: "Back up a Directus database and uploads folder",
		Long: `directus-backup makes consistent, verifiable backups of a Directus (or any
PostgreSQL + uploads folder) deployment, in the layout of the original backup.sh:

  BACKUPS_DIR/backup_<date>_<timestamp>/db_backup.sql.gz
  BACKUPS_DIR/backup_<date>_<timestamp>/uploads/   (unchanged files hard-linked)
  BACKUPS_DIR/backup_latest -> newest backup

Settings come from command-line flags, then environment variables, then the
.env file (BACKUP_ENV_FILE, default ./.env), then defaults.

` + exitcode.Help(""),
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("directus-backup {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	// An unknown command or extra argument is a usage error (exit 2),
	// as a bad flag is.
	root.Args = usageArgs(cobra.NoArgs)
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v (see %s --help)", errUsage, err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	for _, s := range config.Settings {
		if s.Flag == "" {
			continue // secrets have no flag: ps would show them
		}
		help := fmt.Sprintf("%s [env %s, default %s]", s.Usage, s.Env, s.Default)
		if s.Default == "" {
			help = fmt.Sprintf("%s [env %s]", s.Usage, s.Env)
		}
		pf.String(s.Flag, "", help)
	}
	pf.StringVar(&a.logFormat, "log-format", logx.FormatText, "log format: text or json")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "log debug details")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "log only warnings and errors, and print no summary after backup and prune (for cron mail)")
	pf.BoolVar(&a.noProgress, "no-progress", false, "no progress display, even on a terminal")
	a.flags = pf

	root.AddCommand(newBackupCommand(a), newPruneCommand(a), newListCommand(a), newVerifyCommand(a), newRestoreCommand(a), newDoctorCommand(a), newOffsiteCommand(a), newVersionCommand(a), newScheduleCommand(a), newNotifyCommand(a))
	return root, a
}

// needs says what a command needs of the settings.
type needs struct {
	// DB: the command reaches the database, so its settings must be valid
	// (commands that never reach it load without them).
	DB bool
}

// config builds the settings from flags, environment and .env file, as
// far as the command needs them.
func (a *app) config(n needs) (*config.Config, error) { return a.load(!n.DB) }

// printJSON writes v to stdout as the command's one JSON document, with
// the secrets scrubbed (an error text may quote a connection string).
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = io.WriteString(a.stdout, a.redact(string(b))+"\n")
	return err
}

// printResult prints v as the command's JSON document and returns the
// command's error err, or the printing's error when the command succeeded.
func (a *app) printResult(v any, err error) error {
	if jerr := a.printJSON(v); err == nil {
		return jerr
	}
	return err
}

// redact removes the secrets from s, as they are and as JSON escapes them.
func (a *app) redact(s string) string {
	list := make([]string, 0, 2*len(a.secrets))
	for _, sec := range a.secrets {
		list = append(list, sec)
		if q, err := json.Marshal(sec); err == nil {
			list = append(list, string(q[1:len(q)-1]))
		}
	}
	return redact.String(s, list...)
}

func (a *app) load(noDatabase bool) (*config.Config, error) {
	if a.logFormat != logx.FormatText && a.logFormat != logx.FormatJSON {
		return nil, fmt.Errorf("%w: --log-format=%q: accepted: text or json", errUsage, a.logFormat)
	}
	if a.quiet && a.verbose {
		return nil, fmt.Errorf("%w: --quiet and --verbose contradict each other", errUsage)
	}
	flags := map[string]string{}
	for _, s := range config.Settings {
		if s.Flag == "" {
			continue
		}
		if f := a.flags.Lookup(s.Flag); f != nil && f.Changed {
			flags[s.Env] = f.Value.String()
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(config.Sources{Flags: flags, Env: os.LookupEnv, Environ: os.Environ, WorkDir: wd, NoDatabase: noDatabase}, time.Now())
	if cfg != nil {
		a.secrets = cfg.Secrets()
	}
	if cfg != nil && err == nil && !noDatabase {
		// One set of files at a time: schedule loads once per run.
		a.removeCerts()
		if a.certsCleanup, err = dbcerts.Write(&cfg.DB); err != nil {
			return nil, exitcode.With(exitcode.Init, err)
		}
	}
	return cfg, err
}

// logger makes the run's logger: to stderr (behind the progress display
// when there is one) and into capture, with the database password scrubbed.
func (a *app) logger(cfg *config.Config, out io.Writer, capture io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	if a.quiet {
		level = slog.LevelWarn
	}
	var secrets []string
	if cfg != nil {
		secrets = cfg.Secrets()
	}
	return logx.New(out, a.logFormat, capture, level, secrets)
}
