package main

import "github.com/directus-backup/directus-backup/internal/exitcode"

// The restore command's errors carry their codes.
func (restoreRefused) ExitCode() int { return exitcode.Refused }
func (restoreFailed) ExitCode() int  { return exitcode.Restore }
