package restore

import (
	"fmt"
	"strings"

	"github.com/directus-backup/directus-backup/internal/exitcode"
	"github.com/directus-backup/directus-backup/internal/manifest"
	"github.com/directus-backup/directus-backup/internal/repo"
	"github.com/directus-backup/directus-backup/internal/s3files"
)

// LocationReport is one storage location (besides uploads/) or the
// extensions folder, restored.
type LocationReport struct {
	Name   string `json:"name"`
	Folder string `json:"folder"` // inside the backup
	UploadsReport
	// S3 is an s3 location restored into its bucket (Target then names
	// the bucket and prefix).
	S3 *S3Report `json:"s3,omitempty"`
}

// target is one files folder of the backup to restore, and where.
type target struct {
	name      string      // location name; repo.ExtensionsName for the extensions
	view      repo.Backup // the backup as seen by the uploads code (repo.Backup.Area)
	dir       string      // the live folder
	uploads   bool        // the default location, in uploads/
	extension bool
	s3        *s3files.Location // an s3 location restored into its bucket (dir is then "")
}

// refuse is a restore refused before anything was done.
func refuse(format string, args ...any) error {
	return exitcode.With(exitcode.Usage, fmt.Errorf(format, args...))
}

// targets works out which files folders of b the request restores, and
// where, before anything is done.
func targets(req Request, b repo.Backup) ([]target, error) {
	m := b.Manifest
	filesOff := m != nil && m.Files == manifest.FilesOff
	hasUploads := m == nil || m.HasUploads()
	var out []target
	seen := map[string]bool{}
	addUploads := func() {
		if !seen["\x00uploads"] {
			seen["\x00uploads"] = true
			out = append(out, target{name: req.DefaultLocation, view: b, dir: req.UploadsDir, uploads: true})
		}
	}
	addLocation := func(name string) error {
		if m == nil {
			return refuse("%s was made by the original backup.sh: it holds uploads/ only, not the storage location %q", b.Name, name)
		}
		if seen[strings.ToLower(name)] {
			return nil
		}
		seen[strings.ToLower(name)] = true
		v, err := b.Area(name, false)
		if err != nil {
			return refuse("%w (it holds: %s)", err, strings.Join(held(m), ", "))
		}
		if l, ok := m.Location(name); ok {
			name = l.Name // as the backup spells it
		}
		if s3, ok, err := s3Target(req, b, name); ok || err != nil {
			if err != nil {
				return err
			}
			out = append(out, target{name: name, view: v, s3: s3})
			return nil
		}
		dir := req.LocationDirs[strings.ToLower(name)]
		if dir == "" && req.TargetDir == "" {
			return refuse("the storage location %q of %s is not a local location in STORAGE_LOCATIONS: set its STORAGE_%s_DRIVER=local and STORAGE_%s_ROOT, or give --target-dir",
				name, b.Name, strings.ToUpper(name), strings.ToUpper(name))
		}
		out = append(out, target{name: name, view: v, dir: dir})
		return nil
	}
	if (req.Uploads || len(req.Locations) > 0 || req.Extensions) && filesOff {
		return nil, refuse("%s is a database-only backup (BACKUP_FILES=off): it holds no files", b.Name)
	}
	switch {
	case req.AllFiles:
		if hasUploads {
			addUploads()
		}
		if m != nil {
			for _, l := range m.Storage {
				if err := addLocation(l.Name); err != nil {
					return nil, err
				}
			}
		}
	case req.Uploads:
		if !hasUploads {
			return nil, refuse("%s holds no uploads/ (no local storage location was backed up); it holds: %s", b.Name, strings.Join(held(m), ", "))
		}
		addUploads()
	}
	for _, name := range req.Locations {
		if m == nil || m.DefaultLocation == "" && strings.EqualFold(name, req.DefaultLocation) && hasUploads ||
			m.DefaultLocation != "" && strings.EqualFold(name, m.DefaultLocation) {
			// The default location is uploads/ (also in backups made
			// before locations were recorded).
			if !hasUploads {
				return nil, refuse("%s holds no uploads/", b.Name)
			}
			addUploads()
			continue
		}
		if err := addLocation(name); err != nil {
			return nil, err
		}
	}
	if req.Extensions {
		v, err := b.Area(repo.ExtensionsName, true)
		if err != nil {
			return nil, refuse("%w", err)
		}
		out = append(out, target{name: repo.ExtensionsName, view: v, dir: req.ExtensionsDir, extension: true})
	}
	if req.TargetDir != "" {
		if len(out) != 1 {
			return nil, refuse("--target-dir names one folder, but this restore writes %d (%s): choose one with --uploads, --location or --extensions",
				len(out), strings.Join(names(out), ", "))
		}
		out[0].dir = req.TargetDir
	}
	if err := redirectS3(req, out); err != nil {
		return nil, err
	}
	for _, t := range out {
		if t.dir == "" && t.s3 == nil {
			return nil, refuse("no folder to restore %s into: set its root in the .env, or give --target-dir", t.name)
		}
	}
	return out, nil
}

// held lists the files folders a backup holds, for messages.
func held(m *manifest.Manifest) []string {
	var out []string
	if m.HasUploads() {
		out = append(out, "uploads/ ("+m.DefaultLocation+")")
	}
	for _, l := range m.Storage {
		out = append(out, l.Name)
	}
	if m.Extensions != nil {
		out = append(out, "extensions")
	}
	if len(out) == 0 {
		out = append(out, "no files")
	}
	return out
}

func names(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.name)
	}
	return out
}
