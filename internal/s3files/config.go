package s3files

import (
	"strings"

	"github.com/directus-backup/directus-backup/internal/config"
)

// For returns the Location of an s3 storage location of the settings,
// with Directus's setting names (STORAGE_<NAME>_*) for its errors.
func For(l config.StorageLocation) Location {
	return Location{Endpoint: l.S3.Endpoint, Bucket: l.S3.Bucket, Root: l.Root, Region: l.S3.Region,
		Key: l.S3.Key, Secret: l.S3.Secret, ForcePathStyle: l.S3.ForcePathStyle,
		Settings: SettingsFor("STORAGE_" + strings.ToUpper(l.Name) + "_")}
}

// Where names the location's bucket and prefix for messages and the
// manifest (no credentials).
func (l Location) Where() (endpoint, bucket, prefix string) {
	return l.Endpoint, l.Bucket, l.Prefix()
}
