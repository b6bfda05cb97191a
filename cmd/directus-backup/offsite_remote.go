package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/directus-backup/directus-backup/internal/offsite"
	"github.com/directus-backup/directus-backup/internal/offsite/s3store"
	"github.com/directus-backup/directus-backup/internal/offsite/seal"
)

// offsiteSettings is what a restore from the bucket needs of the offsite
// settings; its fields are those of config.Offsite.
//
// TODO(lead): offsiteSettingsFromEnv is a stand-in until config.Offsite is
// on main: it reads the process environment only (no .env, no flags, no
// validation beyond what s3store and seal do). Replace it by a copy of
// cfg.Offsite, whose secrets also join cfg.Secrets().
type offsiteSettings struct {
	Bucket, Endpoint, Prefix, Region string
	Secure                           bool
	AccessKeyID, SecretAccessKey     string
	PathStyle, CAFile                string
	Recipients                       []string
	IdentityFile                     string
}

func offsiteSettingsFromEnv() (offsiteSettings, error) {
	o := offsiteSettings{
		Bucket: os.Getenv("BACKUP_S3_BUCKET"), Region: os.Getenv("BACKUP_S3_REGION"),
		PathStyle: cmp.Or(os.Getenv("BACKUP_S3_PATH_STYLE"), "auto"), CAFile: os.Getenv("BACKUP_S3_CA_FILE"),
		IdentityFile: os.Getenv("BACKUP_AGE_IDENTITY_FILE"), Secure: true,
	}
	if o.Bucket == "" {
		return o, nil
	}
	ep := os.Getenv("BACKUP_S3_ENDPOINT")
	if rest, ok := strings.CutPrefix(ep, "http://"); ok {
		ep, o.Secure = rest, false
	} else {
		ep = strings.TrimPrefix(ep, "https://")
	}
	o.Endpoint = strings.TrimSuffix(cmp.Or(ep, "s3.amazonaws.com"), "/")
	switch strings.ToLower(os.Getenv("BACKUP_S3_INSECURE")) {
	case "true", "yes", "on", "1":
		o.Secure = false
	}
	if p := strings.Trim(os.Getenv("BACKUP_S3_PREFIX"), "/"); p != "" {
		o.Prefix = p + "/"
	}
	var err error
	if o.AccessKeyID, err = envSecret("BACKUP_S3_ACCESS_KEY_ID"); err != nil {
		return o, err
	}
	if o.SecretAccessKey, err = envSecret("BACKUP_S3_SECRET_ACCESS_KEY"); err != nil {
		return o, err
	}
	rs, err := envSecret("BACKUP_AGE_RECIPIENTS")
	if err != nil {
		return o, err
	}
	for _, r := range strings.FieldsFunc(rs, func(c rune) bool { return c == ',' || c == '\n' || c == ' ' }) {
		if !strings.HasPrefix(r, "#") {
			o.Recipients = append(o.Recipients, r)
		}
	}
	return o, nil
}

// envSecret reads NAME, or the file NAME_FILE names.
func envSecret(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	p := os.Getenv(name + "_FILE")
	if p == "" {
		return "", nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s_FILE: %v", errUsage, name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// openRemote makes the bucket client, the sealer and, when an identity
// file is set, the opener. It does not talk to the server.
func openRemote(o offsiteSettings) (*offsite.Remote, error) {
	store, err := s3store.Open(s3store.Config{
		Endpoint: o.Endpoint, Secure: o.Secure, Bucket: o.Bucket, Prefix: o.Prefix, Region: o.Region,
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, PathStyle: o.PathStyle, CAFile: o.CAFile,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	sealer, err := seal.New(o.Recipients)
	if err != nil {
		return nil, fmt.Errorf("%w: BACKUP_AGE_RECIPIENTS: %v", errUsage, err)
	}
	opener, err := seal.LoadIdentities(o.IdentityFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return &offsite.Remote{Store: store, Sealer: sealer, Opener: opener, Jobs: 8, Version: version}, nil
}

// countingReader adds what is read to n (download progress).
type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
