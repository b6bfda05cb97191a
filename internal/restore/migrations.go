package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// shownMigrations is how many differing migrations a message names; the
// report lists them all.
const shownMigrations = 5

// MigrationCheck compares the Directus migrations the backup recorded
// with those of the database it replaces. Directus refuses to start on a
// database migrated further than it knows, and migrates an older one on
// start, so a difference says which Directus release may run on the
// restored database.
type MigrationCheck struct {
	// BackupNewest and TargetNewest are the newest migration versions.
	BackupNewest string `json:"backup_newest"`
	TargetNewest string `json:"target_newest"`
	// OnlyInBackup are applied in the backup but not in the target, and
	// OnlyInTarget the other way round, in version order.
	OnlyInBackup []manifest.Migration `json:"only_in_backup"`
	OnlyInTarget []manifest.Migration `json:"only_in_target"`
	// Skipped says why no comparison was made; "" when it was.
	Skipped string `json:"skipped,omitempty"`
}

// Differ reports whether the two sets of migrations differ.
func (c *MigrationCheck) Differ() bool {
	return c != nil && c.Skipped == "" && len(c.OnlyInBackup)+len(c.OnlyInTarget) > 0
}

// Reasons a migration check is skipped.
const (
	skipNoBackupMigrations = "the backup records no Directus migrations (not a Directus database, or made by an earlier version of directus-backup): not compared"
	skipNoTargetMigrations = "the target database has no directus_migrations table: nothing to compare"
)

// Explain says what the difference means for the Directus deployed on
// the target; "" when there is none.
func (c *MigrationCheck) Explain() string {
	if !c.Differ() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The backup's Directus migrations differ from the target database's (newest in the backup: %s, in the target: %s). ",
		orNone(c.BackupNewest), orNone(c.TargetNewest))
	if len(c.OnlyInBackup) > 0 {
		fmt.Fprintf(&b, "Applied in the backup, not in the target: %s. ", listMigrations(c.OnlyInBackup))
	}
	if len(c.OnlyInTarget) > 0 {
		fmt.Fprintf(&b, "Applied in the target, not in the backup: %s. ", listMigrations(c.OnlyInTarget))
	}
	// After the restore the database has the backup's migrations: a
	// Directus release older than the backup will not start on it, a newer
	// one migrates it on start.
	switch {
	case len(c.OnlyInTarget) == 0:
		b.WriteString("The backup was made by a newer Directus than the one that last migrated the target: a Directus release older than the backup will not start on the restored database, so upgrade Directus there to the backup's release (or newer) before starting it; a newer release will migrate it on start.")
	case len(c.OnlyInBackup) == 0:
		b.WriteString("The target was migrated by a newer Directus than the one that made the backup: the restored database goes back to the backup's migrations, and the newer Directus deployed there will migrate it again on start (a Directus release older than the backup would not start on it). To go back to the older Directus, deploy that release too.")
	default:
		b.WriteString("Each has migrations the other lacks (another release line, or custom migrations from extensions): a Directus release older than the backup will not start on the restored database; a newer one will migrate it on start.")
	}
	return b.String()
}

func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// listMigrations names the first few migrations and counts the rest.
func listMigrations(ms []manifest.Migration) string {
	var parts []string
	for i, m := range ms {
		if i == shownMigrations {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-i))
			break
		}
		if m.Name != "" {
			parts = append(parts, m.Version+" ("+m.Name+")")
		} else {
			parts = append(parts, m.Version)
		}
	}
	return strings.Join(parts, ", ")
}

// checkMigrations reads the target's directus_migrations through psql and
// compares them with the backup's (nil: the backup records none).
func checkMigrations(ctx context.Context, t pgexec.Target, backup *manifest.Migrations) (*MigrationCheck, error) {
	if backup == nil {
		return &MigrationCheck{Skipped: skipNoBackupMigrations}, nil
	}
	c := &MigrationCheck{BackupNewest: backup.Newest, OnlyInBackup: []manifest.Migration{}, OnlyInTarget: []manifest.Migration{}}
	// to_regclass follows the session's search_path, as Directus does.
	ok, err := query(ctx, t, "SELECT to_regclass('directus_migrations') IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("read the target's Directus migrations: %w", err)
	}
	if ok != "t" {
		c.Skipped = skipNoTargetMigrations
		return c, nil
	}
	out, err := query(ctx, t, "SELECT coalesce(json_agg(json_build_array(version, name) ORDER BY version), '[]') FROM directus_migrations")
	if err != nil {
		return nil, fmt.Errorf("read the target's Directus migrations: %w", err)
	}
	var rows [][2]*string
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("read the target's Directus migrations: unexpected answer: %w", err)
	}
	inBackup := map[string]bool{}
	for _, m := range backup.Applied {
		inBackup[m.Version] = true
	}
	target := map[string]bool{}
	for _, r := range rows {
		if r[0] == nil {
			continue
		}
		m := manifest.Migration{Version: *r[0]}
		if r[1] != nil {
			m.Name = *r[1]
		}
		target[m.Version] = true
		// Byte order, as the backup's: the server's collation may differ.
		c.TargetNewest = max(c.TargetNewest, m.Version)
		if !inBackup[m.Version] {
			c.OnlyInTarget = append(c.OnlyInTarget, m)
		}
	}
	sort.Slice(c.OnlyInTarget, func(i, j int) bool { return c.OnlyInTarget[i].Version < c.OnlyInTarget[j].Version })
	for _, m := range backup.Applied {
		if !target[m.Version] {
			c.OnlyInBackup = append(c.OnlyInBackup, m)
		}
	}
	return c, nil
}
