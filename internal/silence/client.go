// Package silence talks to the sources' silence and alert APIs (an
// Alertmanager's API v2, or Grafana's Alertmanager-compatible one) and
// decides which of them the relay may talk to: only URLs from its config.
package silence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// callTimeout bounds one call to a source's API.
const callTimeout = 10 * time.Second

// Kinds of source the relay silences alerts in.
const (
	KindAlertmanager = "alertmanager"
	KindGrafana      = "grafana"
)

// grafanaAMPath is where Grafana serves its Alertmanager-compatible API.
const grafanaAMPath = "/api/alertmanager/grafana/api/v2"

// Auth is how the relay authenticates to a source, as Alertmanager's
// http_config does: basic auth or a bearer token (or neither).
type Auth struct {
	Username, Password string
	BearerToken        string
}

// Source talks to an Alertmanager API v2: Alertmanager's own, or Grafana's
// Alertmanager-compatible one. It keeps the silence and alert calls the
// relay needs, each bounded by callTimeout. Links it makes for cards never
// carry the user info of its URL.
type Source struct {
	Kind   string
	base   string // the UI's root URL, no user info, no trailing slash
	api    string // the API v2 root
	auth   Auth
	client *http.Client
}

// NewSource returns the source of kind at root (Alertmanager's or
// Grafana's root URL). User info in root is taken as basic auth (when
// auth names none) and dropped from links.
func NewSource(kind, root string, auth Auth, client *http.Client) (*Source, error) {
	u, err := url.Parse(strings.TrimRight(root, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s URL %q is not an absolute http(s) URL without query or fragment", kind, redactURL(root))
	}
	if u.User != nil {
		if auth.Username == "" && auth.BearerToken == "" {
			auth.Username = u.User.Username()
			auth.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	if client == nil {
		client = http.DefaultClient
	}
	s := &Source{Kind: kind, base: u.String(), auth: auth, client: client}
	s.api = s.base + "/api/v2"
	if kind == KindGrafana {
		s.api = s.base + grafanaAMPath
	}
	return s, nil
}

// Root is the source's root URL as links show it (no user info).
func (s *Source) Root() string { return s.base }

// Silence is a silence as the API v2 takes and lists it.
type Silence struct {
	ID        string    `json:"id,omitempty"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	Status    *struct {
		State string `json:"state"`
	} `json:"status,omitempty"`
}

// SourceAlert is an alert as the API v2 lists it.
type SourceAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

// PutSilence creates the silence, or updates it when s.ID is set, and
// returns its id (Alertmanager may give an updated silence a new one).
func (s *Source) PutSilence(ctx context.Context, sil Silence) (string, error) {
	sil.Status = nil
	body, err := json.Marshal(sil)
	if err != nil {
		return "", fmt.Errorf("%s: marshal silence: %w", s.Kind, err)
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := s.call(ctx, http.MethodPost, "/silences", nil, body, &out); err != nil {
		return "", err
	}
	if out.SilenceID == "" {
		return "", fmt.Errorf("%s: POST /silences: no silenceID in the answer", s.Kind)
	}
	return out.SilenceID, nil
}

// GetSilence returns one silence.
func (s *Source) GetSilence(ctx context.Context, id string) (Silence, error) {
	var out Silence
	err := s.call(ctx, http.MethodGet, "/silence/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// ExpireSilence expires a silence; one that is already expired or gone
// counts as done.
func (s *Source) ExpireSilence(ctx context.Context, id string) error {
	err := s.call(ctx, http.MethodDelete, "/silence/"+url.PathEscape(id), nil, nil, nil)
	if err == nil {
		return nil
	}
	if he, ok := errors.AsType[*HTTPError](err); ok && he.Status == http.StatusNotFound {
		return nil
	}
	// Alertmanager refuses to expire an expired silence with a 500: ask.
	if sil, gerr := s.GetSilence(ctx, id); gerr == nil && sil.Status != nil && sil.Status.State == "expired" {
		return nil
	}
	return err
}

// ActiveAlerts lists the alerts that match filter and have not resolved,
// silenced and inhibited ones included.
func (s *Source) ActiveAlerts(ctx context.Context, filter []Matcher) ([]SourceAlert, error) {
	q := url.Values{}
	for _, m := range filter {
		op := "="
		switch {
		case m.IsRegex && m.IsEqual:
			op = "=~"
		case m.IsRegex:
			op = "!~"
		case !m.IsEqual:
			op = "!="
		}
		q.Add("filter", m.Name+op+strconvQuote(m.Value))
	}
	for _, k := range []string{"active", "silenced", "inhibited", "unprocessed"} {
		q.Set(k, "true")
	}
	var out []SourceAlert
	err := s.call(ctx, http.MethodGet, "/alerts", q, nil, &out)
	return out, err
}

// Started returns when the source last started (GET /status's uptime),
// the evidence that tells a restart from a resolution.
func (s *Source) Started(ctx context.Context) (time.Time, error) {
	var out struct {
		Uptime time.Time `json:"uptime"`
	}
	if err := s.call(ctx, http.MethodGet, "/status", nil, nil, &out); err != nil {
		return time.Time{}, err
	}
	return out.Uptime, nil
}

// SilenceLink is where a person sees the silence.
func (s *Source) SilenceLink(id string) string {
	if s.Kind == KindGrafana {
		return s.base + "/alerting/silence/" + url.PathEscape(id) + "/edit?alertmanager=grafana"
	}
	return s.base + "/#/silences/" + url.PathEscape(id)
}

// HTTPError is a source's non-2xx answer.
type HTTPError struct {
	Kind, Method, Path string
	Status             int
	Body               string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s: %s %s: HTTP %d", e.Kind, e.Method, e.Path, e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// call makes one API call with its own deadline; errors name the source
// kind and the API path, never the URL (which may hold credentials).
func (s *Source) call(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	ctx, cancel := context.WithTimeoutCause(ctx, callTimeout, fmt.Errorf("%s API call took longer than %s", s.Kind, callTimeout))
	defer cancel()
	u := s.api + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", s.Kind, method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case s.auth.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.auth.BearerToken)
	case s.auth.Username != "":
		req.SetBasicAuth(s.auth.Username, s.auth.Password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
			err = c
		} else if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL stays out of the message
		}
		return fmt.Errorf("%s: %s %s: %w", s.Kind, method, path, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &HTTPError{Kind: s.Kind, Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: %s %s: read answer: %w", s.Kind, method, path, err)
	}
	return nil
}

// strconvQuote quotes a matcher value as Alertmanager's matcher syntax
// reads it.
func strconvQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// redactURL drops the user info of a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}
