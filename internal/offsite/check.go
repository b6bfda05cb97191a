package offsite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
	"github.com/directus-backup/directus-backup/internal/preflight"
)

// Check is doctor's look at the bucket: reachable with these credentials,
// writable, whether these credentials could also delete (a thief of this
// host could then delete the copies), object lock as configured, and the
// encryption settings. It writes one small probe object under locks/ (and
// deletes it when it may).
func (r *Remote) Check(ctx context.Context, identityFile string) []preflight.Finding {
	var fs []preflight.Finding
	add := func(check string, st preflight.Status, detail, fix string) {
		fs = append(fs, preflight.Finding{Check: check, Status: st, Detail: detail, Fix: fix})
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	l, err := r.list(ctx, false)
	if err != nil {
		add("offsite bucket", preflight.Fail, fmt.Sprintf("cannot list %s: %v", r.Store.Where(), err),
			"check BACKUP_S3_ENDPOINT, BACKUP_S3_BUCKET, BACKUP_S3_REGION and the credentials; the bucket must exist")
		return fs
	}
	add("offsite bucket", preflight.OK, fmt.Sprintf("%s reachable, %d complete backups", r.Store.Where(), len(l.Backups)), "")

	probe := lockKey("push", "doctor-"+newID())
	body := fmt.Sprintf(`{"kind":"push","id":"doctor","done":true,"started":%q}`, r.now().UTC().Format(time.RFC3339))
	if err := r.Store.Put(ctx, probe, strings.NewReader(body), int64(len(body)), s3store.PutOptions{}); err != nil {
		add("offsite write", preflight.Fail, fmt.Sprintf("cannot write to the bucket: %v", err),
			"the backup host's credentials need s3:PutObject, s3:GetObject and s3:ListBucket on the bucket (docs/offsite.md)")
	} else {
		add("offsite write", preflight.OK, "these credentials can store objects", "")
		switch err := r.Store.Remove(ctx, probe); {
		case err == nil:
			add("offsite delete", preflight.Warn, "these credentials can also delete: anyone who takes over this host can delete the offsite copies",
				"give the backup host a key without s3:DeleteObject, and run offsite prune elsewhere with a key that may delete; or set BACKUP_S3_OBJECT_LOCK_DAYS (docs/offsite.md)")
		case errors.Is(err, s3store.ErrDenied):
			add("offsite delete", preflight.OK, "these credentials cannot delete (offsite prune needs another key)", "")
		default:
			add("offsite delete", preflight.Warn, fmt.Sprintf("could not tell whether these credentials can delete: %v", err), "")
		}
	}

	if r.LockDays > 0 {
		on, err := r.Store.ObjectLock(ctx)
		switch {
		case err != nil:
			add("offsite object lock", preflight.Fail, fmt.Sprintf("cannot read the bucket's object lock setting: %v", err), "")
		case !on:
			add("offsite object lock", preflight.Fail, fmt.Sprintf("BACKUP_S3_OBJECT_LOCK_DAYS=%d but the bucket has no object lock", r.LockDays),
				"create a bucket with object lock enabled (it cannot be turned on later on most services), or set BACKUP_S3_OBJECT_LOCK_DAYS=0")
		default:
			add("offsite object lock", preflight.OK, fmt.Sprintf("objects are kept undeletable for %d days after each push", r.LockDays), "")
		}
	}

	if !r.Sealer.Encrypted() {
		add("offsite encryption", preflight.Warn, "BACKUP_AGE_RECIPIENTS is not set: the copies are stored unencrypted; anyone who can read the bucket (the provider, a leaked key) reads the whole database and every file",
			"generate a key pair with age-keygen on another machine and set BACKUP_AGE_RECIPIENTS to its public key (docs/offsite.md)")
	} else {
		add("offsite encryption", preflight.OK, "copies are encrypted with age to public keys only: this host can write them, not read them", "")
	}
	if identityFile != "" {
		if _, err := os.Stat(identityFile); err == nil {
			st := preflight.Warn
			detail := "the private key BACKUP_AGE_IDENTITY_FILE is on this host: whoever takes over this host can read the offsite copies"
			if op, err := seal.LoadIdentities(identityFile); err != nil {
				st, detail = preflight.Fail, err.Error()
			} else if r.Sealer.Encrypted() && !r.Sealer.Matches(op) {
				st, detail = preflight.Fail, "the private key in BACKUP_AGE_IDENTITY_FILE matches none of BACKUP_AGE_RECIPIENTS: copies could not be restored with it"
			}
			add("offsite private key", st, detail, "keep the identity file offline; bring it only to restore or for offsite verify --read-data")
		}
	}
	return fs
}
