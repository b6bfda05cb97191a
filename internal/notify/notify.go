// Package notify sends a run's outcome to the operator through notification
// URLs in the shoutrrr convention (smtp://, slack://, discord://,
// telegram://, ntfy://, generic+https://...), using the maintained shoutrrr
// fork. It never prints and never decides a run's result: callers get one
// Result per URL and turn failures into warnings.
//
// The URLs hold credentials (SMTP passwords, bot tokens, webhook paths), so
// every text this package returns names a URL only by Label, and Secrets
// lists the parts that logs must not show.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/email/smtp"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/directus-backup/directus-backup/internal/redact"
)

// Timeout bounds one URL's delivery (and doctor's connection probe); URLs
// are sent to in parallel, so a run waits at most about this long.
const Timeout = 15 * time.Second

// sendTimeout is Timeout, shortened by tests.
var sendTimeout = Timeout

// Schemes is what an invalid URL's error says is accepted.
const Schemes = "a shoutrrr notification URL such as smtp://user:pass@host:587/?from=a@b&to=c@d, " +
	"ntfy://ntfy.sh/topic, slack://..., discord://..., telegram://..., generic+https://host/path"

// Message is one notification: Title is the mail subject or the chat
// message's title, Body the text.
type Message struct {
	Title string
	Body  string
}

// Result is the outcome of one URL.
type Result struct {
	Label string // the URL without its secrets
	Err   error  // nil when delivered; its text is redacted
}

// Check parses raw and sets its service up without sending anything: the
// check made when the settings are loaded. The error never quotes raw.
func Check(raw string) error {
	_, err := locate(raw)
	return err
}

func locate(raw string) (types.Service, error) {
	var r router.ServiceRouter
	s, err := r.Locate(raw)
	if err != nil {
		err = initDetail(&r, raw, err)
		return nil, errors.New(redact.String(err.Error(), Secrets(raw)...))
	}
	return s, nil
}

// initDetail adds the service's own reason to the router's bare "failed to
// initialize service" (a missing from= or to= of smtp://, say).
func initDetail(r *router.ServiceRouter, raw string, err error) error {
	if !errors.Is(err, router.ErrInitializeFailed) {
		return err
	}
	u, perr := url.Parse(raw)
	if perr != nil || strings.Contains(u.Scheme, "+") {
		return err
	}
	s, serr := r.NewService(u.Scheme)
	if serr != nil {
		return err
	}
	if ierr := s.Initialize(u, nil); ierr != nil {
		return fmt.Errorf("%w: %w", err, ierr)
	}
	return err
}

// Label names a URL in logs and output: its scheme and, when it is a
// server's name rather than a token, its host.
func Label(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(unparsable URL)"
	}
	if h := u.Host; h != "" && !secretHost(u.Hostname()) {
		return u.Scheme + "://" + h
	}
	return u.Scheme
}

// secretHost: slack://token-a/..., discord://token@id and the like put a
// token or an id where a host name would be; a name with a dot, localhost
// or an IP address is a server.
func secretHost(h string) bool {
	return !strings.Contains(h, ".") && h != "localhost" && net.ParseIP(h) == nil
}

// Secrets returns the parts of raw that logs must not show: the whole URL,
// the user and password, the path and query (tokens, webhook ids), and the
// host when it is a token.
func Secrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	// min keeps short common words ("user", "hook") from being redacted
	// everywhere in a log; a token is longer.
	add := func(s string, min int) {
		if len(s) >= min {
			out = append(out, s)
		}
	}
	if u.User != nil {
		add(u.User.String(), 4)
		add(u.User.Username(), 8) // a token for discord://, a name for smtp://
		if p, ok := u.User.Password(); ok {
			add(p, 4)
			add(url.QueryEscape(p), 4)
		}
	}
	if secretHost(u.Hostname()) {
		add(u.Hostname(), 8)
	}
	add(strings.Trim(u.EscapedPath(), "/"), 4)
	add(strings.Trim(u.Path, "/"), 4)
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		add(seg, 8)
	}
	for k, vs := range u.Query() {
		if redact.IsSecretName(k) && !strings.EqualFold(k, "auth") { // smtp's auth=Plain is a method
			for _, v := range vs {
				add(v, 4)
			}
		}
	}
	return out
}

