// Package config loads, checks and describes the relay's YAML configuration.
//
// Loading is two steps, as in Alertmanager: decoding sets defaults and shape
// (unknown keys fail, ${VAR} expands, *_file secrets are read), then Validate
// checks meaning and names the key of every problem.
package config

import (
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/schedule"
)

// Secret is a string that never prints: fmt, slog, JSON and YAML all show
// "<secret>". Use Value for the real thing.
type Secret string

const hidden = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return hidden
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the secret from encoders (JSON, slog's JSON handler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML hides the secret from YAML.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration that reads Prometheus-style strings ("30s",
// "5m", "2h", "1d").
type Duration time.Duration

// D returns the standard library duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole configuration file.
type Config struct {
	Listen      string          `yaml:"listen"`
	ExternalURL string          `yaml:"external_url"`
	Timezone    string          `yaml:"timezone"`
	LogLevel    string          `yaml:"log_level"`
	Mind        MindConfig      `yaml:"mind"`
	Sources     SourcesConfig   `yaml:"sources"`
	Route       *Route          `yaml:"route"`
	Receivers   []*Receiver     `yaml:"receivers"`
	Templates   TemplatesConfig `yaml:"templates"`
	Ack         AckConfig       `yaml:"ack"`
	Delivery    DeliveryConfig  `yaml:"delivery"`
	Admin       AdminConfig     `yaml:"admin"`
	Store       StoreConfig     `yaml:"store"`
	Schedules   []*Schedule     `yaml:"schedules"`
	Escalations []*Escalation   `yaml:"escalations"`
	Mentions    MentionsConfig  `yaml:"mentions"`

	// OnCall is the schedules built; set by Load.
	OnCall *schedule.Set `yaml:"-"`
	// Location is Timezone loaded; set by Load.
	Location *time.Location `yaml:"-"`
	// Path is the file the config was read from; set by LoadFile.
	Path string `yaml:"-"`
}

// MindConfig is the Mind open-platform app the relay sends as.
type MindConfig struct {
	BaseURL       string   `yaml:"base_url"`
	AppID         string   `yaml:"app_id"`
	AppSecret     Secret   `yaml:"app_secret"`
	AppSecretFile string   `yaml:"app_secret_file"`
	Timeout       Duration `yaml:"timeout"` // one request
	// CallbackToken, when set, must be presented by Mind's event callbacks
	// to POST /mind/callback (see the README's callback section).
	CallbackToken     Secret `yaml:"callback_token"`
	CallbackTokenFile string `yaml:"callback_token_file"`
}

// SourcesConfig holds the inbound webhook settings of each sender.
type SourcesConfig struct {
	Alertmanager SourceConfig `yaml:"alertmanager"`
	Grafana      SourceConfig `yaml:"grafana"`
	// MaxInFlight caps the webhooks processed at once, both sources
	// together; one more is answered 503 with Retry-After.
	MaxInFlight int `yaml:"max_in_flight"`
}

// SourceConfig is how one sender authenticates and how much it may send.
type SourceConfig struct {
	BearerToken     Secret `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// AuthScheme is the Authorization scheme that goes with BearerToken
	// (default "Bearer"); Grafana lets users pick any.
	AuthScheme   string      `yaml:"auth_scheme"`
	BasicAuth    *BasicAuth  `yaml:"basic_auth"`
	HMAC         *HMACConfig `yaml:"hmac"`
	MaxBodyBytes int64       `yaml:"max_body_bytes"`
	// MaxAlerts caps the alerts kept of one webhook, the first ones; the
	// rest are counted in the group's truncatedAlerts.
	MaxAlerts int `yaml:"max_alerts"`
}

// BasicAuth is a username and password.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// HMACConfig verifies Grafana's webhook signature.
type HMACConfig struct {
	Secret          Secret   `yaml:"secret"`
	SecretFile      string   `yaml:"secret_file"`
	Header          string   `yaml:"header"`
	TimestampHeader string   `yaml:"timestamp_header"`
	MaxSkew         Duration `yaml:"max_skew"`
}

// Route is a node of the Alertmanager-style routing tree.
type Route struct {
	Receiver string   `yaml:"receiver"`
	Matchers []string `yaml:"matchers"`
	Continue bool     `yaml:"continue"`
	Routes   []*Route `yaml:"routes"`
}

// Receiver is a set of Mind users a notification goes to.
type Receiver struct {
	Name           string   `yaml:"name"`
	OpenIDs        []string `yaml:"open_ids"`
	AllSubscribers bool     `yaml:"all_subscribers"`
	// Schedule names a schedule: the card also goes to whoever is on call
	// on it when it is sent (Config.Recipients).
	Schedule string `yaml:"schedule"`
	// Escalation names an escalation policy: while an incident of this
	// receiver fires unacknowledged, its steps page more receivers.
	Escalation string `yaml:"escalation"`
	// Template names a template set under templates.files (default "default").
	Template string `yaml:"template"`
	// MaxAlerts caps the alerts listed on one card (default templates.max_alerts).
	MaxAlerts int `yaml:"max_alerts"`
}

// TemplatesConfig points at user template files that override or add to the
// embedded defaults.
type TemplatesConfig struct {
	// Files are globs of template files, parsed after the defaults so that
	// a {{ define "mind.title" }} in them replaces the default.
	Files     []string `yaml:"files"`
	MaxAlerts int      `yaml:"max_alerts"`
}

// AckConfig configures acknowledgement tokens and the ack loop.
type AckConfig struct {
	Secret     Secret         `yaml:"secret"`
	SecretFile string         `yaml:"secret_file"`
	TokenTTL   Duration       `yaml:"token_ttl"`
	Silence    *SilenceConfig `yaml:"silence"`
	// PollInterval is how often the ack loop looks after acknowledged
	// groups: it asks the source whether silenced alerts still fire,
	// extends or expires their silences and sends the resolved card that
	// the silence kept the source from sending.
	PollInterval Duration `yaml:"poll_interval"`
	// RemindAfter, when set, reminds whoever acknowledged an incident
	// that it still fires, this long after the ack (once per ack).
	RemindAfter Duration `yaml:"remind_after"`
	// Timeout, when set, withdraws an ack the incident outlives while it
	// still fires: it pages again as unacknowledged (and escalates anew).
	Timeout Duration `yaml:"timeout"`
}

// MentionsConfig makes cards mention people (Mind's <at user_id> syntax).
type MentionsConfig struct {
	// Label is an alert label whose value names an owner to mention (a
	// key of Users, or an open_id).
	Label string `yaml:"label"`
	// Users maps names to Mind open_ids.
	Users map[string]string `yaml:"users"`
}

// Enabled reports whether cards carry ack buttons.
func (a AckConfig) Enabled() bool { return a.Secret != "" }

// SilenceConfig makes an ack also silence the alerts at their source.
type SilenceConfig struct {
	Duration         Duration `yaml:"duration"`
	AlertmanagerURL  string   `yaml:"alertmanager_url"`
	GrafanaURL       string   `yaml:"grafana_url"`
	GrafanaToken     Secret   `yaml:"grafana_token"`
	GrafanaTokenFile string   `yaml:"grafana_token_file"`
	// AllowedURLs are the URL prefixes (scheme, host, path) a payload's
	// externalURL may match to be silenced at when no alertmanager_url
	// (grafana_url) is set; any other externalURL gets no request.
	AllowedURLs []string `yaml:"allowed_urls"`
	// Credentials for alertmanager_url only, as in Alertmanager's
	// http_config; never sent to a URL taken from a payload.
	BasicAuth       *BasicAuth `yaml:"basic_auth"`
	BearerToken     Secret     `yaml:"bearer_token"`
	BearerTokenFile string     `yaml:"bearer_token_file"`
}

// DeliveryConfig tunes the durable queue towards Mind.
type DeliveryConfig struct {
	Workers    int      `yaml:"workers"`
	RateLimit  float64  `yaml:"rate_limit"`
	Burst      int      `yaml:"burst"`
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	MaxAge     Duration `yaml:"max_age"`
	// Priority orders the queue: the most urgent streams are sent first.
	Priority PriorityConfig `yaml:"priority"`
	// DedupeWindow: a webhook identical in content to one accepted this
	// recently makes no new card (HA Alertmanager peers each send it);
	// 0 turns it off; unset is DefaultDedupeWindow.
	DedupeWindow *Duration `yaml:"dedupe_window"`
	// Digest folds a receiver's flood of non-urgent cards into one.
	Digest DigestConfig `yaml:"digest"`
}

// DigestConfig: when more than After non-urgent group cards of one
// receiver are waiting, they go out as one digest card naming the
// MaxGroups most urgent, with a link to a page listing them all. Urgent
// (a delivery.priority.order value; it and those before it) are never
// digested (default "page", or the first of an own order without it).
type DigestConfig struct {
	// After is the backlog that makes a digest; 0 turns digests off;
	// unset is DefaultDigestAfter.
	After     *int   `yaml:"after"`
	MaxGroups int    `yaml:"max_groups"`
	Urgent    string `yaml:"urgent"`
	// MinInterval spaces one receiver's digest cards; what floods in
	// meanwhile waits in the next.
	MinInterval Duration `yaml:"min_interval"`
}

// UrgentBelow is the priority rank from which cards may be digested: the
// rank after Urgent's.
func (d DeliveryConfig) UrgentBelow() int {
	if d.Digest.Urgent == "" {
		return 0
	}
	return d.Priority.Rank(d.Digest.Urgent) + 1
}

// Threshold is digest.after (0: off).
func (d DigestConfig) Threshold() int {
	if d.After == nil {
		return 0
	}
	return *d.After
}

// Dedupe is the dedupe window (0: off).
func (d DeliveryConfig) Dedupe() time.Duration {
	if d.DedupeWindow == nil {
		return 0
	}
	return d.DedupeWindow.D()
}

// PriorityConfig says how urgent a group is: the value of Label on its
// alerts, ranked by its place in Order (first is most urgent; a value not
// listed, or no label, comes after all of them).
type PriorityConfig struct {
	Label string   `yaml:"label"`
	Order []string `yaml:"order"`
}

// Rank is the urgency of a label value: its index in Order (compared
// case-insensitively), len(Order) when it is not there.
func (p PriorityConfig) Rank(value string) int {
	for i, v := range p.Order {
		if strings.EqualFold(v, value) {
			return i
		}
	}
	return len(p.Order)
}

// AdminConfig guards the admin API.
type AdminConfig struct {
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// StoreConfig chooses the store.
type StoreConfig struct {
	Driver  string `yaml:"driver"`
	Path    string `yaml:"path"`
	DSN     Secret `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
}
