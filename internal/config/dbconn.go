package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Directus's connection settings beyond host, port, database, user and
// password (issue 12).
const (
	envDBConnString     = "DB_CONNECTION_STRING"
	envDBConnStringFile = "DB_CONNECTION_STRING_FILE"
	envDBSearchPath     = "DB_SEARCH_PATH"
	envDBSSLReject      = "DB_SSL__REJECT_UNAUTHORIZED"
	envDBSSLCA          = "DB_SSL__CA"
	envDBSSLCAFile      = "DB_SSL__CA_FILE"
	envDBSSLCert        = "DB_SSL__CERT"
	envDBSSLCertFile    = "DB_SSL__CERT_FILE"
	envDBSSLKey         = "DB_SSL__KEY"
	envDBSSLKeyFile     = "DB_SSL__KEY_FILE"
)

// dbSSLSettings are the DB_SSL__* settings we map to libpq; any other
// name starting with DB_SSL is refused, since Directus would pass it to
// node-postgres and we cannot do the same.
var dbSSLSettings = []string{envDBSSLReject, envDBSSLCA, envDBSSLCAFile, envDBSSLCert, envDBSSLCertFile, envDBSSLKey, envDBSSLKeyFile}

// connSettings are overridden by DB_CONNECTION_STRING, as in Directus
// (its knex connection is the string alone when one is given).
var connSettings = append([]string{envDBHost, envDBPort, envDBDatabase, envDBUser, envDBPassword, envDBPasswordFile}, dbSSLSettings...)

// SystemCABundles are the system's trusted certificate bundles, the first
// found is libpq's root certificate when Directus would verify the server
// against Node's built-in authorities (no CA of its own given). A variable
// for tests.
var SystemCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",   // RHEL, Fedora
	"/etc/ssl/ca-bundle.pem",             // SUSE
	"/etc/ssl/cert.pem",                  // macOS, Alpine
}

// sslModes are libpq's sslmode values; no-verify is node-postgres's name
// for require.
var sslModes = map[string]string{"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
	"verify-ca": "verify-ca", "verify-full": "verify-full", "no-verify": "require"}

// dbConnection resolves the connection: DB_CONNECTION_STRING when set
// (the other connection settings are then ignored, as Directus does, and
// listed in db.Ignored; a flag for one of them is an error, since it was
// asked for explicitly), else DB_HOST ... and DB_SSL__*; DB_SEARCH_PATH in
// both cases.
func (r *resolver) dbConnection(db *DB, noDatabase bool) {
	db.Sources = map[string]string{}
	r.unknownSSL()
	cs := r.secret(envDBConnString, envDBConnStringFile, "the database connection string", true, r.directusPath)
	if cs != "" {
		db.ConnString = cs
		r.connString(db, cs)
		for _, name := range connSettings {
			if _, o, ok := r.get(name); ok {
				if o == fromFlag {
					r.fail(name, "", "no flag while "+envDBConnString+" is set ("+r.from(envDBConnString)+"): put the value into the connection string",
						nil)
					continue
				}
				db.Ignored = append(db.Ignored, name)
			}
		}
	} else {
		r.dbFields(db, noDatabase)
		r.dbSSL(db)
	}
	r.searchPath(db)
}

// dbFields reads DB_HOST, DB_PORT, DB_DATABASE, DB_USER and the password.
func (r *resolver) dbFields(db *DB, noDatabase bool) {
	db.Host = r.value(envDBHost)
	db.Port = r.value(envDBPort)
	if p, err := strconv.Atoi(db.Port); err != nil || p < 1 || p > 65535 {
		r.fail(envDBPort, db.Port, "a port number from 1 to 65535", nil)
	} else {
		db.Port = strconv.Itoa(p) // "+05432" would puzzle libpq
	}
	db.Database = r.value(envDBDatabase)
	if db.Database == "" && !noDatabase {
		r.fail(envDBDatabase, "", "the name of the Directus database (required), or "+envDBConnString, nil)
	}
	db.User = r.value(envDBUser)
	db.Password = r.password()
	for key, name := range map[string]string{"host": envDBHost, "port": envDBPort, "database": envDBDatabase, "user": envDBUser} {
		if from := r.from(name); from != "" {
			db.Sources[key] = name + " " + from
		}
	}
}

