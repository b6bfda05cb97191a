// Package s3store is the S3-compatible object storage that offsite copies
// live in: a thin layer over minio-go that adds the key prefix, object lock
// retention and errors that say what to fix.
package s3store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Endpoint        string // host[:port], no scheme
	Secure          bool   // https
	Bucket          string
	Prefix          string // "" or ending in "/"
	Region          string // "" = ask the server
	AccessKeyID     string
	SecretAccessKey string
	PathStyle       string // "auto", "true" or "false"
	CAFile          string // extra PEM roots for https; "" = the system's
	// Settings names the settings error hints tell the user to fix; the
	// zero value names the offsite ones (BACKUP_S3_*).
	Settings Settings
}

// Settings names the settings behind a Config, for error hints. Another
// user of this package (a Directus storage location) passes its own.
type Settings struct {
	Endpoint, Bucket, AccessKey, SecretKey, Region string
	CAFile                                         string // "" = there is no such setting: not suggested
	Insecure                                       string // how to ask for plain http
}

func (n Settings) orDefault() Settings {
	if n.Endpoint == "" {
		return Settings{Endpoint: "BACKUP_S3_ENDPOINT", Bucket: "BACKUP_S3_BUCKET", AccessKey: "BACKUP_S3_ACCESS_KEY_ID",
			SecretKey: "BACKUP_S3_SECRET_ACCESS_KEY", Region: "BACKUP_S3_REGION", CAFile: "BACKUP_S3_CA_FILE",
			Insecure: "set BACKUP_S3_INSECURE=true or an http:// endpoint"}
	}
	return n
}

// Store is one bucket (and prefix).
type Store struct {
	c      *minio.Client
	bucket string
	prefix string
	where  string // for messages: endpoint/bucket/prefix
	names  Settings
}

// Object is one listed object; Key is relative to the prefix.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string // without quotes
}

// Open makes a client. It does not talk to the server.
func Open(cfg Config) (*Store, error) {
	lookup := minio.BucketLookupAuto
	switch cfg.PathStyle {
	case "true":
		lookup = minio.BucketLookupPath
	case "false":
		lookup = minio.BucketLookupDNS
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, err
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", cfg.Settings.orDefault().CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate", cfg.Settings.orDefault().CAFile, cfg.CAFile)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   5,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %s (%s): %w", cfg.Endpoint, cfg.Settings.orDefault().Endpoint, err)
	}
	scheme := "https://"
	if !cfg.Secure {
		scheme = "http://"
	}
	return &Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix, names: cfg.Settings.orDefault(),
		where: scheme + cfg.Endpoint + "/" + cfg.Bucket + "/" + cfg.Prefix}, nil
}

// Where names the bucket and prefix for messages (no credentials).
func (s *Store) Where() string { return s.where }

// PutOptions are the options of one upload.
type PutOptions struct {
	RetainUntil time.Time // object lock retention (governance); zero = none
	PartSize    uint64    // multipart part size for unknown sizes; 0 = 16 MiB
	ContentType string    // "" = application/octet-stream
}

// Put uploads r as key. size -1 means unknown (multipart). A reader error
// aborts the upload: no object, or the previous one, stays.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, o PutOptions) error {
	opts := minio.PutObjectOptions{ContentType: o.ContentType, PartSize: PartSize(size, o.PartSize)}
	if opts.ContentType == "" {
		opts.ContentType = "application/octet-stream"
	}
	if !o.RetainUntil.IsZero() {
		opts.Mode = minio.Governance
		opts.RetainUntilDate = o.RetainUntil.UTC()
	}
	if _, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, opts); err != nil {
		return s.explain("upload "+key, err)
	}
	return nil
}

// PartSize is the multipart part size Put uses for an object of size bytes
// (-1: unknown) given the asked one (0 = 16 MiB): S3 allows 10,000 parts,
// so they grow for very large objects.
func PartSize(size int64, asked uint64) uint64 {
	if asked == 0 {
		asked = 16 << 20
	}
	if size > 0 && uint64(size) > asked*9000 {
		asked = (uint64(size)/9000 + 1<<20) &^ (1<<20 - 1)
	}
	return asked
}

