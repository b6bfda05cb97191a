// Package job runs one backup: the original backup.sh's flow as a list of steps
// (init, database, uploads, finalize, cleanup), each in its own file, with
// error capture when any of them fails. After finalize and the optional
// verify step, backup_latest is switched to the new backup. Run is the whole pipeline; Prune is
// the cleanup step alone.
//
// The package never prints: it logs through the *slog.Logger it is given and
// returns a Report. A failed run returns a *StepError naming the step, which
// the CLI maps to its exit code.
//
// BACKUPS_DIR may belong to another user than the one running the backup:
// the temporary folder is reached only through its open descriptor, and
// only that folder is ever published (tempdir.go).
package job
