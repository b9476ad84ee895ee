package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/testutil"
)

type queueFunc func(context.Context, []store.Notification) error

func (f queueFunc) Submit(ctx context.Context, ns []store.Notification) error { return f(ctx, ns) }

type dlqFake struct{ replayed [][]string }

func (d *dlqFake) ListDead(context.Context) ([]store.Notification, error) { return nil, nil }
func (d *dlqFake) Replay(_ context.Context, ids ...string) (int, error) {
	d.replayed = append(d.replayed, ids)
	return len(ids), nil
}

func server(t *testing.T, extra string, q queueFunc) (http.Handler, *dlqFake) {
	t.Helper()
	deps, d := serverDeps(t, extra, q)
	return New(deps, prometheus.NewRegistry()), d
}

// serverDeps are the Deps of server, to change before New.
func serverDeps(t *testing.T, extra string, q queueFunc) (Deps, *dlqFake) {
	t.Helper()
	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
`+extra), t.TempDir())
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	rd, err := render.New(render.Options{}, nil, nil)
	require.NoError(t, err)
	rl := relay.New(relay.NewLive(&relay.State{Config: cfg, Tree: tree, Renderer: rd}), relay.Options{Queue: q}, prometheus.NewRegistry())
	d := &dlqFake{}
	return Deps{Relay: rl, DLQ: d, Reload: func(context.Context) ([]string, error) { return nil, nil }}, d
}

func do(h http.Handler, method, path, remote, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func firing(t *testing.T) string {
	b, err := os.ReadFile("../../testdata/alertmanager/am-0.25-firing.json")
	require.NoError(t, err)
	return string(b)
}

// The status codes are the contract with senders: 5xx for what a retry
// may fix, 500 for our own bugs, 4xx for what it never will.
func TestQueueFailuresBecomeRetryableStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"accepted", nil, http.StatusOK},
		{"store down", errors.New("disk I/O error"), http.StatusServiceUnavailable},
		{"our bug", delivery.ErrInvalid, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := server(t, "", func(context.Context, []store.Notification) error { return tc.err })
			w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1234", firing(t))
			require.Equal(t, tc.want, w.Code, w.Body.String())
			if tc.want == http.StatusServiceUnavailable {
				require.Equal(t, "5", w.Header().Get("Retry-After"))
			}
		})
	}
}

func TestReloadNeedsAdminToken(t *testing.T) {
	h, _ := server(t, "", nil)
	require.Equal(t, http.StatusForbidden, do(h, "POST", "/-/reload", "127.0.0.1:5555", "").Code, "no token: SIGHUP only, even from loopback (sidecars)")
	require.Equal(t, http.StatusForbidden, do(h, "POST", "/-/reload", "10.1.2.3:5555", "").Code)

	h, _ = server(t, "admin: {token: admin-secret-1}\n", nil)
	require.Equal(t, http.StatusUnauthorized, do(h, "POST", "/-/reload", "127.0.0.1:5555", "").Code, "with a token, even loopback shows it")
	require.Equal(t, http.StatusOK, do(h, "POST", "/-/reload", "10.1.2.3:5555", "", "Authorization", "Bearer admin-secret-1").Code)
	require.Equal(t, http.StatusMethodNotAllowed, do(h, "GET", "/-/reload", "127.0.0.1:5555", "").Code, "GET never changes state")
}

func TestReplayMustSayWhat(t *testing.T) {
	h, d := server(t, "admin: {token: admin-secret-1}\n", nil)
	auth := []string{"Authorization", "Bearer admin-secret-1"}
	tests := []struct {
		body string
		want int
	}{
		{``, http.StatusBadRequest},
		{`{}`, http.StatusBadRequest},
		{`{"ids":[]}`, http.StatusBadRequest},
		{`{"ids":["a"],"all":true}`, http.StatusBadRequest},
		{`{"ids":["a","b"]}`, http.StatusOK},
		{`{"all":true}`, http.StatusOK},
	}
	for _, tc := range tests {
		w := do(h, "POST", "/api/v1/dlq/replay", "10.0.0.1:1", tc.body, auth...)
		require.Equal(t, tc.want, w.Code, "%s: %s", tc.body, w.Body.String())
	}
	require.Equal(t, [][]string{{"a", "b"}, nil}, d.replayed)
	require.Equal(t, http.StatusUnauthorized, do(h, "POST", "/api/v1/dlq/replay", "10.0.0.1:1", `{"all":true}`, "Authorization", "Bearer nope").Code)
	require.Equal(t, http.StatusUnauthorized, do(h, "GET", "/api/v1/dlq", "10.0.0.1:1", "").Code)

	h, _ = server(t, "", nil)
	require.Equal(t, http.StatusForbidden, do(h, "GET", "/api/v1/dlq", "10.0.0.1:1", "").Code, "no admin token: the admin API is off")
}

func TestPanicIsOneRequestsProblem(t *testing.T) {
	h, _ := server(t, "", func(context.Context, []store.Notification) error { panic("boom") })
	w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing(t))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.JSONEq(t, `{"error":"internal error"}`, w.Body.String())
}

// A refused request's log line names the path asked for (a 404 or 405
// matches no route, so the route's pattern is empty), without a token.
func TestRefusalLogNamesThePath(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/no/such/thing", http.StatusNotFound, "/no/such/thing"},
		{"GET", "/webhook/alertmanager", http.StatusMethodNotAllowed, "/webhook/alertmanager"},
		{"DELETE", "/webhook/grafana/oncall", http.StatusMethodNotAllowed, "/webhook/grafana/oncall"},
		{"POST", "/webhook/alertmanager/nobody", http.StatusNotFound, "/webhook/alertmanager/:receiver"},
		{"GET", "/ack/v1.secret-token-part", http.StatusNotFound, "/ack/<token>"},
		{"GET", "/" + strings.Repeat("x", 1000), http.StatusNotFound, "/" + strings.Repeat("x", maxLogPath-1) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 30)], func(t *testing.T) {
			var logs testutil.SyncBuffer
			deps, _ := serverDeps(t, "", func(context.Context, []store.Notification) error { return nil })
			deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			h := New(deps, prometheus.NewRegistry())
			w := do(h, tc.method, tc.path, "10.0.0.1:1", firing(t))
			require.Equal(t, tc.status, w.Code, w.Body.String())
			var line struct {
				Path   string `json:"path"`
				Status int    `json:"status"`
			}
			require.NoError(t, json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &line), logs.String())
			require.Equal(t, tc.want, line.Path)
			require.Equal(t, tc.status, line.Status)
			require.NotContains(t, logs.String(), "secret-token-part")
		})
	}
}
