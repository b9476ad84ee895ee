package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config, tied to its key.
type Problem struct {
	Key  string // e.g. "route.routes[0].receiver"
	Line int    // 0 when unknown
	Msg  string

	// Cause is another key the problem follows from, if any: when that
	// key's value could not be read, the problem is not reported on its
	// own.
	Cause string
}

func (p Problem) String() string {
	if p.Key == "" {
		if p.Line > 0 {
			return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
		}
		return p.Msg
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", p.Key, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Key, p.Msg)
}

// Problems is every problem found in a config; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// addDep adds a problem of key that follows from the value of dep.
func (ps *Problems) addDep(dep, key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...), Cause: dep})
}

// MaxProblems is how many problems an error lists; the rest are counted.
const MaxProblems = 100

// capped keeps the first MaxProblems problems and counts the others.
func (ps Problems) capped() Problems {
	if len(ps) <= MaxProblems {
		return ps
	}
	out := append(Problems(nil), ps[:MaxProblems]...)
	return append(out, Problem{Msg: fmt.Sprintf("and %d more problems", len(ps)-MaxProblems)})
}

// has reports whether a problem of key is among ps.
func (ps Problems) has(key string) bool {
	for _, p := range ps {
		if p.Key == key {
			return true
		}
	}
	return false
}

// locate fills in line numbers from the parsed document.
func (ps Problems) locate(root *yaml.Node) {
	for i := range ps {
		if ps[i].Line == 0 {
			ps[i].Line = lineOf(root, ps[i].Key)
		}
	}
}

var keyPart = regexp.MustCompile(`^([a-z_]+)(\[(\d+)\])?$`)

