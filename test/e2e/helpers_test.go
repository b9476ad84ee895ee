// Package e2e runs the relay as users do: a real Alertmanager posts to it,
// and a fake Mind, strict as Mind's documents, receives the cards.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/app"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil"
)

type relayProc struct {
	URL  string
	Dir  string
	Logs *testutil.SyncBuffer
	stop func()
}

// startRelay runs `relay serve` in-process with cfg (a YAML config; the
// string %MIND% is replaced by the fake Mind's URL and %DIR% by a temp
// folder) until the test ends.
func startRelay(t testing.TB, fake *mindtest.Server, cfg string) *relayProc {
	t.Helper()
	dir := t.TempDir()
	cfg = strings.NewReplacer("%MIND%", fake.URL, "%DIR%", dir).Replace(cfg)
	path := filepath.Join(dir, "relay.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	logs := &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{
			ConfigFile:      path,
			Listen:          "127.0.0.1:0",
			Logs:            logs,
			Ready:           ready,
			ShutdownTimeout: 5 * time.Second,
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("relay did not start: %v\nlogs:\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("relay did not start in time; logs:\n%s", logs.String())
	}
	p := &relayProc{URL: "http://" + addr, Dir: dir, Logs: logs}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("relay stopped with: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("relay did not stop in time")
			}
		})
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("relay logs:\n%s", tail(logs.String(), 6000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// post sends body to the relay and returns the status and body.
func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	require.NoError(t, err, "testdata/ of the repository")
	return string(b)
}

const e2eAdminToken = "e2e-admin-token-42"

func baseConfig(extra string) string {
	return fmt.Sprintf(`
external_url: http://relay.example.com
mind:
  base_url: "%%MIND%%"
  app_id: %s
  app_secret: %s
sources:
  alertmanager:
    bearer_token: am-token-123
route:
  receiver: default
  routes:
    - matchers: ['team="db"']
      receiver: db-oncall
    - matchers: ['team="payments"']
      receiver: payments
      continue: true
    - matchers: ['severity="warning"']
      receiver: everyone
receivers:
  - name: default
    open_ids: [ou_default]
  - name: db-oncall
    open_ids: [ou_db1, ou_db2]
  - name: payments
    open_ids: [ou_pay]
  - name: everyone
    all_subscribers: true
ack:
  secret: e2e-ack-secret-0123456789
delivery:
  min_backoff: 50ms
  max_backoff: 500ms
  # Each test follows its groups' own cards; digests have their own tests.
  digest: {after: 0}
admin:
  token: %s
store:
  path: "%%DIR%%/relay.db"
%s`, mindtest.DefaultAppID, mindtest.DefaultAppSecret, e2eAdminToken, extra)
}

// withSources adds YAML (indented by two) under the base config's sources.
func withSources(yaml string) string {
	return strings.Replace(baseConfig(""), "    bearer_token: am-token-123\n", "    bearer_token: am-token-123\n"+strings.TrimLeft(yaml, "\n"), 1)
}

func startRelayB(b *testing.B, fake *mindtest.Server, cfg string) string {
	return startRelay(b, fake, cfg).URL
}

func readTestdataB(b *testing.B, name string) []byte {
	return []byte(readTestdata(b, name))
}
