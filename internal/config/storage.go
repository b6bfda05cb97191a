package config

import (
	"errors"
	"strings"

	"github.com/directus-backup/directus-backup/internal/repo"
)

// Directus's own storage and extensions settings (not settings of ours:
// read from the same .env, never flags).
const (
	envStorageLocations = "STORAGE_LOCATIONS"
	envExtensionsPath   = "EXTENSIONS_PATH"
)

// Storage drivers.
const (
	DriverLocal = "local"
	DriverS3    = "s3"
)

// StorageLocation is one Directus storage location (STORAGE_LOCATIONS).
type StorageLocation struct {
	Name   string // as written in STORAGE_LOCATIONS
	Driver string // DriverLocal or DriverS3
	// Root: for local, the folder (absolute; the default location's is
	// Config.UploadsDir, so BACKUP_UPLOADS_DIR applies); for s3, the key
	// prefix (STORAGE_<NAME>_ROOT) as given.
	Root string
	S3   S3Location // DriverS3 only
}

// S3Location is an s3 storage location's connection, as Directus reads it.
type S3Location struct {
	Key, Secret    string // secrets: see Config.Secrets
	Bucket, Region string
	Endpoint       string // "" = AWS
	ForcePathStyle bool
}

// storageEnv is the name of a location's setting, as Directus builds it.
func storageEnv(name, suffix string) string {
	return "STORAGE_" + strings.ToUpper(name) + "_" + suffix
}

// storage reads STORAGE_LOCATIONS and each location's settings. It returns
// the locations and the index of the default one (the first local one;
// -1 when there is none). The default one's Root is left for uploadsDir.
func (r *resolver) storage() ([]StorageLocation, int) {
	list := r.value(envStorageLocations)
	if _, _, ok := r.get(envStorageLocations); !ok {
		list = "local" // Directus's default
	}
	var out []StorageLocation
	def := -1
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !repo.ValidLocationName(name) {
			r.fail(envStorageLocations, list, "comma-separated location names of letters, digits, '_' or '-'", nil)
			return nil, -1
		}
		if seen[strings.ToLower(name)] {
			r.fail(envStorageLocations, list, "each location once (names differing only in case share their STORAGE_<NAME>_* settings)", nil)
			return nil, -1
		}
		seen[strings.ToLower(name)] = true
		loc := StorageLocation{Name: name}
		driverEnv := storageEnv(name, "DRIVER")
		driver, _, ok := r.get(driverEnv)
		if !ok && strings.EqualFold(name, "local") {
			driver, ok = DriverLocal, true // Directus's default for "local"
		}
		switch d := strings.ToLower(driver); {
		case !ok:
			r.fail(driverEnv, "", "local or s3 (required for the location "+name+" in STORAGE_LOCATIONS)", nil)
			continue
		case d == DriverLocal:
			loc.Driver = DriverLocal
		case d == DriverS3:
			loc.Driver = DriverS3
		case d == "gcs" || d == "azure" || d == "cloudinary" || d == "supabase":
			r.fail(driverEnv, driver, "local or s3",
				errors.New("not supported yet: directus-backup copies local and S3 storage locations"))
			continue
		default:
			r.fail(driverEnv, driver, "local or s3", nil)
			continue
		}
		rootEnv := storageEnv(name, "ROOT")
		switch {
		case loc.Driver == DriverS3:
			loc.Root = r.value(rootEnv)
			loc.S3 = r.s3Location(name)
		case def < 0:
			def = len(out) // its root is resolved by uploadsDir
		default:
			v, from, ok := r.get(rootEnv)
			if !ok {
				r.fail(rootEnv, "", "the folder of the local location "+name+" (required)", nil)
				continue
			}
			loc.Root = r.directusPath(v, from)
		}
		out = append(out, loc)
	}
	return out, def
}

