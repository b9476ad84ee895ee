package mindtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind"
)

// Option changes the Config of a NewServer.
type Option func(*Config)

// WithCredentials sets the app-id and app-secret the fake accepts.
func WithCredentials(appID, appSecret string) Option {
	return func(c *Config) { c.AppID, c.AppSecret = appID, appSecret }
}

// WithHTTPStatusErrors answers refusals with HTTP status = code rather
// than HTTP 200.
func WithHTTPStatusErrors() Option {
	return func(c *Config) { c.HTTPStatusErrors = true }
}

// WithDedupWindow sets how long an accepted x-request-id is remembered.
func WithDedupWindow(d time.Duration) Option {
	return func(c *Config) { c.DedupWindow = d }
}

// WithMaxBodyBytes caps request bodies.
func WithMaxBodyBytes(n int64) Option {
	return func(c *Config) { c.MaxBodyBytes = n }
}

// WithControlAPI serves the control API under ControlPrefix.
func WithControlAPI() Option {
	return func(c *Config) { c.ControlAPI = true }
}

// Server is a Fake listening on a local address for one test.
type Server struct {
	*Fake
	// URL is the base URL, for mind.base_url.
	URL string
	// HTTP is the underlying server.
	HTTP *httptest.Server
}

// NewServer starts a Fake on a local address; it is closed when the test
// ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	f := New(cfg)
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	return &Server{Fake: f, URL: hs.URL, HTTP: hs}
}

// Close shuts the server down; later requests fail to connect.
func (s *Server) Close() { s.HTTP.Close() }

// ClientOptions returns options for a mind.Client talking to this server
// with the right credentials.
func (s *Server) ClientOptions() mind.ClientOptions {
	cfg := s.Config()
	return mind.ClientOptions{
		BaseURL:    s.URL,
		AppID:      cfg.AppID,
		AppSecret:  cfg.AppSecret,
		HTTPClient: s.HTTP.Client(),
	}
}

// control serves the control API.
func (f *Fake) control(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	bad := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	want := map[string]string{
		"messages": http.MethodGet, "rejections": http.MethodGet, "attempts": http.MethodGet,
		"faults": http.MethodPost, "down": http.MethodPost, "reset": http.MethodPost,
	}
	method, ok := want[op]
	if !ok {
		bad(http.StatusNotFound, "unknown control operation "+op)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		bad(http.StatusMethodNotAllowed, op+" takes "+method)
		return
	}
	body := http.MaxBytesReader(w, r.Body, 1<<20)
	switch op {
	case "messages":
		msgs := f.Messages()
		if msgs == nil {
			msgs = []Message{}
		}
		reply(msgs)
	case "rejections":
		rs := f.Rejections()
		if rs == nil {
			rs = []Rejection{}
		}
		reply(rs)
	case "attempts":
		f.mu.Lock()
		by := make(map[string]int, len(f.attempts))
		for k, v := range f.attempts {
			by[k] = v
		}
		total, dups := f.total, f.duplicates
		f.mu.Unlock()
		reply(map[string]any{"total": total, "duplicates": dups, "by_request_id": by})
	case "faults":
		var faults []Fault
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&faults); err != nil {
			bad(http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		f.Script(faults...)
		reply(map[string]int{"queued": len(faults)})
	case "down":
		var v struct {
			Down *bool `json:"down"`
		}
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil || v.Down == nil {
			bad(http.StatusBadRequest, `down: want {"down": true|false}`)
			return
		}
		f.SetDown(*v.Down)
		reply(map[string]bool{"down": *v.Down})
	case "reset":
		f.Reset()
		reply(map[string]bool{"reset": true})
	}
}
