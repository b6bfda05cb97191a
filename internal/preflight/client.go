package preflight

import (
	"context"
	"fmt"
	"time"

	"github.com/directus-backup/directus-backup/internal/pgclient"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// Client picks the pg_dump a local backup of t's server uses (pgclient):
// OK names it; Fail (err is a *pgclient.NoneError) when none is new enough;
// Warn when the server could not be asked its version, in which case
// PATH's pg_dump is used, as before, and the dump reports the connection
// problem itself.
func Client(ctx context.Context, t pgexec.Target) (Finding, pgclient.Client, error) {
	const check = "pg_dump version"
	// A server that does not answer is the dump's to report.
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	major, ver, err := pgclient.ServerVersion(vctx, t)
	cancel()
	if err != nil {
		return Finding{Check: check, Status: Warn,
			Detail: fmt.Sprintf("could not ask the server its version, so pg_dump from PATH is used: %v", err),
			Fix:    "check DB_HOST, DB_PORT, DB_DATABASE, DB_USER and DB_PASSWORD"}, pgclient.Client{}, nil
	}
	c, err := pgclient.Find(ctx, major, ver)
	if err != nil {
		return Finding{Check: check, Status: Fail, Detail: err.Error()}, c, err
	}
	where := "PATH"
	if c.BinDir != "" {
		where = "a standard location; psql from the same folder"
	}
	return Finding{Check: check, Status: OK,
		Detail: fmt.Sprintf("server PostgreSQL %s; pg_dump %s (%s, from %s)", ver, c.Version, c.PgDump, where)}, c, nil
}