// titled lists the services that take a title parameter (the mail subject
// for smtp); the others get the title as the body's first line only.
var titled = map[string]bool{
	"smtp": true, "generic": true, "ntfy": true, "slack": true, "discord": true, "telegram": true,
	"teams": true, "matrix": true, "mattermost": true, "pushover": true, "gotify": true, "pushbullet": true,
	"bark": true, "join": true, "ifttt": true, "opsgenie": true, "lark": true, "notifiarr": true,
}

// Send delivers msg to every URL in parallel, each within Timeout (and
// ctx), and returns one Result per URL in the order given. Nothing is
// retried: a notification is best effort.
func Send(ctx context.Context, urls []string, msg Message) []Result {
	out := make([]Result, len(urls))
	var wg sync.WaitGroup
	for i, raw := range urls {
		out[i].Label = Label(raw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].Err = sendOne(ctx, raw, msg)
		}()
	}
	wg.Wait()
	return out
}

func sendOne(ctx context.Context, raw string, msg Message) error {
	s, err := locate(raw)
	if err != nil {
		return err
	}
	params := types.Params{}
	body := msg.Body
	if titled[scheme(raw)] {
		params["title"] = msg.Title
	}
	// A plain generic webhook (no template=) posts the body alone.
	if !titled[scheme(raw)] || scheme(raw) == "generic" && !strings.Contains(raw, "template=") {
		body = msg.Title + "\n\n" + body
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	// The services take no context: a send that outlives the deadline is
	// left to finish or fail in its goroutine, its result dropped.
	done := make(chan error, 1)
	go func() { done <- s.Send(body, &params) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %s", sendTimeout)
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = ctx.Err()
		}
	}
	if err != nil {
		return errors.New(redact.String(err.Error(), Secrets(raw)...))
	}
	return nil
}

// scheme is the service part of raw's scheme: "generic" for generic+https.
func scheme(raw string) string {
	s, _, _ := strings.Cut(raw, "://")
	s, _, _ = strings.Cut(s, "+")
	return strings.ToLower(s)
}

// apiHosts are the servers of the services whose URL holds only tokens.
var apiHosts = map[string]string{
	"slack":      "hooks.slack.com:443",
	"discord":    "discord.com:443",
	"telegram":   "api.telegram.org:443",
	"pushover":   "api.pushover.net:443",
	"pushbullet": "api.pushbullet.com:443",
	"teams":      "outlook.office.com:443",
	"googlechat": "chat.googleapis.com:443",
	"hangouts":   "chat.googleapis.com:443",
	"ifttt":      "maker.ifttt.com:443",
	"opsgenie":   "api.opsgenie.com:443",
	"pagerduty":  "events.pagerduty.com:443",
}

// Endpoint returns the host:port a URL's messages go to, without secrets.
func Endpoint(raw string) (string, error) {
	s, err := locate(raw)
	if err != nil {
		return "", err
	}
	switch svc := s.(type) {
	case *smtp.Service:
		return net.JoinHostPort(svc.Config.Host, strconv.Itoa(int(svc.Config.Port))), nil
	case *generic.Service:
		return hostPort(svc.Config.WebhookURL()), nil
	}
	if hp, ok := apiHosts[scheme(raw)]; ok {
		return hp, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || secretHost(u.Hostname()) {
		return "", errors.New("the server is not named in the URL")
	}
	return hostPort(&url.URL{Scheme: "https", Host: u.Host}), nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Reachable resolves raw's server and opens a TCP connection to it, without
// sending anything: doctor's check. It returns the host:port it tried.
func Reachable(ctx context.Context, raw string) (string, error) {
	hp, err := Endpoint(raw)
	if err != nil {
		return "", err
	}
	d := net.Dialer{Timeout: Timeout}
	c, err := d.DialContext(ctx, "tcp", hp)
	if err != nil {
		return hp, errors.New(redact.String(err.Error(), Secrets(raw)...))
	}
	return hp, c.Close()
}
