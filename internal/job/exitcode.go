package job

import "github.com/directus-backup/directus-backup/internal/exitcode"

// stepCodes are the exit codes of the steps' failures.
var stepCodes = map[string]int{
	StepInit:     exitcode.Init,
	StepDatabase: exitcode.Database,
	StepUploads:  exitcode.Uploads,
	StepFinalize: exitcode.Finalize,
	StepLatest:   exitcode.Finalize,
	StepCleanup:  exitcode.Cleanup,
	StepVerify:   exitcode.Problems,
	StepOffsite:  exitcode.Offsite,
}

// ExitCode is the step's code, unless the cause carries its own (a lock
// held by another run, invalid settings, a verify that could not check,
// an interruption). A cleanup failure keeps its code whatever the cause:
// the new backup is complete.
func (e *StepError) ExitCode() int {
	if e.Step != StepCleanup {
		// An offsite error with no code of its own is an offsite failure
		// (Usage would say nothing was done, and the backup was).
		if code, ok := exitcode.Find(e.Err); ok && (e.Step != StepOffsite || code == exitcode.Interrupted) {
			return code
		}
	}
	if code, ok := stepCodes[e.Step]; ok {
		return code
	}
	return exitcode.Failure
}
