package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"
)

// Offsite is where and how backups are copied to S3-compatible storage.
// The zero value (Bucket == "") means no offsite copies; then none of the
// other offsite settings is read or validated.
type Offsite struct {
	Bucket          string   // S3 bucket name (S3 naming rules); "" = offsite off
	Endpoint        string   // host[:port], no scheme
	Secure          bool     // https; false for an http:// endpoint or BACKUP_S3_INSECURE=true
	Prefix          string   // "" or a key prefix ending in "/", without a leading "/"
	Region          string   // "" = ask the server (us-east-1 when it does not say)
	AccessKeyID     string   // secret: never log it
	SecretAccessKey string   // secret: never log it
	PathStyle       string   // PathStyleAuto, PathStyleOn or PathStyleOff
	CAFile          string   // absolute; "" = the system's roots only
	Recipients      []string // age public keys; nil = objects stored unencrypted
	IdentityFile    string   // absolute; "" when not set. Not read by Load
	RetentionDays   int      // as Config.RetentionDays
	RetentionCount  int      // as Config.RetentionCount
	ObjectLockDays  int      // 0 = no object lock
}

// Values of Offsite.PathStyle (BACKUP_S3_PATH_STYLE).
const (
	PathStyleAuto = "auto"  // the S3 client decides (minio-go: BucketLookupAuto)
	PathStyleOn   = "true"  // path style: host/bucket/key (minio-go: BucketLookupPath)
	PathStyleOff  = "false" // virtual-host style: bucket.host/key (minio-go: BucketLookupDNS)
)

// Enabled reports whether offsite copies are configured.
func (o Offsite) Enabled() bool { return o.Bucket != "" }

// AgeRecipients parses Recipients (already validated by Load) for
// age.Encrypt; nil when objects are stored unencrypted.
func (o Offsite) AgeRecipients() ([]age.Recipient, error) {
	if len(o.Recipients) == 0 {
		return nil, nil
	}
	return age.ParseRecipients(strings.NewReader(strings.Join(o.Recipients, "\n")))
}

// maxPrefix leaves room for the object names under the prefix within S3's
// 1024-byte key limit.
const maxPrefix = 512

// offsite resolves the offsite settings; only when a bucket is set.
func (r *resolver) offsite() Offsite {
	var o Offsite
	bucket, _, ok := r.get(envS3Bucket)
	if !ok {
		return o
	}
	if validBucket(bucket) {
		o.Bucket = bucket
	} else {
		r.fail(envS3Bucket, bucket, "an S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-', "+
			"starting and ending with a letter or digit, no \"..\", not an IP address", nil)
	}

	insecure := r.choice(envS3Insecure, "true or false (also yes/no, on/off, 1/0)", boolWords) == "true"
	o.Endpoint, o.Secure = r.s3Endpoint(insecure)
	o.Prefix = r.s3Prefix()
	if v, _, ok := r.get(envS3Region); ok {
		if regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(v) {
			o.Region = v
		} else {
			r.fail(envS3Region, v, "a region name such as us-east-1: up to 64 letters, digits, '.', '_' and '-'", nil)
		}
	}

	o.AccessKeyID = r.s3Key(envS3AccessKeyID, envS3AccessKeyIDFile, "the S3 access key id")
	o.SecretAccessKey = r.s3Key(envS3SecretAccessKey, envS3SecretAccessKeyFile, "the S3 secret access key")

	o.PathStyle = r.choice(envS3PathStyle, "auto, true (path style) or false (virtual-host style); also yes/no, on/off, 1/0",
		map[string]string{"auto": PathStyleAuto,
			"true": PathStyleOn, "yes": PathStyleOn, "on": PathStyleOn, "1": PathStyleOn,
			"false": PathStyleOff, "no": PathStyleOff, "off": PathStyleOff, "0": PathStyleOff})

	if v, _, ok := r.get(envS3CAFile); ok {
		o.CAFile = resolvePath(r.wd, v)
		if err := checkCAFile(o.CAFile); err != nil {
			r.fail(envS3CAFile, v, "a readable PEM file with at least one CA certificate", err)
		} else if !o.Secure && o.Endpoint != "" {
			r.fail(envS3CAFile, v, "no CA file with a plain http endpoint (an http:// URL or BACKUP_S3_INSECURE=true): it would not be used", nil)
		}
	}

	o.Recipients = r.ageRecipients()
	if v, _, ok := r.get(envAgeIdentityFile); ok {
		o.IdentityFile = resolvePath(r.wd, v)
	}

	o.RetentionDays = r.integer(envOffsiteRetentionDays, 0, maxDays, "an integer from 0 to 36500 (0 = no age limit)")
	o.RetentionCount = r.integer(envOffsiteRetentionCount, 0, math.MaxInt, "an integer of 0 or more (0 = no minimum)")
	o.ObjectLockDays = r.integer(envS3ObjectLockDays, 0, maxDays, "an integer from 0 to 36500 (0 = no object lock)")
	return o
}

