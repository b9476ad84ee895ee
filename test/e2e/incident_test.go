package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil/amtest"
)

// fakeAM is an Alertmanager API v2 that the test steers: it lists the
// alerts the test says fire, takes silences and says when it started.
type fakeAM struct {
	*httptest.Server
	mu       sync.Mutex
	alerts   []map[string]any
	started  time.Time
	silences map[string]string // id → state
	requests atomic.Int64
}

func newFakeAM(t *testing.T) *fakeAM {
	t.Helper()
	f := &fakeAM{started: time.Now().Add(-time.Hour), silences: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/silences":
		id := fmt.Sprintf("sil-%d", len(f.silences)+1)
		f.silences[id] = "active"
		_ = json.NewEncoder(w).Encode(map[string]string{"silenceID": id})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v2/silence/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/v2/silence/")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "matchers": []any{}, "startsAt": time.Now(), "endsAt": time.Now().Add(time.Hour),
			"createdBy": "x", "comment": "x", "status": map[string]string{"state": f.silences[id]}})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v2/silence/"):
		f.silences[strings.TrimPrefix(r.URL.Path, "/api/v2/silence/")] = "expired"
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/alerts":
		_ = json.NewEncoder(w).Encode(f.alerts)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/status":
		_ = json.NewEncoder(w).Encode(map[string]any{"uptime": f.started, "cluster": map[string]any{"status": "disabled"},
			"config": map[string]any{"original": ""}, "versionInfo": map[string]any{}})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAM) setAlerts(as ...map[string]any) {
	f.mu.Lock()
	f.alerts = as
	f.mu.Unlock()
}

func (f *fakeAM) active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.silences {
		if s == "active" {
			n++
		}
	}
	return n
}

// amPayload is a captured Alertmanager webhook, changed by edit.
func amPayload(t *testing.T, file string, edit func(p map[string]any)) string {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(readTestdata(t, "alertmanager/"+file)), &p))
	if edit != nil {
		edit(p)
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return string(b)
}

// setAlerts sets the status, startsAt and endsAt of every alert of p.
func setAlerts(status string, startsAt, endsAt time.Time) func(map[string]any) {
	return func(p map[string]any) {
		p["status"] = status
		for _, a := range p["alerts"].([]any) {
			m := a.(map[string]any)
			m["status"] = status
			m["startsAt"] = startsAt.UTC().Format(time.RFC3339Nano)
			if endsAt.IsZero() {
				m["endsAt"] = "0001-01-01T00:00:00Z"
			} else {
				m["endsAt"] = endsAt.UTC().Format(time.RFC3339Nano)
			}
		}
	}
}

func webhook(t *testing.T, relay *relayProc, body string) {
	t.Helper()
	code, out := post(t, relay.URL+"/webhook/alertmanager", body, map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, out)
}

func colours(msgs []mindtest.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Card != nil {
			out = append(out, m.Card.Header.Template)
		}
	}
	return out
}

// clickAck clicks the ack button of c and wants the click to act.
func clickAck(t *testing.T, relay *relayProc, c *card.Card) string {
	t.Helper()
	code, body := post(t, relay.URL+"/mind/callback", click("ou_db1", "值班工程师", "ack", ackToken(t, c)), nil)
	require.Equal(t, http.StatusOK, code, body)
	return body
}

