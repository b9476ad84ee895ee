package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // card times in any zone, even on scratch images

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// UnmarshalYAML reads Prometheus-style durations ("90s", "5m", "2h", "1d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if s == "" {
		*d = 0
		return nil
	}
	md, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m, 2h, 1d)", n.Line, s)
	}
	*d = Duration(md)
	return nil
}

// MarshalYAML writes a duration the way it is read.
func (d Duration) MarshalYAML() (any, error) { return model.Duration(d).String(), nil }

// String prints the duration the way it is read.
func (d Duration) String() string { return model.Duration(d).String() }

// Options say what a config is loaded for.
type Options struct {
	// DryRun loads the config of a relay that sends nothing to Mind
	// (`serve --dry-run`, `check-config --dry-run`, `render`): the Mind
	// app's credentials, mind.app_id and mind.app_secret, are not required.
	// Outside dry-run an empty one is an error like any other.
	DryRun bool
	// Check, when set, adds the problems of what the config names that
	// this package cannot judge (internal/app compiles the template sets
	// the receivers name). It is called on the config as decoded even
	// when the file has other problems, so that every problem is reported
	// in one run: it must not assume that any key is valid.
	Check func(*Config) Problems
}

// LoadFile reads, decodes, defaults and validates the file at path for
// the use opts describe. serve, its reloads and check-config all load
// through it, so that check-config refuses exactly what serve refuses.
func LoadFile(path string, opts Options) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := LoadWith(b, filepath.Dir(path), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Load decodes b strictly (unknown keys are errors), expands ${VAR} and
// ${VAR:-default} from the environment in every value, reads *_file
// secrets (relative paths are taken from baseDir), fills defaults and
// validates. The error lists every problem, each naming its key. Load
// checks the file as for a dry run: the Mind app's credentials are not
// required (LoadWith with Options{} requires them).
func Load(b []byte, baseDir string) (*Config, error) {
	return LoadWith(b, baseDir, Options{DryRun: true})
}

// LoadWith is Load for the use opts describe.
func LoadWith(b []byte, baseDir string, opts Options) (*Config, error) {
	root, top, err := parseDocument(b)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	d := &decoder{}
	d.mapping(top, reflect.ValueOf(c).Elem(), "")

	expandEnv(reflect.ValueOf(c).Elem())
	probs := d.probs
	probs = append(probs, c.readSecretFiles(baseDir)...)
	c.applyDefaults()
	probs = append(probs, d.zeroProblems()...)
	// Like every file a config names, relative paths are taken from the
	// config's folder, not from wherever the relay was started.
	if c.Store.Driver == "sqlite" && c.Store.Path != "" && !filepath.IsAbs(c.Store.Path) {
		c.Store.Path = filepath.Join(baseDir, c.Store.Path)
	}
	for i, f := range c.Templates.Files {
		if f != "" && !filepath.IsAbs(f) {
			c.Templates.Files[i] = filepath.Join(baseDir, f)
		}
	}
	// Every problem of the file at once: what decoding found does not stop
	// the checks of meaning, except where it explains them.
	if d.tooLarge {
		// What was not decoded cannot be checked for meaning.
		return nil, probs.capped()
	}
	meaning := c.validate()
	meaning = append(meaning, c.loadSchedules(baseDir)...)
	if !opts.DryRun {
		meaning = append(meaning, c.checkCredentials(probs)...)
	}
	if opts.Check != nil {
		meaning = append(meaning, opts.Check(c)...)
	}
	probs = append(probs, d.unexplained(meaning)...)
	if len(probs) > 0 {
		probs.locate(root)
		return nil, probs.capped()
	}
	return c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv replaces ${VAR} with the variable's value (empty when unset)
// and ${VAR:-default} with the value or, when unset or empty, the default.
// $$ stays a literal dollar sign.
func ExpandEnv(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	const lit = "\x00dollar\x00"
	s = strings.ReplaceAll(s, "$$", lit)
	s = envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		v := os.Getenv(sub[1])
		if v == "" && sub[2] != "" {
			return sub[3]
		}
		return v
	})
	return strings.ReplaceAll(s, lit, "$")
}

// expandEnv walks v and expands every string it holds.
func expandEnv(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			expandEnv(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				expandEnv(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			expandEnv(v.Index(i))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(ExpandEnv(v.String()))
		}
	}
}

