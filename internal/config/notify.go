package config

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/directus-backup/directus-backup/internal/notify"
)

const (
	envNotifyURLs     = "BACKUP_NOTIFY_URLS"
	envNotifyURLsFile = "BACKUP_NOTIFY_URLS_FILE"
	envNotifyOn       = "BACKUP_NOTIFY_ON"
)

// BACKUP_NOTIFY_ON values.
const (
	NotifyOnFailure = "failure"
	NotifyOnAlways  = "always"
)

// notifyURLs reads BACKUP_NOTIFY_URLS (or its _FILE form, by DB_PASSWORD's
// rules) and checks that the notification library can set every URL up.
// The URLs hold passwords and tokens: an error names the URL by its place
// in the list and its scheme, never by its text.
func (r *resolver) notifyURLs() []string {
	before := len(r.errs)
	v := r.secret(envNotifyURLs, envNotifyURLsFile, "notification URLs", true,
		func(p string, _ origin) string { return resolvePath(r.wd, p) })
	if len(r.errs) > before {
		return nil
	}
	setting := envNotifyURLs
	if _, _, ok := r.get(envNotifyURLsFile); ok {
		if _, vFrom, vOK := r.get(envNotifyURLs); !vOK || r.originOf(envNotifyURLsFile) > vFrom {
			setting = envNotifyURLsFile
		}
	}
	urls := splitNotifyURLs(v)
	for i, u := range urls {
		if err := notify.Check(u); err != nil {
			r.failHidden(setting, notify.Schemes, fmt.Errorf("URL %d of %d (%s): %w", i+1, len(urls), notify.Label(u), err))
		}
	}
	return urls
}

func (r *resolver) originOf(name string) origin {
	_, o, _ := r.get(name)
	return o
}

// splitNotifyURLs splits a BACKUP_NOTIFY_URLS value: URLs separated by
// spaces or line breaks, or by a comma right before the next URL's scheme
// (a comma inside a URL, as in smtp's to=a@x,b@y, stays in it).
func splitNotifyURLs(v string) []string {
	var out []string
	for _, field := range strings.Fields(v) {
		start := 0
		for i := 0; i < len(field); i++ {
			if field[i] == ',' && startsURL(field[i+1:]) {
				out = appendNonEmpty(out, field[start:i])
				start = i + 1
			}
		}
		out = appendNonEmpty(out, field[start:])
	}
	return out
}

func appendNonEmpty(list []string, s string) []string {
	if s = strings.Trim(s, ","); s != "" {
		list = append(list, s)
	}
	return list
}

// startsURL reports whether s begins with a scheme and "://".
func startsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return false
	}
	for _, c := range scheme {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return unicode.IsLetter(rune(scheme[0]))
}
