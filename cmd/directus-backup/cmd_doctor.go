package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
	OK     bool             `json:"ok"`
	Checks []doctorCheckDoc `json:"checks"`
}

type doctorCheckDoc struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, warn or FAIL
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCommand(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check settings, commands, database connection, folders and free space",
		Long: `Check everything a backup needs and say how to fix what is wrong. Changes
nothing (but for one small probe object in the offsite bucket, when one is set).
Exit code 0 when a backup can run. With --json, the findings are
one JSON document on stdout (see docs/usage.md).

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
			switch {
			case asJSON:
				if err := a.printJSON(doc); err != nil {
					return err
				}
			default:
				printDoctor(a.stdout, findings)
			}
			if fails > 0 {
				return doctorProblems(fails)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
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