var boolWords = map[string]string{
	"true": "true", "yes": "true", "on": "true", "1": "true",
	"false": "false", "no": "false", "off": "false", "0": "false"}

// validBucket follows the S3 naming rules for new buckets.
func validBucket(b string) bool {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`).MatchString(b) &&
		!strings.Contains(b, "..") && net.ParseIP(b) == nil
}

// s3Endpoint parses BACKUP_S3_ENDPOINT: host[:port], or an http(s) URL with
// nothing after the host but an optional "/". A URL's scheme decides
// Secure; a bare host is https unless insecure.
func (r *resolver) s3Endpoint(insecure bool) (string, bool) {
	const accepted = "host[:port] or http(s)://host[:port], without a path, user, query or fragment"
	v := r.value(envS3Endpoint)
	raw, secure := v, !insecure
	if scheme, rest, ok := strings.Cut(v, "://"); ok {
		switch strings.ToLower(scheme) {
		case "https":
			if insecure {
				r.fail(envS3Endpoint, v, "an http:// URL or a bare host with BACKUP_S3_INSECURE=true; "+
					"an https:// URL with BACKUP_S3_INSECURE=true contradicts itself", nil)
				return "", false
			}
			secure = true
		case "http":
			secure = false
		default:
			r.fail(envS3Endpoint, v, accepted, fmt.Errorf("unknown scheme %q", scheme))
			return "", false
		}
		raw = rest
	}
	raw = strings.TrimSuffix(raw, "/")
	if strings.Contains(raw, "@") {
		// Keys in the URL would be printed back here and in logs.
		r.failHidden(envS3Endpoint, accepted, errors.New("credentials in the endpoint are not accepted; "+
			"set BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY"))
		return "", false
	}
	u, err := url.Parse("//" + raw)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		err = ue.Err // without url's "parse "//...":"
	case err != nil:
	case u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsAny(raw, "?#"):
		err = errors.New("not just a host and port")
	default:
		err = checkHostPort(u.Hostname(), u.Port(), strings.HasSuffix(u.Host, ":"))
	}
	if err != nil {
		r.fail(envS3Endpoint, v, accepted, err)
		return "", false
	}
	return u.Host, secure
}

func checkHostPort(host, port string, emptyPort bool) error {
	if emptyPort {
		return errors.New("empty port")
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`).MatchString(host) {
		return fmt.Errorf("%q is not a host name", host)
	}
	return nil
}

// s3Prefix cleans BACKUP_S3_PREFIX: no leading "/", one trailing "/".
func (r *resolver) s3Prefix() string {
	v, _, ok := r.get(envS3Prefix)
	if !ok {
		return ""
	}
	p := strings.TrimPrefix(v, "/")
	p = strings.TrimSuffix(p, "/")
	bad := ""
	switch {
	case p == "":
		return "" // "/" is the top level
	case !utf8.ValidString(p):
		bad = "not valid UTF-8"
	case len(p) > maxPrefix:
		bad = fmt.Sprintf("longer than %d bytes", maxPrefix)
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		bad = "a control character"
	default:
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				bad = `an empty, "." or ".." part ("//", "/./" or "/../")`
				break
			}
		}
	}
	if bad != "" {
		r.fail(envS3Prefix, v, "folder names separated by '/', without \"..\", \".\", \"//\" or control characters, up to 512 bytes",
			errors.New("it has "+bad))
		return ""
	}
	return p + "/"
}