// lineOf finds the line of a dotted key such as "receivers[1].open_ids",
// or of its nearest existing parent.
func lineOf(root *yaml.Node, key string) int {
	n := root
	if n == nil || n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return 0
	}
	n = n.Content[0]
	line := 0
	for _, part := range strings.Split(key, ".") {
		m := keyPart.FindStringSubmatch(part)
		if m == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var val *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == m[1] {
				line, val = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		if val == nil {
			return line
		}
		n = val
		if m[3] != "" {
			idx, _ := strconv.Atoi(m[3])
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// ParseMatcher parses one matcher in Alertmanager's syntax, accepting both
// the UTF-8 syntax of current Alertmanager and the classic one of older
// configs, exactly as Alertmanager's own fallback parser does.
func ParseMatcher(s string) (*labels.Matcher, error) {
	return matcherParser(s, "config")
}

var matcherParser = compat.FallbackMatcherParser(slog.New(slog.DiscardHandler))

func (c *Config) validate() Problems {
	var ps Problems
	ps = append(ps, c.checkTop()...)
	ps = append(ps, c.checkMind()...)
	ps = append(ps, c.checkSources()...)
	ps = append(ps, c.checkReceivers()...)
	ps = append(ps, c.checkRoute()...)
	ps = append(ps, c.checkAck()...)
	ps = append(ps, c.checkDelivery()...)
	ps = append(ps, c.checkStore()...)
	ps = append(ps, c.checkEscalations()...)
	ps = append(ps, c.checkAckTimers()...)
	ps = append(ps, c.checkMentions()...)
	return ps
}

func (c *Config) checkTop() Problems {
	var ps Problems
	if err := checkListen(c.Listen); err != nil {
		ps.add("listen", "%v", err)
	}
	if c.ExternalURL != "" {
		if err := checkHTTPURL(c.ExternalURL); err != nil {
			ps.add("external_url", "%v", err)
		}
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		ps.add("timezone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", c.Timezone)
	} else {
		c.Location = loc
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		ps.add("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Templates.MaxAlerts < 1 {
		ps.add("templates.max_alerts", "must be at least 1")
	}
	return ps
}

// checkListen refuses a listen address that serve could not bind, so
// check-config passing means serve starts: "9095" (no colon) is the
// common slip.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. \":9095\" for every interface, \"127.0.0.1:9095\")", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has no valid port (0-65535)", addr)
	}
	return nil
}

// checkCredentials requires the Mind app that a relay sending to Mind
// signs in as. Only a dry run, which sends nothing, goes without.
// known holds the problems found so far, so that a secret file that could
// not be read is not reported twice.
func (c *Config) checkCredentials(known Problems) Problems {
	var ps Problems
	if strings.TrimSpace(c.Mind.AppID) == "" {
		ps.add("mind.app_id", "is required: the app id of your Mind robot (only --dry-run, which sends nothing, runs without it)")
	}
	switch {
	case c.Mind.AppSecret != "":
	case c.Mind.AppSecretFile != "":
		// An unreadable file is reported by readSecretFiles; a readable
		// one that holds nothing is reported here.
		if !known.has("mind.app_secret_file") && !known.has("mind.app_secret") {
			ps.add("mind.app_secret_file", "the file is empty: it must hold the app secret of your Mind robot")
		}
	default:
		ps.add("mind.app_secret", "is required: the app secret of your Mind robot, in app_secret or app_secret_file (only --dry-run, which sends nothing, runs without it)")
	}
	return ps
}

func (c *Config) checkMind() Problems {
	var ps Problems
	if err := checkHTTPURL(c.Mind.BaseURL); err != nil {
		ps.add("mind.base_url", "%v", err)
	}
	if c.Mind.Timeout <= 0 {
		ps.add("mind.timeout", "must be positive")
	}
	return ps
}

func (c *Config) checkSources() Problems {
	var ps Problems
	if c.Sources.MaxInFlight < 1 {
		ps.add("sources.max_in_flight", "must be at least 1")
	}
	for name, s := range map[string]*SourceConfig{"alertmanager": &c.Sources.Alertmanager, "grafana": &c.Sources.Grafana} {
		p := "sources." + name
		if s.BasicAuth != nil {
			if s.BasicAuth.Username == "" {
				ps.add(p+".basic_auth.username", "is required with basic_auth")
			}
			if s.BasicAuth.Password == "" {
				ps.add(p+".basic_auth.password", "is required with basic_auth (an unset ${VAR} expands to empty)")
			}
		}
		if s.MaxBodyBytes < 1024 {
			ps.add(p+".max_body_bytes", "must be at least 1024")
		}
		if s.MaxAlerts < 1 {
			ps.add(p+".max_alerts", "must be at least 1")
		}
		if strings.ContainsAny(s.AuthScheme, " \t") {
			ps.add(p+".auth_scheme", "must be one word, such as Bearer")
		}
		if s.HMAC != nil {
			if name != "grafana" {
				ps.add(p+".hmac", "only Grafana signs its webhooks; use bearer_token or basic_auth")
			}
			if s.HMAC.Secret == "" {
				ps.add(p+".hmac.secret", "is required with hmac (an unset ${VAR} expands to empty)")
			}
			if s.HMAC.MaxSkew <= 0 {
				ps.add(p+".hmac.max_skew", "must be positive")
			}
		}
	}
	return ps
}

func (c *Config) checkReceivers() Problems {
	var ps Problems
	if len(c.Receivers) == 0 {
		ps.add("receivers", "at least one receiver is required")
	}
	seen := map[string]bool{}
	for i, r := range c.Receivers {
		p := fmt.Sprintf("receivers[%d]", i)
		if r == nil {
			ps.add(p, "is empty")
			continue
		}
		switch {
		case r.Name == "":
			ps.add(p+".name", "is required")
		case seen[r.Name]:
			ps.add(p+".name", "receiver %q is defined twice", r.Name)
		}
		seen[r.Name] = true
		switch {
		case r.AllSubscribers && len(r.OpenIDs) > 0:
			ps.add(p+".open_ids", "set open_ids or all_subscribers, not both")
		case !r.AllSubscribers && len(r.OpenIDs) == 0 && r.Schedule == "":
			ps.addDep(p+".all_subscribers", p+".open_ids", "is empty: list Mind open_ids, or set all_subscribers: true")
		}
		for j, id := range r.OpenIDs {
			if strings.TrimSpace(id) == "" || strings.TrimSpace(id) != id {
				ps.add(fmt.Sprintf("%s.open_ids[%d]", p, j), "%q is not an open_id", id)
			}
		}
		if r.MaxAlerts < 1 {
			ps.add(p+".max_alerts", "must be at least 1")
		}
	}
	return ps
}

// ReceiverByName returns the named receiver, or nil.
func (c *Config) ReceiverByName(name string) *Receiver {
	for _, r := range c.Receivers {
		if r != nil && r.Name == name {
			return r
		}
	}
	return nil
}

func (c *Config) checkRoute() Problems {
	var ps Problems
	if c.Route == nil {
		ps.add("route", "is required: at least a root route with a receiver")
		return ps
	}
	if c.Route.Receiver == "" {
		ps.add("route.receiver", "is required on the root route: it catches what no sub-route matches")
	}
	if c.Route.Continue {
		ps.add("route.continue", "cannot be set on the root route")
	}
	if len(c.Route.Matchers) > 0 {
		ps.add("route.matchers", "cannot be set on the root route: it must match every alert")
	}
	c.walkRoute(c.Route, "route", &ps)
	return ps
}

func (c *Config) walkRoute(r *Route, key string, ps *Problems) {
	if r == nil {
		ps.add(key, "is empty")
		return
	}
	if r.Receiver != "" && c.ReceiverByName(r.Receiver) == nil {
		ps.addDep("receivers", key+".receiver", "receiver %q is not defined in receivers", r.Receiver)
	}
	for i, m := range r.Matchers {
		if _, err := ParseMatcher(m); err != nil {
			ps.add(fmt.Sprintf("%s.matchers[%d]", key, i), "bad matcher %q: %v", m, err)
		}
	}
	for i, sub := range r.Routes {
		c.walkRoute(sub, fmt.Sprintf("%s.routes[%d]", key, i), ps)
	}
}

// MinPollInterval bounds ack.poll_interval from below: every poll asks the
// source about each acknowledged group.
const MinPollInterval = 100 * time.Millisecond

func (c *Config) checkAck() Problems {
	var ps Problems
	if c.Ack.Secret != "" && len(c.Ack.Secret) < 16 {
		ps.add("ack.secret", "is too short: use at least 16 random characters")
	}
	if c.Ack.TokenTTL <= 0 {
		ps.add("ack.token_ttl", "must be positive")
	}
	if c.Ack.PollInterval < Duration(MinPollInterval) {
		ps.add("ack.poll_interval", "must be at least %s", Duration(MinPollInterval))
	}
	if s := c.Ack.Silence; s != nil {
		if c.Ack.Secret == "" {
			ps.add("ack.silence", "needs ack.secret: without it cards carry no ack button")
		}
		if s.Duration <= 0 {
			ps.add("ack.silence.duration", "must be positive")
		}
		if s.AlertmanagerURL != "" {
			if err := checkHTTPURL(s.AlertmanagerURL); err != nil {
				ps.add("ack.silence.alertmanager_url", "%v", err)
			}
		}
		if s.GrafanaURL != "" {
			if err := checkHTTPURL(s.GrafanaURL); err != nil {
				ps.add("ack.silence.grafana_url", "%v", err)
			}
		}
		for i, a := range s.AllowedURLs {
			if u, err := url.Parse(a); err != nil || checkHTTPURL(a) != nil || u.User != nil || strings.ContainsAny(a, "?#") {
				ps.add(fmt.Sprintf("ack.silence.allowed_urls[%d]", i), "%q is not an absolute http(s) URL prefix without user info, query or fragment", redactUserinfo(a))
			}
		}
		if s.BasicAuth != nil && s.BearerToken != "" {
			ps.add("ack.silence", "basic_auth and bearer_token are mutually exclusive")
		}
	}
	return ps
}

func (s SourceConfig) authenticated() bool {
	return s.BearerToken != "" || s.BasicAuth != nil || s.HMAC != nil
}

// redactUserinfo hides the user info of a URL for messages.
func redactUserinfo(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = url.User("xxxxx")
		return u.String()
	}
	if strings.Contains(raw, "@") {
		return "<URL with user info>"
	}
	return raw
}

func (c *Config) checkDelivery() Problems {
	var ps Problems
	d := c.Delivery
	if d.Workers < 1 || d.Workers > 256 {
		ps.add("delivery.workers", "must be between 1 and 256")
	}
	if d.RateLimit <= 0 {
		ps.add("delivery.rate_limit", "must be positive (requests per second)")
	}
	if d.Burst < 1 {
		ps.add("delivery.burst", "must be at least 1")
	}
	if d.MinBackoff <= 0 {
		ps.add("delivery.min_backoff", "must be positive")
	}
	if d.MaxBackoff < d.MinBackoff {
		ps.add("delivery.max_backoff", "must be at least delivery.min_backoff (%s)", d.MinBackoff)
	}
	if d.MaxAge <= 0 {
		ps.add("delivery.max_age", "must be positive")
	}
	if !model.LabelName(d.Priority.Label).IsValidLegacy() {
		ps.add("delivery.priority.label", "must be a label name")
	}
	seen := map[string]bool{}
	for i, v := range d.Priority.Order {
		switch k := strings.ToLower(v); {
		case k == "":
			ps.add(fmt.Sprintf("delivery.priority.order[%d]", i), "must not be empty")
		case seen[k]:
			ps.add(fmt.Sprintf("delivery.priority.order[%d]", i), "repeats %q", v)
		default:
			seen[k] = true
		}
	}
	if d.Digest.Threshold() < 0 {
		ps.add("delivery.digest.after", "must not be negative (0 turns digests off)")
	}
	if d.Digest.MaxGroups < 1 {
		ps.add("delivery.digest.max_groups", "must be at least 1")
	}
	if d.Digest.Urgent != "" && d.Priority.Rank(d.Digest.Urgent) == len(d.Priority.Order) {
		ps.add("delivery.digest.urgent", "%q is not in delivery.priority.order", d.Digest.Urgent)
	}
	if d.Dedupe() < 0 {
		ps.add("delivery.dedupe_window", "must not be negative (0 turns it off)")
	}
	return ps
}

func (c *Config) checkStore() Problems {
	var ps Problems
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			ps.add("store.path", "is required with the sqlite driver")
		}
		if c.Store.DSN != "" {
			ps.add("store.dsn", "is for the postgres driver; sqlite takes store.path")
		}
	case "postgres":
		// Kept in the config's vocabulary (interface.md names it), refused
		// until the store exists, so that check-config and serve agree.
		ps.add("store.driver", `"postgres" is not available yet: this release stores in SQLite (one replica); the PostgreSQL store for several replicas comes in a later release`)
	default:
		ps.add("store.driver", "%q is not sqlite or postgres", c.Store.Driver)
	}
	return ps
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the URL whole, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q is not a URL: %v", redactURL(s), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", redactURL(s))
	}
	return nil
}

