package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/job"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/verify"
)

// TestExitCodeOfEveryErrorKind pins the code of each error kind the
// commands return, including the ones that wrap others (a lock refusal or
// an interruption inside a step, a cleanup interrupted).
func TestExitCodeOfEveryErrorKind(t *testing.T) {
	step := func(s string, err error) error { return &job.StepError{Step: s, Err: err} }
	canceled := fmt.Errorf("pg_dump: %w", context.Canceled)
	locked := fmt.Errorf("%w (held by pid 1)", repo.ErrLocked)
	invalid := errors.Join(&config.SettingError{Setting: "BACKUP_GZIP_LEVEL", Value: "10", Accepted: "1 to 9"})
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"usage", fmt.Errorf("%w: --x", errUsage), 2},
		{"invalid settings", invalid, 2},
		{"invalid setting in init", step(job.StepInit, invalid), 2},
		{"no backup", fmt.Errorf("%w: x", repo.ErrNoBackup), 2},
		{"init", step(job.StepInit, errors.New("no pg_dump")), 3},
		{"locked in init", step(job.StepInit, locked), 11},
		{"database", step(job.StepDatabase, errors.New("x")), 4},
		{"database interrupted", step(job.StepDatabase, canceled), 130},
		{"uploads", step(job.StepUploads, errors.New("x")), 5},
		{"finalize", step(job.StepFinalize, errors.New("x")), 6},
		{"latest", step(job.StepLatest, errors.New("x")), 6},
		{"cleanup", step(job.StepCleanup, errors.New("x")), 7},
		{"cleanup interrupted", step(job.StepCleanup, canceled), 7},
		{"cleanup locked", step(job.StepCleanup, locked), 7},
		{"doctor", doctorProblems(2), 8},
		{"verify step problems", step(job.StepVerify, errors.New("2 problems")), 9},
		{"verify step unchecked", step(job.StepVerify, fmt.Errorf("%w: x", job.ErrVerifyUnchecked)), 10},
		{"verify step unchecked interrupted", step(job.StepVerify, fmt.Errorf("%w: restore test: %w", job.ErrVerifyUnchecked, canceled)), 130},
		{"verify problems", verify.ProblemsError(1), 9},
		{"verify unchecked", verify.UncheckedError{Err: errors.New("x")}, 10},
		{"verify interrupted", verify.UncheckedError{Err: canceled}, 130},
		{"locked", locked, 11},
		{"refused", exitcode.With(exitcode.Refused, errors.New("not empty")), 12},
		{"restore failed", exitcode.With(exitcode.Restore, errors.New("psql")), 13},
		{"restore interrupted", exitcode.With(exitcode.Restore, canceled), 130},
		{"interrupted", canceled, 130},
		{"unknown step", step("other", errors.New("x")), 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exit code %d, want %d", tc.name, got, tc.want)
		}
	}
}
