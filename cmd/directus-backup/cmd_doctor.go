package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/directus-backup/directus-backup/internal/doctor"
	"github.com/directus-backup/directus-backup/internal/exitcode"
)

// doctorProblems is returned when doctor found something that would make a
// backup fail.
type doctorProblems int

func (n doctorProblems) Error() string { return fmt.Sprintf("doctor found %d problem(s)", int(n)) }
func (doctorProblems) ExitCode() int   { return exitcode.Doctor }

func newDoctorCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check settings, commands, database connection, folders and free space",
		Long: `Check everything a backup needs and say how to fix what is wrong. Changes
nothing. Exit code 0 when a backup can run.

` + exitcode.Help("doctor"),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.config(needs{DB: true})
			if err != nil {
				return err
			}
			fails := 0
			for _, f := range doctor.Run(c.Context(), cfg) {
				fmt.Fprintf(a.stdout, "%-4s  %-22s %s\n", f.Status, f.Check, f.Detail)
				if f.Fix != "" {
					fmt.Fprintf(a.stdout, "      %-22s fix: %s\n", "", f.Fix)
				}
				if f.Status == doctor.Fail {
					fails++
				}
			}
			if fails > 0 {
				return doctorProblems(fails)
			}
			fmt.Fprintln(a.stdout, "All checks passed.")
			return nil
		},
	}
}
