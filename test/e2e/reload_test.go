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

// POST /-/reload swaps in a new config whole; a bad file keeps the old one
// live and answers with its problems.
func TestReload(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, baseConfig(""))
	path := filepath.Join(relay.Dir, "relay.yaml")
	auth := map[string]string{"Authorization": "Bearer am-token-123"}
	firing := readTestdata(t, "alertmanager/am-0.25-firing.json") // team=db

	reload := func() (int, string) {
		resp, err := adminPost(relay.URL + "/-/reload")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	metric := func(name string) string {
		resp, err := http.Get(relay.URL + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, name+" ") {
				return strings.TrimPrefix(l, name+" ")
			}
		}
		return ""
	}

	// A bad file: the old config stays, the answer lists the problems.
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	bad := strings.Replace(string(good), "receiver: db-oncall", "receiver: nobody", 1)
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
	code, body := reload()
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, `receiver \"nobody\" is not defined`)
	require.Equal(t, "0", metric("mind_relay_config_last_reload_successful"))

	code, body = post(t, relay.URL+"/webhook/alertmanager", firing, auth)
	require.Equal(t, http.StatusOK, code, body)
	msgs, err := fake.WaitForMessages(1, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"ou_db1", "ou_db2"}, msgs[0].Robot.ReceiveOpenIDs, "old routes still live")

	// A good new file: db alerts now go to a new person, and the token
	// Alertmanager sends has changed.
	next := strings.Replace(string(good), "open_ids: [ou_db1, ou_db2]", "open_ids: [ou_db3]", 1)
	next = strings.Replace(next, "bearer_token: am-token-123", "bearer_token: am-token-456", 1)
	require.NoError(t, os.WriteFile(path, []byte(next), 0o600))
	code, body = reload()
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "1", metric("mind_relay_config_last_reload_successful"))

	code, _ = post(t, relay.URL+"/webhook/alertmanager", firing, auth)
	require.Equal(t, http.StatusUnauthorized, code, "the old token is gone")
	code, body = post(t, relay.URL+"/webhook/alertmanager", strings.ReplaceAll(firing, "HighCPU", "HighCPU2"),
		map[string]string{"Authorization": "Bearer am-token-456"})
	require.Equal(t, http.StatusOK, code, body)
	msgs, err = fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"ou_db3"}, msgs[1].Robot.ReceiveOpenIDs)
}

// Metrics named in the interface exist and carry no secret.
func TestMetricsExposeNoSecret(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, baseConfig(""))
	code, body := post(t, relay.URL+"/webhook/alertmanager", readTestdata(t, "alertmanager/am-0.25-group-1.json"),
		map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, body)
	_, err := fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err, "payments and everyone")
	require.Eventually(t, func() bool {
		resp, err := http.Get(relay.URL + "/metrics")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := string(b)
		for _, secret := range []string{mindtest.DefaultAppSecret, "am-token-123", "e2e-ack-secret-0123456789"} {
			require.NotContains(t, text, secret)
		}
		for _, name := range []string{
			`mind_relay_webhooks_received_total{code="200",source="alertmanager"} 1`,
			`mind_relay_alerts_received_total{source="alertmanager",status="firing"} 3`,
			`mind_relay_notifications_total{receiver="payments",result="delivered"} 1`,
			`mind_relay_mind_requests_total{endpoint="robot_send_message",outcome="success"} 1`,
			`mind_relay_mind_requests_total{endpoint="send_message",outcome="success"} 1`,
			"mind_relay_mind_request_duration_seconds_bucket",
			"mind_relay_delivery_retries_total 0",
			"mind_relay_queue_depth 0",
			"mind_relay_template_errors_total 0",
			"mind_relay_delivery_latency_seconds_count 2",
			`mind_relay_notifications_total{receiver="everyone",result="delivered"} 1`,
		} {
			if !strings.Contains(text, name) {
				t.Logf("not yet: %s", name)
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond)
	for _, l := range strings.Split(relay.Logs.String(), "\n") {
		require.NotContains(t, l, mindtest.DefaultAppSecret)
		require.NotContains(t, l, "am-token-123")
	}
}

// Cards are rendered when they leave: a notification queued while Mind is
// down goes to its receiver as the config says when it is sent. A
// receiver that a reload removed meanwhile still gets its card, sent to
// the open_ids it had when the webhook was accepted.
func TestQueuedCardsFollowReload(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, baseConfig(""))
	path := filepath.Join(relay.Dir, "relay.yaml")
	auth := map[string]string{"Authorization": "Bearer am-token-123"}
	firing := readTestdata(t, "alertmanager/am-0.25-firing.json") // team=db → db-oncall

	fake.SetDown(true)
	code, body := post(t, relay.URL+"/webhook/alertmanager", firing, auth)
	require.Equal(t, http.StatusOK, code, body)
	code, body = post(t, relay.URL+"/webhook/alertmanager/payments", firing, auth)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { return fake.TotalAttempts() >= 2 }, 10*time.Second, 10*time.Millisecond)

	// db-oncall is removed; payments gets a new person.
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	next := strings.Replace(string(good), "receiver: db-oncall", "receiver: default", 1)
	next = strings.Replace(next, "  - name: db-oncall\n    open_ids: [ou_db1, ou_db2]\n", "", 1)
	next = strings.Replace(next, "open_ids: [ou_pay]", "open_ids: [ou_pay2]", 1)
	require.NotEqual(t, string(good), next)
	require.NoError(t, os.WriteFile(path, []byte(next), 0o600))
	resp, err := adminPost(relay.URL + "/-/reload")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))

	fake.SetDown(false)
	msgs, err := fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	var got [][]string
	for _, m := range msgs {
		got = append(got, m.Robot.ReceiveOpenIDs)
		require.NotNil(t, m.Card)
		require.Contains(t, m.Card.Header.Title.Content, "HighCPU")
	}
	require.ElementsMatch(t, [][]string{{"ou_db1", "ou_db2"}, {"ou_pay2"}}, got)
	require.Contains(t, relay.Logs.String(), "receiver removed by a reload")
}

// adminPost posts with the base config's admin token.
func adminPost(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	return http.DefaultClient.Do(req)
}
