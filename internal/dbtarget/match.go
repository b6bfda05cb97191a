package dbtarget

import (
	"context"
	"time"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/pgclient"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// Matched is Resolve with, for the local method, the client programs a
// backup would pick for the server (pgclient.Match): restore and verify
// --restore-test then run the psql that goes with the pg_dump that made
// the dump. When the server cannot be asked, or no client is new enough,
// PATH's programs are used, as before: psql reads older and newer servers
// alike, and the restore reports its own errors.
func Matched(ctx context.Context, cfg *config.Config) pgexec.Target {
	t := Resolve(cfg)
	if t.Method != pgexec.MethodLocal {
		return t
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if c, err := pgclient.Match(ctx, t); err == nil {
		return c.Apply(t)
	}
	return t
}