// readSecretFiles fills each secret from its *_file twin.
func (c *Config) readSecretFiles(baseDir string) Problems {
	var probs Problems
	read := func(key string, s *Secret, file string) {
		if file == "" {
			return
		}
		if *s != "" {
			probs.add(key, "set either %s or %s_file, not both", lastKey(key), lastKey(key))
			return
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(baseDir, file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			probs.add(key+"_file", "cannot read secret file: %v", err)
			return
		}
		*s = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	read("mind.app_secret", &c.Mind.AppSecret, c.Mind.AppSecretFile)
	read("mind.callback_token", &c.Mind.CallbackToken, c.Mind.CallbackTokenFile)
	for name, s := range map[string]*SourceConfig{"alertmanager": &c.Sources.Alertmanager, "grafana": &c.Sources.Grafana} {
		p := "sources." + name
		read(p+".bearer_token", &s.BearerToken, s.BearerTokenFile)
		if s.BasicAuth != nil {
			read(p+".basic_auth.password", &s.BasicAuth.Password, s.BasicAuth.PasswordFile)
		}
		if s.HMAC != nil {
			read(p+".hmac.secret", &s.HMAC.Secret, s.HMAC.SecretFile)
		}
	}
	read("ack.secret", &c.Ack.Secret, c.Ack.SecretFile)
	if c.Ack.Silence != nil {
		read("ack.silence.grafana_token", &c.Ack.Silence.GrafanaToken, c.Ack.Silence.GrafanaTokenFile)
		read("ack.silence.bearer_token", &c.Ack.Silence.BearerToken, c.Ack.Silence.BearerTokenFile)
		if b := c.Ack.Silence.BasicAuth; b != nil {
			read("ack.silence.basic_auth.password", &b.Password, b.PasswordFile)
		}
	}
	read("admin.token", &c.Admin.Token, c.Admin.TokenFile)
	read("store.dsn", &c.Store.DSN, c.Store.DSNFile)
	return probs
}

func lastKey(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// Defaults, in one place.
const (
	DefaultListen         = ":9095"
	DefaultBaseURL        = "https://open.mindoffice.cn"
	DefaultTimezone       = "Asia/Shanghai"
	DefaultMaxBodyBytes   = 4 << 20
	DefaultSourceAlerts   = 1000
	DefaultMaxInFlight    = 32
	DefaultMindTimeout    = 10 * time.Second
	DefaultTokenTTL       = 24 * time.Hour
	DefaultSilence        = 2 * time.Hour
	DefaultPollInterval   = time.Minute
	DefaultWorkers        = 4
	DefaultRateLimit      = 10
	DefaultBurst          = 20
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultMaxAge         = 24 * time.Hour
	DefaultPriorityLabel  = "severity"
	DefaultDedupeWindow   = 5 * time.Minute
	DefaultDigestAfter    = 20
	DefaultDigestMax      = 50
	DefaultDigestUrgent   = "page"
	DefaultDigestInterval = time.Minute
	DefaultMaxAlerts      = 10
	DefaultHMACHeader     = "X-Grafana-Alerting-Signature"
	DefaultHMACMaxSkew    = 5 * time.Minute
	DefaultStoreDriver    = "sqlite"
	DefaultStorePath      = "data/mind-relay.db"
	DefaultLogLevel       = "info"
	DefaultAuthScheme     = "Bearer"
	DefaultTemplate       = "default"
)

// DefaultPriorityOrder is delivery.priority.order's default, most urgent
// first.
func DefaultPriorityOrder() []string {
	return []string{"critical", "page", "error", "warning", "info"}
}

func (c *Config) applyDefaults() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.Timezone, DefaultTimezone)
	setDefault(&c.LogLevel, DefaultLogLevel)
	setDefault(&c.Mind.BaseURL, DefaultBaseURL)
	c.Mind.BaseURL = strings.TrimRight(c.Mind.BaseURL, "/")
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	setDefault(&c.Mind.Timeout, Duration(DefaultMindTimeout))
	for _, s := range []*SourceConfig{&c.Sources.Alertmanager, &c.Sources.Grafana} {
		setDefault(&s.MaxBodyBytes, DefaultMaxBodyBytes)
		setDefault(&s.MaxAlerts, DefaultSourceAlerts)
		setDefault(&s.AuthScheme, DefaultAuthScheme)
		if s.HMAC != nil {
			setDefault(&s.HMAC.Header, DefaultHMACHeader)
			setDefault(&s.HMAC.MaxSkew, Duration(DefaultHMACMaxSkew))
		}
	}
	setDefault(&c.Sources.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.Templates.MaxAlerts, DefaultMaxAlerts)
	for _, r := range c.Receivers {
		if r == nil {
			continue
		}
		setDefault(&r.Template, DefaultTemplate)
		setDefault(&r.MaxAlerts, c.Templates.MaxAlerts)
	}
	setDefault(&c.Ack.TokenTTL, Duration(DefaultTokenTTL))
	setDefault(&c.Ack.PollInterval, Duration(DefaultPollInterval))
	if c.Ack.Silence != nil {
		setDefault(&c.Ack.Silence.Duration, Duration(DefaultSilence))
	}
	setDefault(&c.Delivery.Workers, DefaultWorkers)
	setDefault(&c.Delivery.RateLimit, DefaultRateLimit)
	setDefault(&c.Delivery.Burst, DefaultBurst)
	setDefault(&c.Delivery.MinBackoff, Duration(DefaultMinBackoff))
	setDefault(&c.Delivery.MaxBackoff, Duration(DefaultMaxBackoff))
	setDefault(&c.Delivery.MaxAge, Duration(DefaultMaxAge))
	setDefault(&c.Delivery.Priority.Label, DefaultPriorityLabel)
	if c.Delivery.Priority.Order == nil {
		c.Delivery.Priority.Order = DefaultPriorityOrder()
	}
	if c.Delivery.Digest.After == nil {
		n := DefaultDigestAfter
		c.Delivery.Digest.After = &n
	}
	setDefault(&c.Delivery.Digest.MaxGroups, DefaultDigestMax)
	setDefault(&c.Delivery.Digest.MinInterval, Duration(DefaultDigestInterval))
	if p := c.Delivery.Priority; c.Delivery.Digest.Urgent == "" && len(p.Order) > 0 {
		// An own order without "page": its most urgent value.
		c.Delivery.Digest.Urgent = DefaultDigestUrgent
		if p.Rank(DefaultDigestUrgent) == len(p.Order) {
			c.Delivery.Digest.Urgent = p.Order[0]
		}
	}
	if c.Delivery.DedupeWindow == nil {
		w := Duration(DefaultDedupeWindow)
		c.Delivery.DedupeWindow = &w
	}
	setDefault(&c.Store.Driver, DefaultStoreDriver)
	if c.Store.Driver == "sqlite" {
		setDefault(&c.Store.Path, DefaultStorePath)
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
