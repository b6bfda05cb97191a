package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/doctor"
	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// doctorProblems is returned when doctor found something that would make a
// backup fail.
type doctorProblems int

func (n doctorProblems) Error() string { return fmt.Sprintf("doctor found %d problem(s)", int(n)) }
func (doctorProblems) ExitCode() int   { return exitcode.Doctor }

// doctorDoc is the JSON form of doctor's findings (docs/usage.md).
type doctorDoc struct {
	OK       bool               `json:"ok"`
	Checks   []doctorCheckDoc   `json:"checks"`
	Settings []doctorSettingDoc `json:"settings"`
}

// doctorSettingDoc is one setting in effect and where it came from.
type doctorSettingDoc struct {
	Name  string `json:"name"`
	Value string `json:"value"` // "[set]" or "(not set)" for a secret
	From  string `json:"from"`  // flag, environment, ".env file <path>" or default
}

type doctorCheckDoc struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, warn or FAIL
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCommand(a *app) *cobra.Command {
	var asJSON, allSettings bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check settings, commands, database connection, folders and free space",
		Long: `Check everything a backup needs and say how to fix what is wrong. Changes
nothing (but for one small probe object in the offsite bucket, when one is set).
Exit code 0 when a backup can run. With --json, the findings are
one JSON document on stdout (see docs/usage.md).

After the checks, doctor lists the settings a flag, the environment or the
.env file sets, with their value and where it came from (secrets only as
[set]); --all-settings lists the defaults too.

` + exitcode.Help("doctor"),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{DB: true})
			if err != nil {
				return err
			}
			findings := doctor.Run(c.Context(), cfg)
			fails := 0
			doc := doctorDoc{Checks: []doctorCheckDoc{}}
			for _, f := range findings {
				if f.Status == doctor.Fail {
					fails++
				}
				doc.Checks = append(doc.Checks, doctorCheckDoc{Check: f.Check, Status: string(f.Status), Detail: f.Detail, Fix: f.Fix})
			}
			doc.OK = fails == 0
			settings := cfg.Origins()
			doc.Settings = make([]doctorSettingDoc, 0, len(settings))
			for _, s := range settings {
				doc.Settings = append(doc.Settings, doctorSettingDoc{Name: s.Env, Value: s.Value, From: s.From})
			}
			switch {
			case asJSON:
				if err := a.printJSON(doc); err != nil {
					return err
				}
			default:
				printDoctor(a.stdout, findings)
				// Redacted as JSON is: a secret pasted into the wrong
				// setting is still not printed.
				if _, err := io.WriteString(a.stdout, a.redact(formatSettings(settings, allSettings))); err != nil {
					return err
				}
			}
			if fails > 0 {
				return doctorProblems(fails)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	c.Flags().BoolVar(&allSettings, "all-settings", false, "list every setting, also those at their default")
	return c
}

// printDoctor renders the findings as text.
func printDoctor(w io.Writer, findings []doctor.Finding) {
	fails := 0
	for _, f := range findings {
		fmt.Fprintf(w, "%-4s  %-22s %s\n", f.Status, f.Check, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(w, "      %-22s fix: %s\n", "", f.Fix)
		}
		if f.Status == doctor.Fail {
			fails++
		}
	}
	if fails == 0 {
		fmt.Fprintln(w, "All checks passed.")
	}
}

// formatSettings renders the settings in effect as a table: those some
// source sets, or all of them with all.
func formatSettings(settings []config.SettingValue, all bool) string {
	var b strings.Builder
	if all {
		b.WriteString("\nSettings:\n")
	} else {
		b.WriteString("\nSettings not at their default (--all-settings lists all):\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	n := 0
	for _, s := range settings {
		if !all && s.IsDefault() {
			continue
		}
		n++
		v := s.Value
		// Quote what would not read as one plain word on the line.
		if v == "" || strconv.Quote(v) != `"`+v+`"` || strings.TrimSpace(v) != v {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Env, v, s.From)
	}
	tw.Flush()
	if n == 0 {
		b.WriteString("  none: every setting is at its default\n")
	}
	return b.String()
}