// GetInfo opens key for reading and returns what the server says of the
// version it sends (size, time, ETag).
func (s *Store) GetInfo(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, s.explain("download "+key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, Object{}, s.explain("download "+key, err)
	}
	return &reader{obj: obj, s: s, key: key}, Object{Key: key, Size: info.Size, LastModified: info.LastModified, ETag: trimETag(info.ETag)}, nil
}

// trimETag drops the quotes some servers keep around an ETag.
func trimETag(e string) string { return strings.Trim(e, `"`) }

// Get opens key for reading.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explain("download "+key, err)
	}
	return &reader{obj: obj, s: s, key: key}, nil
}

// reader turns errors of the lazy GetObject into explained ones.
type reader struct {
	obj *minio.Object
	s   *Store
	key string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.explain("download "+r.key, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.obj.Close() }

// ReadAll downloads a small object whole.
func (s *Store) ReadAll(ctx context.Context, key string) ([]byte, error) {
	r, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Stat returns the object's size and time; an error matching ErrNotFound
// when it is not there.
func (s *Store) Stat(ctx context.Context, key string) (Object, error) {
	info, err := s.c.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, s.explain("look up "+key, err)
	}
	return Object{Key: key, Size: info.Size, LastModified: info.LastModified, ETag: trimETag(info.ETag)}, nil
}

// List lists the objects under prefix (relative to the store's prefix),
// recursively. The iteration stops at the first error, which it yields.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		for info := range s.c.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if info.Err != nil {
				yield(Object{}, s.explain(strings.TrimSpace("list "+prefix), info.Err))
				return
			}
			if !yield(Object{Key: strings.TrimPrefix(info.Key, s.prefix), Size: info.Size, LastModified: info.LastModified, ETag: trimETag(info.ETag)}, nil) {
				return
			}
		}
	}
}

// Remove deletes one object. Deleting a missing object is not an error.
//
// In a versioned bucket (every object-locked bucket is one) a delete
// without a version id only hides the object behind a delete marker: it
// frees nothing, is never refused for retention, and the versions stay
// forever. So each version is deleted by its id, newest first: a retained
// one is refused (ErrLocked) and the object stays as it was. A key without
// the rights for versions (s3:ListBucketVersions, s3:DeleteObjectVersion)
// falls back to the plain delete.
func (s *Store) Remove(ctx context.Context, key string) error {
	ids, err := s.versions(ctx, key)
	if errors.Is(err, ErrDenied) || len(ids) == 0 {
		ids, err = []string{""}, nil
	}
	if err != nil {
		return err
	}
	for i, id := range ids {
		if id == "null" {
			id = "" // the version an unversioned bucket reports
		}
		err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{VersionID: id})
		if err == nil {
			continue
		}
		err = s.explain("delete "+key, err)
		if i == 0 && id != "" && errors.Is(err, ErrDenied) && !errors.Is(err, ErrLocked) {
			err = s.explain("delete "+key, s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}))
		}
		return err
	}
	return nil
}

// Hide deletes the current version of key only: in a versioned bucket a
// delete marker hides it and its older versions stay (recoverable), unlike
// Remove. Deleting a missing object is not an error.
func (s *Store) Hide(ctx context.Context, key string) error {
	return s.explain("delete "+key, s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}))
}

// versions lists the version ids of key, newest first (delete markers too).
func (s *Store) versions(ctx context.Context, key string) ([]string, error) {
	var ids []string
	for info := range s.c.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + key, WithVersions: true}) {
		if info.Err != nil {
			return nil, s.explain("list the versions of "+key, info.Err)
		}
		if info.Key == s.prefix+key {
			ids = append(ids, info.VersionID)
		}
	}
	return ids, nil
}

// Retention returns the object's retain-until date (zero when none). It
// reads the header of a HEAD request rather than GetObjectRetention, whose
// reply some servers (versitygw) word differently.
func (s *Store) Retention(ctx context.Context, key string) (time.Time, error) {
	info, err := s.c.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return time.Time{}, s.explain("read the retention of "+key, err)
	}
	v := info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the retention of %s: %q is not a date", key, v)
	}
	return t, nil
}

