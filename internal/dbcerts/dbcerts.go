// Package dbcerts writes the certificates and key Directus takes as PEM
// content (DB_SSL__CA, DB_SSL__CERT, DB_SSL__KEY) into files, since libpq
// reads them only from files: a private temporary folder (0700, files
// 0600), removed when the run ends.
package dbcerts

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/config"
)

// Write writes db's PEM contents into a new private folder and points db's
// paths at the files. cleanup removes the folder; it is a no-op when there
// was nothing to write.
func Write(db *config.DB) (cleanup func(), err error) {
	files := []struct {
		pem  string
		path *string
		name string
	}{
		{db.SSLRootCertPEM, &db.SSLRootCert, "root.crt"},
		{db.SSLCertPEM, &db.SSLCert, "client.crt"},
		{db.SSLKeyPEM, &db.SSLKey, "client.key"},
	}
	need := false
	for _, f := range files {
		need = need || f.pem != ""
	}
	if !need {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "directus-backup-tls-")
	if err != nil {
		return nil, fmt.Errorf("create a private folder for the database certificates: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for _, f := range files {
		if f.pem == "" {
			continue
		}
		p := filepath.Join(dir, f.name)
		// 0600: libpq refuses a key file others can read.
		if err := os.WriteFile(p, []byte(f.pem), 0o600); err != nil {
			cleanup()
			return nil, fmt.Errorf("write the database certificate %s: %w", p, err)
		}
		*f.path = p
	}
	return cleanup, nil
}