// redactURL hides the user info of a URL, parsable or not: a password in
// a URL is a secret too.
func redactURL(s string) string {
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return scheme + "xxxxx@" + rest[at+1:]
	}
	return s
}

// Warnings lists what is legal but probably not meant, such as cards
// without ack buttons.
func (c *Config) Warnings() []string {
	var w []string
	if c.Ack.Secret == "" {
		w = append(w, "ack.secret is empty: cards carry no ack button")
	}
	if c.Ack.Secret != "" && c.Mind.CallbackToken == "" {
		w = append(w, "mind.callback_token is empty: card clicks still work (their tokens are signed), chat commands are refused")
	}
	if s := c.Ack.Silence; s != nil && (!c.Sources.Alertmanager.authenticated() || !c.Sources.Grafana.authenticated()) {
		w = append(w, "ack.silence is on while webhooks need no auth (sources.*): anyone who can post a webhook can put alerts on cards and have them silenced")
	}
	if s := c.Ack.Silence; s != nil && (s.BasicAuth != nil || s.BearerToken != "") && s.AlertmanagerURL == "" {
		w = append(w, "ack.silence.basic_auth/bearer_token are set without alertmanager_url: they are never sent to a URL taken from a payload")
	}
	if s := c.Ack.Silence; s != nil && s.GrafanaToken != "" && s.GrafanaURL == "" {
		w = append(w, "ack.silence.grafana_token is set without grafana_url: it is never sent to a URL taken from a payload, so Grafana silences go without it")
	}
	if c.Admin.Token == "" {
		w = append(w, "admin.token is empty: the admin API (/api/v1/*), POST /-/reload and the template preview (/ui/) are disabled")
	}
	if c.ExternalURL == "" {
		w = append(w, "external_url is empty: cards carry no ack link for clients without callbacks")
	}
	w = append(w, c.scheduleWarnings(time.Now())...)
	w = append(w, c.escalationWarnings()...)
	return w
}

// String renders the config as YAML with every secret hidden.
func (c *Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}