// Extend sets the object's governance retention to until (never shortens:
// S3 refuses that in governance mode without the bypass right).
func (s *Store) Extend(ctx context.Context, key string, until time.Time) error {
	mode := minio.Governance
	u := until.UTC()
	err := s.c.PutObjectRetention(ctx, s.bucket, s.prefix+key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &u})
	if err != nil {
		return s.explain("extend the retention of "+key, err)
	}
	return nil
}

// ObjectLock reports whether the bucket has object lock enabled.
func (s *Store) ObjectLock(ctx context.Context) (bool, error) {
	enabled, _, _, _, err := s.c.GetObjectLockConfig(ctx, s.bucket)
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "ObjectLockConfigurationNotFoundError" || code == "NoSuchObjectLockConfiguration" {
			return false, nil
		}
		return false, s.explain("read the bucket's object lock configuration", err)
	}
	return enabled == "Enabled", nil
}

// ErrNotFound matches errors about a missing object.
var ErrNotFound = errors.New("no such object")

// ErrDenied matches errors the server gave because the credentials lack the
// right (or are wrong).
var ErrDenied = errors.New("access denied")

// ErrNoBucket matches errors about a bucket that does not exist.
var ErrNoBucket = errors.New("no such bucket")

// ErrUnreachable matches errors of an endpoint that cannot be reached.
var ErrUnreachable = errors.New("endpoint unreachable")

// ErrLocked matches a delete refused because of object lock retention.
var ErrLocked = errors.New("object is under retention")

// Error is an S3 failure with a hint of what to fix.
type Error struct {
	Op   string
	Code string // S3 error code, "" for network errors
	Err  error
	hint string
	kind error
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Err.Error()
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *Error) Unwrap() []error {
	if e.kind != nil {
		return []error{e.Err, e.kind}
	}
	return []error{e.Err}
}

func (s *Store) explain(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &Error{Op: op + " in " + s.where, Err: err}
	resp := minio.ToErrorResponse(err)
	e.Code = resp.Code
	switch resp.Code {
	case "NoSuchKey":
		e.kind = ErrNotFound
	case "NoSuchBucket":
		e.kind = ErrNoBucket
		e.hint = "the bucket does not exist: create it, or check " + s.names.Bucket + " and " + s.names.Endpoint
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
		e.kind = ErrDenied
		e.hint = "the server refused the credentials: check " + s.names.AccessKey + " and " + s.names.SecretKey
	case "AccessDenied":
		e.kind = ErrDenied
		if strings.Contains(strings.ToLower(resp.Message), "retention") || strings.Contains(strings.ToLower(resp.Message), "worm") ||
			strings.Contains(strings.ToLower(resp.Message), "lock") {
			e.kind = ErrLocked
		} else {
			e.hint = "these credentials lack the right for this request"
		}
	case "InvalidRequest", "ObjectLocked":
		if strings.Contains(strings.ToLower(resp.Message), "lock") || strings.Contains(strings.ToLower(resp.Message), "retention") || resp.Code == "ObjectLocked" {
			e.kind = ErrLocked
		}
	case "AuthorizationHeaderMalformed":
		e.hint = "check " + s.names.Region
	case "":
		if resp.StatusCode == http.StatusNotFound {
			e.kind = ErrNotFound
			break
		}
		var ne net.Error
		var oe *net.OpError
		switch {
		case errors.As(err, &oe) || errors.As(err, &ne):
			e.kind = ErrUnreachable
			e.hint = "the S3 endpoint cannot be reached: check " + s.names.Endpoint + " and the network"
		case strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "certificate"):
			e.hint = "TLS: the server's certificate is not trusted"
			if s.names.CAFile != "" {
				e.hint += ": set " + s.names.CAFile + " for a private certificate authority"
			}
		case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
			e.hint = "the server speaks plain http: " + s.names.Insecure
		}
	}
	return e
}
