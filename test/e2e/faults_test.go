package e2e

import (
	"net/http"
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

// Bad credentials are permanent: one attempt, no retry storm, a dead
// letter that says why, and a log line that says it plainly.
func TestBadCredentialsDoNotStorm(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, strings.Replace(baseConfig(""), "app_secret: "+mindtest.DefaultAppSecret, "app_secret: wrong-secret", 1))
	code, body := post(t, relay.URL+"/webhook/alertmanager", readTestdata(t, "alertmanager/am-0.25-firing.json"),
		map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, body)

	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, relay.URL+"/api/v1/dlq", nil)
		req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return strings.Contains(b.String(), `"last_error":"mind: auth`)
	}, 10*time.Second, 50*time.Millisecond, "dead-lettered with the reason")
	time.Sleep(time.Second)
	require.Equal(t, 1, fake.TotalAttempts(), "no retry storm")
	require.Empty(t, fake.Messages())
	logs := relay.Logs.String()
	require.Contains(t, logs, "auth")
	require.NotContains(t, logs, "wrong-secret", "the secret never reaches the log")
}
