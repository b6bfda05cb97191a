package doctor

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/directus-backup/directus-backup/internal/config"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/pgexec"
)

// connection shows the connection in effect (never the password) and
// which setting gave each part, since DB_CONNECTION_STRING silently
// overrides the individual settings in Directus.
func connection(cfg *config.Config) Finding {
	db := cfg.DB
	// One source for all (a connection string): named once, at the end.
	same, one := true, ""
	for _, s := range db.Sources {
		if one != "" && s != one {
			same = false
		}
		one = s
	}
	src := func(key string) string {
		if s := db.Sources[key]; s != "" && !same {
			return " (" + s + ")"
		}
		return ""
	}
	var parts []string
	if dbtarget.ResolveMethod(cfg.DBMethod, cfg.DockerComposeFile) == pgexec.MethodDocker {
		parts = append(parts, "through the database container's own socket (docker method: host, port and TLS settings do not apply)")
	} else {
		parts = append(parts,
			"host "+cmp.Or(db.Host, "(libpq default)")+src("host"),
			"port "+db.Port+src("port"),
			"sslmode "+cmp.Or(db.SSLMode, "(libpq default: prefer)")+src("sslmode"))
		if db.SSLRootCert != "" || db.SSLRootCertPEM != "" {
			parts = append(parts, "root certificate "+cmp.Or(db.SSLRootCert, "(DB_SSL__CA, written to a private temporary file)"))
		}
		if db.SSLCert != "" || db.SSLCertPEM != "" {
			parts = append(parts, "client certificate "+cmp.Or(db.SSLCert, "(DB_SSL__CERT, written to a private temporary file)"))
		}
	}
	parts = append(parts,
		fmt.Sprintf("database %q%s", db.Database, src("database")),
		"user "+cmp.Or(db.User, "(libpq default)")+src("user"))
	if len(db.SearchPath) > 0 {
		parts = append(parts, "search_path "+strings.Join(db.SearchPath, ","))
	}
	pw := "no password"
	if db.Password != "" {
		pw = "password set"
	}
	parts = append(parts, pw)
	detail := strings.Join(parts, ", ")
	if same && one != "" {
		detail += "; from " + one
	}
	f := Finding{Check: "database connection", Status: OK, Detail: detail}
	if len(db.Ignored) > 0 {
		f.Status = Warn
		f.Detail += "; ignored because DB_CONNECTION_STRING is set (Directus ignores them too): " + strings.Join(db.Ignored, ", ")
		f.Fix = "remove them from the .env file, or put their values into DB_CONNECTION_STRING"
	}
	return f
}