// Flapping, and issue 11's bug 1: fire, ack, resolve (the relay's poller
// sends the green card, the silence having hidden the resolution), fire
// again, resolve again. Each occurrence has its own red and green card: the
// second resolution is not dropped as "already sent", and the second
// occurrence, which nobody acknowledged, is never orange.
func TestFlappingAlertResolvesEachOccurrence(t *testing.T) {
	am := newFakeAM(t)
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("  silence:\n    duration: 2h\n    alertmanager_url: "+am.URL+"\n", ""))

	first := time.Now().Add(-10 * time.Minute).UTC()
	webhook(t, relay, amPayload(t, "am-0.25-firing.json", setAlerts("firing", first, time.Time{})))
	msgs, err := fake.WaitForMessages(1, 10*time.Second)
	require.NoError(t, err)
	am.setAlerts(map[string]any{"fingerprint": "0716e50b618d405e", "labels": map[string]string{
		"alertname": "HighCPU", "instance": "db-1:9100", "severity": "critical", "team": "db"},
		"startsAt": first, "endsAt": time.Now().Add(time.Hour), "status": map[string]any{"state": "suppressed"}})
	require.Contains(t, clickAck(t, relay, msgs[0].Card), "已确认")
	require.Eventually(t, func() bool { return am.active() == 1 }, 10*time.Second, 20*time.Millisecond, "silenced")
	_, err = fake.WaitForMessages(2, 10*time.Second) // the confirmation
	require.NoError(t, err)

	// Resolved at the source: the poller sees it gone and sends the card.
	am.setAlerts()
	msgs, err = fake.WaitForMessages(3, 15*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{card.ColorRed, card.ColorOrange, card.ColorGreen}, colours(msgs))
	require.Eventually(t, func() bool { return am.active() == 0 }, 10*time.Second, 20*time.Millisecond, "silence expired")

	// It fires again: a new occurrence, red, and nobody acks it.
	second := time.Now().UTC()
	webhook(t, relay, amPayload(t, "am-0.25-firing.json", setAlerts("firing", second, time.Time{})))
	msgs, err = fake.WaitForMessages(4, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, card.ColorRed, msgs[3].Card.Header.Template)
	// Alertmanager's own resolution of it must turn it green.
	webhook(t, relay, amPayload(t, "am-0.25-firing.json", setAlerts("resolved", second, time.Now())))
	msgs, err = fake.WaitForMessages(5, 10*time.Second)
	require.NoError(t, err, "the second resolution reaches Mind")
	require.Equal(t, []string{card.ColorRed, card.ColorOrange, card.ColorGreen, card.ColorRed, card.ColorGreen}, colours(msgs))
	require.NotContains(t, cardText(msgs[4].Card), "值班工程师", "the second occurrence was never acknowledged")
}

