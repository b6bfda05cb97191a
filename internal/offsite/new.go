package offsite

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/retention"
)

// ErrNotConfigured is returned when an offsite command runs without a bucket.
var ErrNotConfigured = exitcode.New(exitcode.Usage, "no offsite bucket is set: set BACKUP_S3_BUCKET (and BACKUP_S3_ENDPOINT, the credentials and BACKUP_AGE_RECIPIENTS; see docs/offsite.md)")

// New makes the Remote the settings describe. withIdentity loads
// BACKUP_AGE_IDENTITY_FILE (commands that read data back); others never
// touch the private key.
func New(o config.Offsite, version string, log *slog.Logger, withIdentity bool) (*Remote, error) {
	if o.Bucket == "" {
		return nil, ErrNotConfigured
	}
	st, err := s3store.Open(s3store.Config{Endpoint: o.Endpoint, Secure: o.Secure, Bucket: o.Bucket, Prefix: o.Prefix,
		Region: o.Region, AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, PathStyle: o.PathStyle, CAFile: o.CAFile})
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	sl, err := seal.New(o.Recipients)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("BACKUP_AGE_RECIPIENTS: %w", err))
	}
	r := &Remote{Store: st, Sealer: sl, LockDays: o.ObjectLockDays, Version: version, Log: log,
		Retention: retention.Policy{Days: o.RetentionDays, Count: o.RetentionCount}}
	if withIdentity && o.IdentityFile != "" {
		if r.Opener, err = seal.LoadIdentities(o.IdentityFile); err != nil {
			return nil, exitcode.With(exitcode.Usage, err)
		}
	}
	return r, nil
}

// Code gives an offsite error its exit code: Usage for what the settings
// can fix before anything was done, else Offsite.
func Code(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := exitcode.Find(err); ok {
		return err
	}
	if errors.Is(err, seal.ErrNoIdentity) || errors.Is(err, ErrNoBackup) || errors.Is(err, ErrUntrusted) {
		return exitcode.With(exitcode.Usage, err)
	}
	if errors.Is(err, ErrObjectDamaged) {
		return exitcode.With(exitcode.Restore, err)
	}
	return exitcode.With(exitcode.Offsite, err)
}
