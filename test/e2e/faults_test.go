package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

// Mind failing for a while in every way it can — 500, 502, 429 with
// Retry-After, answers slower than the client's timeout, connections
// reset — delays the card but delivers it exactly once.
func TestMindFaultsThenSuccess(t *testing.T) {
	fake := mindtest.NewServer(t)
	fake.Script(
		mindtest.Fault{Status: 500},
		mindtest.Fault{Status: 502, Body: "<html>Bad Gateway</html>"},
		mindtest.Fault{Status: 429, RetryAfter: "1"},
		mindtest.Fault{Delay: 1500 * time.Millisecond}, // longer than mind.timeout below
		mindtest.Fault{Reset: true},
		mindtest.Fault{Code: 500, Msg: "busy"}, // HTTP 200, body code 500
	)
	relay := startRelay(t, fake, strings.Replace(baseConfig(""), "  app_id:", "  timeout: 1s\n  app_id:", 1))
	code, body := post(t, relay.URL+"/webhook/alertmanager", readTestdata(t, "alertmanager/am-0.25-firing.json"),
		map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, body)

	msgs, err := fake.WaitForMessages(1, 30*time.Second)
	require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
	time.Sleep(500 * time.Millisecond)
	require.Len(t, fake.Messages(), 1, "exactly once")
	// The slow answer is handled by Mind after the relay gave up on it, as
	// a real server would: the retries that follow carry the same
	// x-request-id, so Mind keeps the message once.
	require.GreaterOrEqual(t, fake.Attempts(msgs[0].RequestID), 4, "500, 502, 429 and the slow answer were all met")
	require.Empty(t, fake.Rejections())
}

// Bad credentials (a secret rotated in Mind but not in the relay) are a
// fault of the relay's setup, not of the notification: one attempt, no
// retry storm, no dead letter; readiness says why, a gauge is up, and a
// reload with the right secret delivers what was held.
func TestBadCredentialsPauseUntilReload(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, strings.Replace(baseConfig(""), "app_secret: "+mindtest.DefaultAppSecret, "app_secret: wrong-secret", 1))
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, relay.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/-/ready")
	require.Equal(t, http.StatusOK, code, body)
	code, body = post(t, relay.URL+"/webhook/alertmanager", readTestdata(t, "alertmanager/am-0.25-firing.json"),
		map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, body)

	require.Eventually(t, func() bool {
		code, body := get("/-/ready")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "paused") && strings.Contains(body, "mind.app_secret")
	}, 10*time.Second, 50*time.Millisecond, "readiness names the pause and its cause")
	_, metrics := get("/metrics")
	require.Contains(t, metrics, `mind_relay_delivery_paused{reason="auth"} 1`)
	time.Sleep(time.Second)
	require.Equal(t, 1, fake.TotalAttempts(), "no retry storm")
	require.Empty(t, fake.Messages())
	_, dead := get("/api/v1/dlq")
	require.NotContains(t, dead, "mind: auth", "held, not dead-lettered")
	logs := relay.Logs.String()
	require.Contains(t, logs, "delivery to Mind paused")
	require.NotContains(t, logs, "wrong-secret", "the secret never reaches the log")

	// The operator fixes the secret and reloads: what was held goes.
	path := filepath.Join(relay.Dir, "relay.yaml")
	cfg, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(cfg), "app_secret: wrong-secret", "app_secret: "+mindtest.DefaultAppSecret, 1)), 0o600))
	resp, err := adminPost(relay.URL + "/-/reload")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = fake.WaitForMessages(1, 10*time.Second)
	require.NoError(t, err, "delivered after the reload")
	code, body = get("/-/ready")
	require.Equal(t, http.StatusOK, code, body)
	_, metrics = get("/metrics")
	require.Contains(t, metrics, `mind_relay_delivery_paused{reason="auth"} 0`)
}
