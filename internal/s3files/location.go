package s3files

import (
	"fmt"
	"strings"

	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
)

// Location is one S3 storage location, as Directus configures it.
type Location struct {
	// Endpoint as Directus takes it: host[:port], or with http:// (plain
	// http) or https://; "" means AWS (s3.amazonaws.com, with Region).
	Endpoint       string
	Bucket         string
	Root           string // key prefix; leading and trailing "/" do not matter
	Region         string
	Key, Secret    string
	ForcePathStyle bool
	Settings       Settings
}

// Settings names the settings behind a Location, for error messages (for
// Directus: STORAGE_<NAME>_KEY and so on; see SettingsFor).
type Settings struct {
	Endpoint, Bucket, Root, Key, Secret, Region string
}

// SettingsFor names the settings of a Directus storage location whose
// settings start with prefix (e.g. "STORAGE_S3_").
func SettingsFor(prefix string) Settings {
	return Settings{Endpoint: prefix + "ENDPOINT", Bucket: prefix + "BUCKET", Root: prefix + "ROOT",
		Key: prefix + "KEY", Secret: prefix + "SECRET", Region: prefix + "REGION"}
}

// Prefix is the key prefix of Root: "" or ending in "/".
func (l Location) Prefix() string {
	p := strings.Trim(l.Root, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// open makes the client. It does not talk to the server.
func (l Location) open() (*s3store.Store, error) {
	if l.Bucket == "" {
		return nil, fmt.Errorf("%s is empty: name the bucket the location's files are in", l.Settings.Bucket)
	}
	host, secure := l.Endpoint, true
	switch {
	case strings.HasPrefix(host, "http://"):
		host, secure = strings.TrimPrefix(host, "http://"), false
	case strings.HasPrefix(host, "https://"):
		host = strings.TrimPrefix(host, "https://")
	case host == "":
		host = "s3.amazonaws.com"
	}
	host = strings.TrimSuffix(host, "/")
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("%s=%q is not an endpoint: give host[:port], optionally after http:// or https://", l.Settings.Endpoint, l.Endpoint)
	}
	style := "auto"
	if l.ForcePathStyle {
		style = "true"
	}
	return s3store.Open(s3store.Config{Endpoint: host, Secure: secure, Bucket: l.Bucket, Prefix: l.Prefix(),
		Region: l.Region, AccessKeyID: l.Key, SecretAccessKey: l.Secret, PathStyle: style,
		Settings: s3store.Settings{Endpoint: l.Settings.Endpoint, Bucket: l.Settings.Bucket, AccessKey: l.Settings.Key,
			SecretKey: l.Settings.Secret, Region: l.Settings.Region,
			Insecure: "give " + l.Settings.Endpoint + " with http://"}})
}
