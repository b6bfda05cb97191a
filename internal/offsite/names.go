package offsite

import (
	"time"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// backupTime is the time in a backup's name (zero when it has none).
func backupTime(name string) time.Time {
	t, _ := repo.ParseName(name)
	return t
}

var noOpener seal.Opener

var errNotFound = s3store.ErrNotFound

var errLocked = s3store.ErrLocked
