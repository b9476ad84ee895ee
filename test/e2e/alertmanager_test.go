package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil/amtest"
)

// A real Alertmanager fires, then resolves, alerts; the relay routes them
// and the fake Mind gets the right cards for the right open_ids.
func TestRealAlertmanagerFiringThenResolved(t *testing.T) {
	amtest.Binary(t)
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, baseConfig(""))
	am := amtest.Start(t, amtest.WebhookConfig(relay.URL+"/webhook/alertmanager", "am-token-123"))

	start := time.Now().Add(-time.Minute).UTC()
	am.Post(t,
		amtest.Alert{
			Labels:       map[string]string{"alertname": "PostgresDown", "team": "db", "severity": "critical", "instance": "pg-1:5432"},
			Annotations:  map[string]string{"summary": "Postgres pg-1 is down", "description": "pg-1 has not answered for 1m"},
			StartsAt:     start,
			GeneratorURL: "http://prometheus.local:9090/graph?g0.expr=pg_up+%3D%3D+0",
		},
		amtest.Alert{
			Labels:      map[string]string{"alertname": "DiskFilling", "team": "web", "severity": "critical"},
			Annotations: map[string]string{"summary": "disk /var is 91% full"},
			StartsAt:    start,
		},
	)

	msgs, err := fake.WaitForMessages(2, 20*time.Second)
	require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
	byTitle := map[string]mindtest.Message{}
	for _, m := range msgs {
		require.Equal(t, mind.EndpointRobotMessage, m.Endpoint)
		require.NotNil(t, m.Card)
		byTitle[m.Card.Header.Title.Content] = m
	}
	pg := find(t, msgs, "PostgresDown")
	require.Equal(t, []string{"ou_db1", "ou_db2"}, pg.Robot.ReceiveOpenIDs, "team=db routes to db-oncall")
	require.Equal(t, card.ColorRed, pg.Card.Header.Template)
	require.True(t, strings.HasPrefix(pg.Card.Header.Title.Content, "触发中"), pg.Card.Header.Title.Content)
	body := cardText(pg.Card)
	require.Contains(t, body, "Postgres pg-1 is down")
	require.Contains(t, body, "pg-1:5432")
	ack := findButton(pg.Card, "确认")
	require.NotNil(t, ack, "a firing card carries the ack button")
	require.Equal(t, "click", ack.Type)
	require.Equal(t, "relay.ack", ack.Event)
	require.Equal(t, "$card_id", ack.Value["card_id"])
	require.Equal(t, "ack", ack.Value["action"])
	require.NotEmpty(t, ack.Value["token"])
	require.NotNil(t, findButtonURL(pg.Card, "http://prometheus.local:9090/graph?g0.expr=pg_up+%3D%3D+0"), "generator URL button")
	require.NotNil(t, findButtonURL(pg.Card, am.URL), "Alertmanager link button")

	disk := find(t, msgs, "DiskFilling")
	require.Equal(t, []string{"ou_default"}, disk.Robot.ReceiveOpenIDs, "no route matches: root receiver")

	// Resolve PostgresDown; Alertmanager sends the resolved notification.
	am.Post(t, amtest.Alert{
		Labels:   map[string]string{"alertname": "PostgresDown", "team": "db", "severity": "critical", "instance": "pg-1:5432"},
		StartsAt: start,
		EndsAt:   time.Now().Add(-time.Second).UTC(),
	})
	msgs, err = fake.WaitForMessages(3, 20*time.Second)
	require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
	resolved := msgs[2]
	require.Equal(t, []string{"ou_db1", "ou_db2"}, resolved.Robot.ReceiveOpenIDs)
	require.Equal(t, card.ColorGreen, resolved.Card.Header.Template)
	require.True(t, strings.HasPrefix(resolved.Card.Header.Title.Content, "已恢复"), resolved.Card.Header.Title.Content)
	require.Contains(t, resolved.Card.Header.Title.Content, "PostgresDown")
	require.Nil(t, findButton(resolved.Card, "确认"), "nothing to ack once resolved")

	require.Empty(t, fake.Rejections(), "the fake Mind rejected nothing the relay sent")
	require.Zero(t, fake.Duplicates())
}

