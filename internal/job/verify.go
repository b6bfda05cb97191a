package job

import (
	"context"
	"fmt"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/verify"
)

// ErrVerifyUnchecked is wrapped when the verify step could not check the
// new backup at all (as opposed to finding problems in it).
var ErrVerifyUnchecked = exitcode.New(exitcode.NoCheck, "could not verify")

// verifyBackup checks the backup just made (BACKUP_VERIFY). A backup that
// fails is kept, never removed: the error folder and exit code say what
// is wrong, and retention is not applied on top of a doubtful backup.
func (r *run) verifyBackup(ctx context.Context) error {
	if r.cfg.Verify == config.VerifyOff {
		return nil
	}
	b, err := repo.Get(r.cfg.BackupsDir, r.rep.Name)
	if err != nil {
		return fmt.Errorf("%w: read the new backup: %w", ErrVerifyUnchecked, err)
	}
	res, err := verify.Backup(ctx, b, verify.Options{})
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrVerifyUnchecked, b.Name, err)
	}
	for _, p := range res.Problems {
		r.log.Error("verify: "+p.String(), "backup", b.Name)
	}
	if _, err := verify.RecordDamage(b, res); err != nil {
		r.log.Warn("could not record the damaged files", "backup", b.Name, "err", err)
	}
	if !res.OK() {
		return fmt.Errorf("%s failed verification with %d problem(s); it is kept for inspection", b.Name, len(res.Problems))
	}
	r.log.Info("backup verified", "files", res.Files, "bytes", humanize.Bytes(res.Bytes), "directus_files", res.DirectusFiles)
	if r.cfg.Verify != config.VerifyRestore {
		return nil
	}
	rt, err := verify.RestoreTest(ctx, b, verify.RestoreTestOptions{
		Target: r.target(), Scratch: verify.ScratchName(r.cfg.DB.Database), Owner: r.cfg.DB.User,
	})
	rt.LogLeftovers(r.log)
	if err != nil {
		return fmt.Errorf("%w: the restore test could not run: %w", ErrVerifyUnchecked, err)
	}
	for _, p := range rt.Problems {
		r.log.Error("restore test: "+p.String(), "backup", b.Name)
	}
	if !rt.OK() {
		return fmt.Errorf("%s failed the restore test with %d problem(s); it is kept for inspection", b.Name, len(rt.Problems))
	}
	r.log.Info("restore test passed", "tables", rt.Tables, "rows", rt.Rows, "directus_users", rt.Users,
		"duration", rt.Duration.Round(time.Millisecond).String())
	return nil
}