// connString parses DB_CONNECTION_STRING: a postgres:// or postgresql://
// URL, as node-postgres reads it, or libpq's key=value form. Errors never
// quote it: it holds the password.
func (r *resolver) connString(db *DB, cs string) {
	bad := func(detail string) {
		r.failHidden(envDBConnString, "a postgres:// or postgresql:// URL (postgres://user:password@host:5432/database?sslmode=require) or libpq's key=value form",
			errors.New(detail))
	}
	var kw map[string]string
	var err error
	if urlScheme.MatchString(cs) {
		kw, err = parseConnURL(cs)
	} else {
		kw, err = parseConnKeywords(cs)
	}
	if err != nil {
		bad(err.Error())
		return
	}
	var unknown []string
	for k := range kw {
		if !connKeywords[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		bad(fmt.Sprintf("parameter %s cannot be passed to pg_dump and psql (supported: %s)",
			strings.Join(unknown, ", "), strings.Join(connKeywordList(), ", ")))
		return
	}
	if strings.Contains(kw["host"], ",") {
		bad("several hosts are not supported (node-postgres, which Directus uses, connects to one)")
		return
	}
	db.Host, db.User, db.Password, db.Database = kw["host"], kw["user"], kw["password"], kw["dbname"]
	db.Port = cmp.Or(kw["port"], "5432")
	if p, err := strconv.Atoi(db.Port); err != nil || p < 1 || p > 65535 {
		bad(fmt.Sprintf("port %q is not a port number from 1 to 65535", db.Port))
	} else {
		db.Port = strconv.Itoa(p)
	}
	if db.Database == "" {
		bad("it names no database (postgres://host/DATABASE, or dbname=DATABASE)")
	}
	db.passwordRaw = kw[rawPasswordKey]
	db.Options, db.AppName, db.ConnectTimeout = kw["options"], kw["application_name"], kw["connect_timeout"]
	if ct := db.ConnectTimeout; ct != "" {
		if n, err := strconv.Atoi(ct); err != nil || n < 0 {
			bad(fmt.Sprintf("connect_timeout %q is not a number of seconds", ct))
		}
	}
	db.SSLRootCert, db.SSLCert, db.SSLKey = kw["sslrootcert"], kw["sslcert"], kw["sslkey"]
	if m, ok := kw["sslmode"]; ok {
		if db.SSLMode, ok = sslModes[m]; !ok {
			bad(fmt.Sprintf("sslmode %q is not one of disable, allow, prefer, require, verify-ca, verify-full (or no-verify)", m))
		}
		if strings.HasPrefix(db.SSLMode, "verify-") && db.SSLRootCert == "" {
			// Node verifies against its own list of authorities; libpq
			// would look for ~/.postgresql/root.crt, unless told.
			// Only the real environment reaches the clients.
			if r.vars.env == nil {
				db.SSLRootCert = firstSystemCABundle()
			} else if v, set := r.vars.env("PGSSLROOTCERT"); !set || v == "" {
				db.SSLRootCert = firstSystemCABundle()
			}
		}
	} else if s, ok := kw["ssl"]; ok {
		// node-postgres's ssl=true: TLS, the server verified.
		switch strings.ToLower(s) {
		case "true", "1":
			db.SSLMode = "verify-full"
			if db.SSLRootCert == "" {
				db.SSLRootCert = r.systemCABundle(envDBConnString)
			}
		case "false", "0":
			db.SSLMode = "disable"
		default:
			bad(fmt.Sprintf("ssl %q is not true, false, 1 or 0", s))
		}
	}
	src := envDBConnString
	_, vFrom, vOK := r.get(envDBConnString)
	if _, fFrom, fOK := r.get(envDBConnStringFile); fOK && (!vOK || fFrom > vFrom) {
		src = envDBConnStringFile
	}
	from := src + " " + r.from(src)
	for _, key := range []string{"host", "port", "database", "user", "sslmode"} {
		db.Sources[key] = from
	}
}

// urlScheme tells a URL from libpq's key=value form, whose values may
// hold "://" too.
var urlScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)

// rawPasswordKey carries the password as the URL spells it (percent
// encoded), which is a secret too.
const rawPasswordKey = "\x00rawpassword"

// connKeywords are the libpq keywords we pass on (as PG* variables).
var connKeywords = map[string]bool{"host": true, "port": true, "user": true, "password": true, "dbname": true,
	"sslmode": true, "ssl": true, "sslrootcert": true, "sslcert": true, "sslkey": true,
	"options": true, "application_name": true, "connect_timeout": true, rawPasswordKey: true}

