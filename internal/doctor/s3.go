package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/s3files"
)

// checkS3Locations asks each s3 storage location's bucket whether these
// credentials may list it and read an object: what a backup needs.
func checkS3Locations(ctx context.Context, cfg *config.Config) []Finding {
	if cfg.NoFiles {
		return nil
	}
	var out []Finding
	for _, l := range cfg.Locations() {
		if l.Driver != config.DriverS3 {
			continue
		}
		check := "s3 bucket of " + l.Name
		prefix := "STORAGE_" + strings.ToUpper(l.Name) + "_"
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		res, err := s3files.Check(cctx, s3files.For(l))
		cancel()
		switch {
		case err != nil:
			fix := "check " + prefix + "ENDPOINT, " + prefix + "BUCKET, " + prefix + "REGION, " + prefix + "KEY and " + prefix + "SECRET"
			switch {
			case errors.Is(err, s3store.ErrUnreachable):
				fix = "this host must reach " + prefix + "ENDPOINT; a docker compose service name (http://minio:9000) resolves only inside the compose network: " +
					"publish its port and set " + prefix + "ENDPOINT=http://127.0.0.1:9000 in directus-backup's environment (it overrides the .env)"
			case errors.Is(err, s3store.ErrDenied):
				fix = "the key " + prefix + "KEY needs s3:ListBucket and s3:GetObject to back up (and s3:PutObject to restore)"
			}
			out = append(out, Finding{Check: check, Status: Fail, Detail: err.Error(), Fix: fix})
		case res.Empty:
			out = append(out, Finding{Check: check, Status: Warn,
				Detail: fmt.Sprintf("%s holds no object: nothing to back up", res.Where),
				Fix:    "check " + prefix + "BUCKET and " + prefix + "ROOT if Directus has files there"})
		default:
			out = append(out, Finding{Check: check, Status: OK,
				Detail: fmt.Sprintf("%s can be listed and read with %sKEY (read %s)", res.Where, prefix, res.Read)})
		}
	}
	return out
}