// s3Key reads an S3 key setting or its _FILE form, by DB_PASSWORD's rules;
// paths are relative to the working folder, as for every BACKUP_ setting.
// The key is never shown in an error.
func (r *resolver) s3Key(name, fileName, what string) string {
	before := len(r.errs)
	k := r.secret(name, fileName, what, true, func(p string, _ origin) string { return resolvePath(r.wd, p) })
	if len(r.errs) > before {
		return ""
	}
	// Which setting gave the key: the file's path may be shown, the key not.
	setting, shown := name, ""
	if f, fileFrom, ok := r.get(fileName); ok {
		if _, vFrom, vOK := r.get(name); !vOK || fileFrom > vFrom {
			setting, shown = fileName, f
		}
	}
	switch {
	case k == "" && r.unset(name) && r.unset(fileName):
		r.fail(name, "", "with BACKUP_S3_BUCKET set, both BACKUP_S3_ACCESS_KEY_ID (or BACKUP_S3_ACCESS_KEY_ID_FILE) "+
			"and BACKUP_S3_SECRET_ACCESS_KEY (or BACKUP_S3_SECRET_ACCESS_KEY_FILE) are required", errors.New("not set"))
	case k == "":
		r.fail(setting, shown, what, errors.New("the file is empty"))
	case strings.IndexFunc(k, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0:
		r.fail(setting, shown, what+" without spaces, tabs or line breaks (a file may end in one newline)", nil)
	default:
		return k
	}
	return ""
}

// unset reports whether no source gives name a non-blank value.
func (r *resolver) unset(name string) bool {
	_, _, ok := r.get(name)
	return !ok
}

// ageRecipients reads BACKUP_AGE_RECIPIENTS (comma separated) or
// BACKUP_AGE_RECIPIENTS_FILE (age's recipients file format); the one from
// the higher-precedence source wins, both in one source is refused.
func (r *resolver) ageRecipients() []string {
	list, listFrom, listOK := r.get(envAgeRecipients)
	file, fileFrom, fileOK := r.get(envAgeRecipientsFile)
	switch {
	case fileOK && listOK && fileFrom == listFrom:
		r.fail(envAgeRecipientsFile, file, "either BACKUP_AGE_RECIPIENTS or BACKUP_AGE_RECIPIENTS_FILE, not both in the same place", nil)
		return nil
	case fileOK && (!listOK || fileFrom > listFrom):
		data, err := os.ReadFile(resolvePath(r.wd, file))
		if err != nil {
			r.fail(envAgeRecipientsFile, file, "a readable file of age public keys", err)
			return nil
		}
		var entries []string
		var lines []int
		for n, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				entries, lines = append(entries, l), append(lines, n+1)
			}
		}
		recs, err := parseRecipients(entries, func(i int) string { return "line " + strconv.Itoa(lines[i]) })
		if err != nil {
			r.fail(envAgeRecipientsFile, file, ageAccepted, err)
		}
		return recs
	case listOK:
		var entries []string
		for _, e := range strings.Split(list, ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
		recs, err := parseRecipients(entries, func(i int) string { return "entry " + strconv.Itoa(i+1) })
		if err != nil {
			var se *secretKeyError
			if errors.As(err, &se) {
				// Never echo a private key pasted here by mistake.
				r.failHidden(envAgeRecipients, ageAccepted, err)
			} else {
				r.fail(envAgeRecipients, list, ageAccepted, err)
			}
		}
		return recs
	}
	return nil
}

const ageAccepted = "age public keys (age1..., as age-keygen prints them), one per line in a file or comma separated"

// secretKeyError is an age private key where a public key belongs.
type secretKeyError struct{ where string }

func (e *secretKeyError) Error() string {
	return e.where + " is an age private key (AGE-SECRET-KEY-...), which does not belong on the backup host; " +
		"give its public key (age-keygen -y FILE prints it)"
}

// parseRecipients checks each entry with age and returns them; where names
// an entry's position for the error (never its text, which might be a
// private key pasted by mistake; age's own errors quote only age1 keys).
func parseRecipients(entries []string, where func(int) string) ([]string, error) {
	if len(entries) == 0 {
		return nil, errors.New("no age public key found")
	}
	for i, e := range entries {
		if strings.HasPrefix(strings.ToUpper(e), "AGE-SECRET-KEY-") {
			return nil, &secretKeyError{where: where(i)}
		}
		if strings.IndexFunc(e, unicode.IsSpace) >= 0 {
			return nil, fmt.Errorf("%s: a space or line break inside a key (separate keys with commas)", where(i))
		}
		if _, err := age.ParseRecipients(strings.NewReader(e)); err != nil {
			// age prefixes "error at line 1"; the position is ours.
			msg := strings.TrimPrefix(err.Error(), "error at line 1: ")
			return nil, fmt.Errorf("%s: %s", where(i), msg)
		}
	}
	return entries, nil
}

// checkCAFile makes sure the file holds at least one PEM certificate.
func checkCAFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return errors.New("no PEM certificate in it")
	}
	return nil
}