// Alertmanager retries 5xx and drops 4xx: the relay answers 401 to a wrong
// token and 400 to garbage, and the bad request does not disturb others.
func TestWebhookStatusCodes(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, baseConfig(""))
	good := readTestdata(t, "alertmanager/am-0.25-firing.json")
	auth := map[string]string{"Authorization": "Bearer am-token-123"}

	tests := []struct {
		name, path, body string
		header           map[string]string
		want             int
		wantErr          string
	}{
		{"accepted", "/webhook/alertmanager", good, auth, http.StatusOK, ""},
		{"no token", "/webhook/alertmanager", good, nil, http.StatusUnauthorized, "unauthorized"},
		{"wrong token", "/webhook/alertmanager", good, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized, "unauthorized"},
		{"garbage", "/webhook/alertmanager", "{not json", auth, http.StatusBadRequest, "malformed JSON"},
		{"empty body", "/webhook/alertmanager", "", auth, http.StatusBadRequest, "request body is empty"},
		{"wrong version", "/webhook/alertmanager", strings.Replace(good, `"version": "4"`, `"version": "3"`, 1), auth, http.StatusBadRequest, `payload version "3" is not supported`},
		{"no alerts", "/webhook/alertmanager", `{"version":"4","status":"firing","receiver":"x"}`, auth, http.StatusBadRequest, `payload has no "alerts"`},
		{"empty alerts", "/webhook/alertmanager", `{"version":"4","status":"firing","alerts":[]}`, auth, http.StatusBadRequest, `"alerts" is empty`},
		{"alerts wrong type", "/webhook/alertmanager", `{"version":"4","alerts":{}}`, auth, http.StatusBadRequest, `field "alerts"`},
		{"unknown receiver", "/webhook/alertmanager/nobody", good, auth, http.StatusNotFound, `unknown receiver "nobody"`},
		{"named receiver", "/webhook/alertmanager/payments", good, auth, http.StatusOK, ""},
		{"too large", "/webhook/alertmanager", `{"version":"4","alerts":[` + strings.Repeat(`{"labels":{"a":"b"}},`, 300000) + `{}]}`, auth, http.StatusRequestEntityTooLarge, "larger than the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, relay.URL+tc.path, tc.body, tc.header)
			require.Equal(t, tc.want, code, body)
			if tc.wantErr != "" {
				var e struct{ Error string }
				require.NoError(t, json.Unmarshal([]byte(body), &e), body)
				require.Contains(t, e.Error, tc.wantErr)
			}
		})
	}
	msgs, err := fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	// Two streams: the relay orders cards within a stream, not across.
	require.ElementsMatch(t, [][]string{{"ou_db1", "ou_db2"}, {"ou_pay"}},
		[][]string{msgs[0].Robot.ReceiveOpenIDs, msgs[1].Robot.ReceiveOpenIDs})

	// The process is still up and healthy after all that.
	resp, err := http.Get(relay.URL + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func find(t *testing.T, msgs []mindtest.Message, alertname string) mindtest.Message {
	t.Helper()
	for _, m := range msgs {
		if m.Card != nil && strings.Contains(m.Card.Header.Title.Content, alertname) {
			return m
		}
	}
	t.Fatalf("no card for %s among %d messages", alertname, len(msgs))
	return mindtest.Message{}
}

func cardText(c *card.Card) string {
	var b strings.Builder
	for _, e := range c.Elements {
		b.WriteString(e.Content)
		b.WriteString("\n")
	}
	return b.String()
}

func findButton(c *card.Card, label string) *card.Button {
	for _, e := range c.Elements {
		for i := range e.Actions {
			if e.Actions[i].Text.Content == label {
				return &e.Actions[i]
			}
		}
	}
	return nil
}

func findButtonURL(c *card.Card, prefix string) *card.Button {
	for _, e := range c.Elements {
		for i := range e.Actions {
			if e.Actions[i].Type == "view" && strings.HasPrefix(e.Actions[i].URL, prefix) {
				return &e.Actions[i]
			}
		}
	}
	return nil
}