func connKeywordList() []string {
	var out []string
	for k := range connKeywords {
		if k != rawPasswordKey {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// parseConnURL reads a postgres:// URL into libpq keywords; query
// parameters are keywords too (libpq's rule), and win over the URL's parts.
func parseConnURL(s string) (map[string]string, error) {
	s, socket := socketHost(s)
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would quote the whole string
		}
		return nil, fmt.Errorf("not a valid URL: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("scheme %q: only postgres:// and postgresql:// are supported", u.Scheme)
	}
	kw := map[string]string{}
	if u.User != nil {
		kw["user"] = u.User.Username()
		if p, ok := u.User.Password(); ok {
			kw["password"] = p
			if _, raw, ok := strings.Cut(u.User.String(), ":"); ok {
				kw[rawPasswordKey] = raw
			}
		}
	}
	if h := u.Hostname(); socket != "" {
		kw["host"] = socket
	} else if h != "" {
		kw["host"] = h
	}
	if p := u.Port(); p != "" {
		kw["port"] = p
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		kw["dbname"] = db
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("its parameters cannot be read: %v", err)
	}
	for k, v := range q {
		if k == rawPasswordKey {
			continue
		}
		kw[k] = v[len(v)-1]
	}
	return kw, nil
}

// socketHost takes a percent-encoded socket folder out of a URL's host
// (postgres://user@%2Frun%2Fpostgresql/db, as libpq and node-postgres
// accept it), which Go's URL parser refuses, and puts localhost in its
// place.
func socketHost(s string) (string, string) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	at := strings.LastIndex(auth, "@") + 1
	host := auth[at:]
	if !strings.HasPrefix(strings.ToLower(host), "%2f") {
		return s, ""
	}
	port := ""
	if i := strings.LastIndex(host, ":"); i >= 0 {
		host, port = host[:i], host[i:]
	}
	dir, err := url.PathUnescape(host)
	if err != nil {
		return s, ""
	}
	return scheme + "://" + auth[:at] + "localhost" + port + rest[end:], dir
}

// parseConnKeywords reads libpq's "host=a port=5432 dbname='my db'" form.
func parseConnKeywords(s string) (map[string]string, error) {
	kw := map[string]string{}
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return kw, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skip()
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, errors.New("not a URL, and not key=value pairs (a keyword without '=')")
		}
		i++
		skip()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("the value of %s has no closing quote", key)
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		if key == rawPasswordKey {
			continue
		}
		kw[key] = val.String()
	}
}

// dbSSL maps Directus's DB_SSL__* (node-postgres's ssl object) to libpq:
// REJECT_UNAUTHORIZED=false is sslmode=require without a root certificate
// (with one, libpq's require would verify the CA); anything else set means
// node-postgres verifies the server and its name, which is verify-full,
// against DB_SSL__CA or else the system's authorities as Node does.
func (r *resolver) dbSSL(db *DB) {
	src := ""
	for _, name := range dbSSLSettings {
		if _, _, ok := r.get(name); ok && src == "" {
			src = name + " " + r.from(name)
		}
	}
	if src == "" {
		return // no TLS settings: libpq's defaults, as node-postgres without ssl
	}
	reject := true
	if v, _, ok := r.get(envDBSSLReject); ok {
		// Only the words: Directus reads 0 and 1 as numbers, and Node
		// verifies unless the value is exactly false, so 0 would surprise.
		switch strings.ToLower(v) {
		case "true":
		case "false":
			reject = false
		default:
			r.fail(envDBSSLReject, v, "true (verify the server's certificate and name: sslmode verify-full) or false (encrypt without verifying: sslmode require)", nil)
		}
	}
	var pem [3]string
	var path [3]string
	for i, p := range [][2]string{{envDBSSLCA, envDBSSLCAFile}, {envDBSSLCert, envDBSSLCertFile}, {envDBSSLKey, envDBSSLKeyFile}} {
		pem[i], path[i] = r.pemOrFile(p[0], p[1])
	}
	db.SSLRootCertPEM, db.SSLCertPEM, db.SSLKeyPEM = pem[0], pem[1], pem[2]
	db.SSLRootCert, db.SSLCert, db.SSLKey = path[0], path[1], path[2]
	if (pem[1] != "" || path[1] != "") != (pem[2] != "" || path[2] != "") {
		r.fail(envDBSSLKey, "", "a client certificate and its key together ("+envDBSSLCert+" or "+envDBSSLCertFile+" with "+envDBSSLKey+" or "+envDBSSLKeyFile+")", nil)
	}
	if reject {
		db.SSLMode = "verify-full"
		if pem[0] == "" && path[0] == "" {
			db.SSLRootCert = r.systemCABundle(envDBSSLReject)
		} else if pem[0] != "" {
			src = envDBSSLCA + " " + r.from(envDBSSLCA)
		} else {
			src = envDBSSLCAFile + " " + r.from(envDBSSLCAFile)
		}
	} else {
		// With a root certificate, libpq's require would check the CA,
		// which node-postgres does not do with rejectUnauthorized false.
		db.SSLMode = "require"
		db.SSLRootCert, db.SSLRootCertPEM = "", ""
	}
	db.Sources["sslmode"] = src
}

