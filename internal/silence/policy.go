package silence

import (
	"net/url"
	"path"
	"strings"

	"github.com/mindoffice/mind-relay/internal/config"
)

// Policy says where the relay may send silences and polls: only to URLs
// from its config. A payload names its source (externalURL), but anyone
// who can post a webhook can write any URL there; so it is used only when
// it matches one of the configured allowed prefixes, and credentials go to
// the configured URLs alone.
type Policy struct {
	alertmanager, grafana string
	amAuth, grafanaAuth   Auth
	allowed               []*url.URL
}

// NewPolicy reads ack.silence (nil: no silences).
func NewPolicy(sc *config.SilenceConfig) *Policy {
	p := &Policy{}
	if sc == nil {
		return p
	}
	p.alertmanager, p.grafana = sc.AlertmanagerURL, sc.GrafanaURL
	p.amAuth = Auth{BearerToken: sc.BearerToken.Value()}
	if b := sc.BasicAuth; b != nil {
		p.amAuth = Auth{Username: b.Username, Password: b.Password.Value()}
	}
	p.grafanaAuth = Auth{BearerToken: sc.GrafanaToken.Value()}
	for _, a := range sc.AllowedURLs {
		if u, ok := normalise(a); ok {
			p.allowed = append(p.allowed, u)
		}
	}
	return p
}

// Target is a source the relay may call.
type Target struct {
	Kind string
	Root string // the URL to call (may hold user info from the config)
	Auth Auth
}

// Why a group has no target, as the confirmation card says it.
const (
	NoURL     = "未配置地址"
	NotListed = "告警来源地址不在 ack.silence.allowed_urls 中，未静默"
)

// Resolve returns where to silence a group of kind whose payload named
// externalURL; ok false (with why) when the relay must not call anything.
func (p *Policy) Resolve(kind, externalURL string) (t Target, why string, ok bool) {
	configured, auth := p.alertmanager, p.amAuth
	if kind == KindGrafana {
		configured, auth = p.grafana, p.grafanaAuth
	}
	if configured != "" {
		return Target{Kind: kind, Root: configured, Auth: auth}, "", true
	}
	if externalURL == "" {
		return Target{}, NoURL, false
	}
	if !p.Allowed(externalURL) {
		return Target{}, NotListed, false
	}
	u, _ := normalise(externalURL)
	return Target{Kind: kind, Root: u.String()}, "", true
}

// Allowed reports whether raw, normalised, lies under an allowed prefix:
// the same scheme and host (and port), and a path at or below the prefix's
// on a segment boundary. A URL with user info, a query or a fragment is
// never allowed.
func (p *Policy) Allowed(raw string) bool {
	u, ok := normalise(raw)
	if !ok {
		return false
	}
	for _, a := range p.allowed {
		if a.Scheme != u.Scheme || a.Host != u.Host {
			continue
		}
		prefix := strings.TrimSuffix(a.Path, "/") + "/"
		if u.Path+"/" == prefix || strings.HasPrefix(u.Path+"/", prefix) {
			return true
		}
	}
	return false
}

// normalise parses an absolute http(s) URL into a comparable form:
// lower-case scheme and host, the default port dropped, the path cleaned
// of dot segments and trailing slashes, escapes decoded once.
func normalise(raw string) (*url.URL, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#") || u.Opaque != "" {
		return nil, false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
		return nil, false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	p := path.Clean("/" + u.Path)
	if p == "/" {
		p = ""
	}
	return &url.URL{Scheme: u.Scheme, Host: host, Path: strings.TrimSuffix(p, "/")}, true
}

// Target returns how to call the source of kind at root, a root an earlier
// Resolve gave: with the configured credentials when root is the
// configured URL, without any when it is an allowed one; ok is false when
// the config no longer lets the relay call it.
func (p *Policy) Target(kind, root string) (Target, bool) {
	configured, auth := p.alertmanager, p.amAuth
	if kind == KindGrafana {
		configured, auth = p.grafana, p.grafanaAuth
	}
	switch {
	case root == "":
		return Target{}, false
	case root == configured:
		return Target{Kind: kind, Root: root, Auth: auth}, true
	case p.Allowed(root):
		return Target{Kind: kind, Root: root}, true
	}
	return Target{}, false
}