// Issue 11's bug 2: a click acks what that card showed. Card v1 shows three
// alerts; v2, with a fourth, waits in the queue while Mind is down; a click
// on v1 must not cover the fourth: v2 goes out red, and shows each alert's
// own state: the fourth first, 新告警 · 未确认, the three 已确认 by whom
// acked them. A click on v2 acks all four: the confirmation is orange.
func TestClickAcksOnlyWhatTheCardShowed(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("", ""))

	webhook(t, relay, amPayload(t, "am-0.25-group-1.json", nil))
	msgs, err := fake.WaitForMessages(2, 10*time.Second) // to payments, and to everyone
	require.NoError(t, err)
	v1 := paymentsCard(msgs, "api-0")
	require.NotNil(t, v1)
	require.Equal(t, card.ColorRed, v1.Header.Template)

	fake.SetDown(true)
	webhook(t, relay, amPayload(t, "am-0.25-group-1.json", func(p map[string]any) {
		as := p["alerts"].([]any)
		extra := map[string]any{}
		for k, v := range as[0].(map[string]any) {
			extra[k] = v
		}
		extra["labels"] = map[string]any{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-9", "severity": "warning", "team": "payments"}
		extra["fingerprint"] = "0000000000000009"
		p["alerts"] = append(as, extra)
	}))
	time.Sleep(300 * time.Millisecond) // v2 is queued, retrying

	body := clickAck(t, relay, v1)
	require.Contains(t, body, "已确认", "the click acks the three alerts v1 showed")
	fake.SetDown(false)

	require.Eventually(t, func() bool {
		for _, m := range fake.Messages() {
			if m.Card != nil && strings.Contains(cardText(m.Card), "api-9") {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "v2 reaches Mind")
	time.Sleep(500 * time.Millisecond)
	for _, m := range fake.Messages() {
		if m.Card != nil && strings.Contains(cardText(m.Card), "api-9") {
			require.Equal(t, card.ColorRed, m.Card.Header.Template, "the fourth alert was never acknowledged: it pages red")
		}
	}
	// The payments card, whose first three alerts v1's click acked.
	v2 := paymentsCard(fake.Messages(), "api-9")
	require.NotNil(t, v2)
	text := cardText(v2)
	require.Equal(t, 1, strings.Count(text, "<font color='red'>**新告警 · 未确认**</font>"), text)
	require.Equal(t, 3, strings.Count(text, "<font color='orange'>已确认 · 值班工程师 · "), text)
	require.Less(t, strings.Index(text, "pod=api-9"), strings.Index(text, "已确认 · "), "the new alert is listed first")

	n := len(fake.Messages())
	require.Contains(t, clickAck(t, relay, v2), "已确认", "v2's button acks the fourth")
	msgs, err = fake.WaitForMessages(n+1, 10*time.Second)
	require.NoError(t, err)
	confirm := paymentsCard(msgs[n:], "api-9")
	require.NotNil(t, confirm, "the confirmation goes to payments")
	require.Equal(t, card.ColorOrange, confirm.Header.Template)
	require.Contains(t, confirm.Header.Title.Content, "(4)")
	require.NotContains(t, cardText(confirm), "未确认")
}

// paymentsCard is the last card sent to the payments receiver (a robot
// message to ou_pay) that mentions pod.
func paymentsCard(msgs []mindtest.Message, pod string) *card.Card {
	var out *card.Card
	for _, m := range msgs {
		if m.Card != nil && m.Robot != nil && strings.Contains(cardText(m.Card), "pod="+pod) {
			out = m.Card
		}
	}
	return out
}

// Issue 11's bug 3, against the real Alertmanager: it keeps alerts in
// memory, so right after a restart it lists none until Prometheus sends
// them again. That is no evidence of a resolution: no 已恢复 card is sent
// and the relay's silence stays.
func TestAlertmanagerRestartIsNoResolution(t *testing.T) {
	amtest.Binary(t)
	fake := mindtest.NewServer(t)
	amAddr := amtest.FreePort(t)
	relay := startRelay(t, fake, ackConfig("  silence:\n    duration: 2h\n    alertmanager_url: http://"+amAddr+"\n", ""))
	am := amtest.StartAt(t, amAddr, amtest.WebhookConfig(relay.URL+"/webhook/alertmanager", "am-token-123"))

	labels := map[string]string{"alertname": "PostgresDown", "team": "db", "severity": "critical", "instance": "pg-1:5432"}
	start := time.Now().Add(-2 * time.Minute).UTC()
	am.Post(t, amtest.Alert{Labels: labels, StartsAt: start})
	msgs, err := fake.WaitForMessages(1, 20*time.Second)
	require.NoError(t, err)
	require.Contains(t, clickAck(t, relay, msgs[0].Card), "已确认")
	require.Eventually(t, func() bool { return len(activeSilences(t, am)) == 1 }, 10*time.Second, 50*time.Millisecond)
	_, err = fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)

	am.Restart(t)
	time.Sleep(3 * time.Second) // fifteen polls of an empty alert list
	require.Equal(t, []string{card.ColorRed, card.ColorOrange}, colours(fake.Messages()), "no 已恢复 after a restart")
	require.Len(t, activeSilences(t, am), 1, "the silence stays")

	// Prometheus sends the alert again: still acknowledged, still silent.
	am.Post(t, amtest.Alert{Labels: labels, StartsAt: start})
	time.Sleep(2 * time.Second)
	require.Equal(t, []string{card.ColorRed, card.ColorOrange}, colours(fake.Messages()))
	require.Len(t, activeSilences(t, am), 1)
}

// Issue 10's SSRF: a payload chooses no URL. A webhook whose externalURL
// names the attacker's server, and an ack of its card, make no request to
// it: with ack.silence on and no alertmanager_url (nor an allowed_urls
// entry it matches) the ack is recorded without a silence, and the
// confirmation card says so.
func TestPayloadURLGetsNoRequest(t *testing.T) {
	attacker := newFakeAM(t)
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("  silence:\n    duration: 2h\n    allowed_urls: [http://alertmanager.internal:9093/]\n", ""))

	webhook(t, relay, amPayload(t, "am-0.25-firing.json", func(p map[string]any) {
		p["externalURL"] = attacker.URL + "/#"
	}))
	msgs, err := fake.WaitForMessages(1, 10*time.Second)
	require.NoError(t, err)
	require.Contains(t, clickAck(t, relay, msgs[0].Card), "已确认")
	msgs, err = fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	confirm := cardText(msgs[1].Card)
	require.Equal(t, card.ColorOrange, msgs[1].Card.Header.Template)
	require.Contains(t, confirm, "未能静默：告警来源地址不在", "the confirmation says why there is no silence")
	time.Sleep(time.Second) // five polls
	require.Zero(t, attacker.requests.Load(), "not one request to a URL from the payload")
}
