package config

import (
	"net/url"
	"strings"
)

// pingURL reads BACKUP_PING_URL: an http(s) URL with a host. A bad value is
// reported without itself, since its path is a token.
func (r *resolver) pingURL() string {
	v, _, ok := r.get(envPingURL)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		r.failHidden(envPingURL, "an http:// or https:// URL such as https://hc-ping.com/<uuid>", nil)
		return ""
	}
	return strings.TrimRight(v, "/")
}

// pingSecret is the part of a ping URL that logs must not show: the path and
// query, which hold the check's token (hc-ping.com/<uuid>). Hosts are not
// secret. "" when there is none, so nothing common like "/" is redacted.
func pingSecret(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	s := strings.Trim(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	if len(s) < 4 {
		return ""
	}
	return s
}