// pemOrFile reads a Directus PEM setting: its content (checked to be PEM),
// or with the _FILE form a path (checked to be readable), which libpq
// then reads itself.
func (r *resolver) pemOrFile(name, fileName string) (pem, path string) {
	v, vFrom, vOK := r.raw(name)
	f, fFrom, fOK := r.get(fileName)
	vOK = vOK && !blank(v)
	switch {
	case vOK && fOK && vFrom == fFrom:
		r.fail(fileName, f, "either "+name+" or "+fileName+", not both in the same place", nil)
	case fOK && (!vOK || fFrom > vFrom):
		p := r.directusPath(f, fFrom)
		fh, err := os.Open(p)
		if err != nil {
			r.fail(fileName, f, "a readable PEM file", err)
			return "", ""
		}
		fh.Close()
		return "", p
	case vOK:
		v = strings.TrimSpace(strings.ReplaceAll(v, `\n`, "\n"))
		if !strings.HasPrefix(v, "-----BEGIN ") {
			r.failHidden(name, "PEM content (-----BEGIN ...); for the path of a PEM file use "+fileName, nil)
			return "", ""
		}
		return v + "\n", ""
	}
	return "", ""
}

// systemCABundle is the system's bundle of trusted authorities, for a
// verification Directus would make against Node's own list.
func (r *resolver) systemCABundle(setting string) string {
	if p := firstSystemCABundle(); p != "" {
		return p
	}
	r.fail(setting, "", "verifying the server needs its certificate authority: set "+envDBSSLCAFile+
		" (or sslrootcert= in "+envDBConnString+"); no system bundle found in "+strings.Join(SystemCABundles, ", "), nil)
	return ""
}

// firstSystemCABundle is the first of SystemCABundles that exists, or "".
func firstSystemCABundle() string {
	for _, p := range SystemCABundles {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// unknownSSL refuses DB_SSL settings we cannot map, in the sources we can
// list (the .env file, the flags and the real environment).
func (r *resolver) unknownSSL() {
	names := map[string]bool{}
	for k := range r.vars.file {
		names[k] = true
	}
	for k := range r.vars.flags {
		names[k] = true
	}
	for _, kv := range r.vars.environ {
		if k, _, ok := strings.Cut(kv, "="); ok {
			names[k] = true
		}
	}
	known := map[string]bool{}
	for _, n := range dbSSLSettings {
		known[n] = true
	}
	var bad []string
	for n := range names {
		if strings.HasPrefix(n, "DB_SSL") && !known[n] {
			if _, _, ok := r.get(n); ok {
				bad = append(bad, n)
			}
		}
	}
	sort.Strings(bad)
	for _, n := range bad {
		r.failHidden(n, "one of "+strings.Join(dbSSLSettings, ", ")+" (directus-backup maps those to libpq; this one it cannot)", nil)
	}
}

// searchPath reads DB_SEARCH_PATH (a comma-separated list of schemas, as
// Directus's knex searchPath) into a search_path for every psql and
// pg_dump session, each name double-quoted as knex quotes it.
func (r *resolver) searchPath(db *DB) {
	v, _, ok := r.get(envDBSearchPath)
	if !ok {
		return
	}
	var quoted []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.ContainsAny(s, " \t\"\\") {
			r.fail(envDBSearchPath, v, "comma-separated schema names without spaces, quotes or backslashes", nil)
			return
		}
		db.SearchPath = append(db.SearchPath, s)
		quoted = append(quoted, `"`+s+`"`)
	}
	if len(quoted) == 0 {
		return
	}
	opt := "-c search_path=" + strings.Join(quoted, ",")
	db.Options = strings.TrimSpace(db.Options + " " + opt)
}
