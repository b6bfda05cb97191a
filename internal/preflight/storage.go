package preflight

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/directus-backup/directus-backup/internal/config"
)

// Storage checks every storage location a backup copies (STORAGE_LOCATIONS)
// and the extensions folder: local folders must be folders this user can
// list; s3 locations are described (doctor asks their bucket).
func Storage(cfg *config.Config) []Finding {
	if cfg.NoFiles {
		return []Finding{{Check: "storage locations", Status: OK,
			Detail: "BACKUP_FILES=off: database-only backups, no storage location or extensions folder is copied"}}
	}
	var out []Finding
	def, _ := cfg.Default()
	for _, l := range cfg.Locations() {
		check := fmt.Sprintf("storage location %s (%s)", l.Name, l.Driver)
		switch {
		case l.Driver == config.DriverS3:
			// Only doctor talks to the bucket (s3files.Check); a backup
			// finds out at its first request, before it writes anything.
			ep := l.S3.Endpoint
			if ep == "" {
				ep = "AWS"
			}
			out = append(out, Finding{Check: check, Status: OK,
				Detail: fmt.Sprintf("bucket %s, prefix %q, endpoint %s (STORAGE_%s_*): copied into storage/%s/",
					l.S3.Bucket, l.Root, ep, strings.ToUpper(l.Name), l.Name)})
		case l.Name == def.Name && l.Driver == config.DriverLocal:
			f := Uploads(cfg) // its check keeps its name: scripts read it
			if f.Status == OK {
				f.Detail += fmt.Sprintf(" (storage location %s, driver local, backed up into uploads/)", l.Name)
			}
			out = append(out, f)
		default:
			out = append(out, folder(check, l.Root, "STORAGE_"+strings.ToUpper(l.Name)+"_ROOT"))
		}
	}
	if len(cfg.Locations()) == 0 {
		out = append(out, Finding{Check: "storage locations", Status: Warn,
			Detail: "STORAGE_LOCATIONS names no location: only the database is backed up", Fix: "set STORAGE_LOCATIONS as Directus has it"})
	}
	if cfg.ExtensionsDir == "" {
		return out
	}
	if fi, err := os.Stat(cfg.ExtensionsDir); err == nil && fi.IsDir() {
		out = append(out, folder("extensions folder", cfg.ExtensionsDir, "EXTENSIONS_PATH"))
	} else {
		out = append(out, Finding{Check: "extensions folder", Status: OK,
			Detail: cfg.ExtensionsDir + " does not exist: no extensions to back up (EXTENSIONS_PATH)"})
	}
	return out
}

// folder checks that dir is a folder this user can list. On failure the
// fix explains the compose mapping: Directus's own paths are often paths
// inside its container.
func folder(check, dir, setting string) Finding {
	fail := func(err error) Finding {
		return Finding{Check: check, Status: Fail, Detail: fmt.Sprintf("%s (%s): %v", dir, setting, err),
			Fix: "set " + setting + " to the folder on this host; if Directus runs in docker compose, the .env path is inside the container: use the host folder mounted there"}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(&os.PathError{Op: "open", Path: dir, Err: err})
	}
	f := os.NewFile(uintptr(fd), dir)
	_, rerr := f.Readdirnames(1)
	f.Close()
	if rerr != nil && rerr != io.EOF {
		return fail(rerr)
	}
	return Finding{Check: check, Status: OK, Detail: dir + " is readable"}
}