// s3Location reads an s3 location's connection settings.
func (r *resolver) s3Location(name string) S3Location {
	secret := func(suffix, what string) string {
		env := storageEnv(name, suffix)
		return r.secret(env, env+"_FILE", what, true, r.directusPath)
	}
	s := S3Location{
		Key:      secret("KEY", "the S3 access key id"),
		Secret:   secret("SECRET", "the S3 secret access key"),
		Bucket:   r.value(storageEnv(name, "BUCKET")),
		Region:   r.value(storageEnv(name, "REGION")),
		Endpoint: r.value(storageEnv(name, "ENDPOINT")),
	}
	if s.Bucket == "" {
		r.fail(storageEnv(name, "BUCKET"), "", "the bucket of the s3 location "+name+" (required)", nil)
	}
	env := storageEnv(name, "FORCE_PATH_STYLE")
	switch v := strings.ToLower(r.value(env)); v {
	case "", "false", "0", "no", "off":
	case "true", "1", "yes", "on":
		s.ForcePathStyle = true
	default:
		r.fail(env, v, "true or false", nil)
	}
	return s
}

// storageAndUploads sets c.Storage, c.DefaultLocation and c.UploadsDir:
// the default location's folder is BACKUP_UPLOADS_DIR, else its
// STORAGE_<NAME>_ROOT (for "local", else ./directus/uploads, as before).
func (r *resolver) storageAndUploads(c *Config) {
	var def int
	c.Storage, def = r.storage()
	if def < 0 {
		if v, _, ok := r.get(envUploadsDir); ok {
			r.fail(envUploadsDir, v, "unset: STORAGE_LOCATIONS has no local location, so there is no uploads folder to back up", nil)
		}
		return
	}
	loc := &c.Storage[def]
	c.DefaultLocation = loc.Name
	if v, _, ok := r.get(envUploadsDir); ok {
		c.UploadsDir = resolvePath(r.wd, v)
	} else if v, from, ok := r.get(storageEnv(loc.Name, "ROOT")); ok {
		c.UploadsDir = r.directusPath(v, from)
	} else if strings.EqualFold(loc.Name, "local") {
		c.UploadsDir = resolvePath(r.wd, "./directus/uploads")
	} else {
		r.fail(storageEnv(loc.Name, "ROOT"), "", "the folder of the local location "+loc.Name+" (required), or BACKUP_UPLOADS_DIR", nil)
	}
	loc.Root = c.UploadsDir
}

// extensionsDir is Directus's EXTENSIONS_PATH, by default ./extensions in
// the folder Directus runs in (the .env file's, else the working folder).
func (r *resolver) extensionsDir() string {
	if v, from, ok := r.get(envExtensionsPath); ok {
		return r.directusPath(v, from)
	}
	if r.envFile != "" {
		return resolvePath(r.envDir, "./extensions")
	}
	return resolvePath(r.wd, "./extensions")
}

// Locations returns the storage locations: Storage, or for a Config not
// made by Load (tests) that sets only UploadsDir, that folder as "local".
func (c *Config) Locations() []StorageLocation {
	if len(c.Storage) == 0 && c.UploadsDir != "" && c.DefaultLocation == "" {
		return []StorageLocation{{Name: "local", Driver: DriverLocal, Root: c.UploadsDir}}
	}
	return c.Storage
}

// Default returns the default storage location (the one backed up into
// uploads/), false when no location is local.
func (c *Config) Default() (StorageLocation, bool) {
	for _, l := range c.Locations() {
		if l.Driver == DriverLocal && (l.Name == c.DefaultLocation || c.DefaultLocation == "" && len(c.Storage) == 0) {
			return l, true
		}
	}
	return StorageLocation{}, false
}

// ExtraLocations returns the storage locations other than the default one.
func (c *Config) ExtraLocations() []StorageLocation {
	d, ok := c.Default()
	var out []StorageLocation
	for _, l := range c.Locations() {
		if !ok || l.Name != d.Name {
			out = append(out, l)
		}
	}
	return out
}

// storageSecrets lists the s3 locations' keys, for Secrets.
func (c *Config) storageSecrets() []string {
	var out []string
	for _, l := range c.Storage {
		for _, s := range []string{l.S3.Key, l.S3.Secret} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
