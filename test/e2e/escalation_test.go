package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil/amtest"
)

// escalationConfig: receiver ops is on schedule primary (ou_a on call) with
// policy db: step 1 pages lead (ou_lead) after step1, step 2 pages dba,
// whose schedule's override (ou_o) wins over its rotation (ou_b).
func escalationConfig(store string, step1, step2 time.Duration) string {
	start := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`
external_url: http://relay.example.com
mind:
  base_url: "%%MIND%%"
  app_id: %s
  app_secret: %s
sources:
  alertmanager:
    bearer_token: am-token-123
route: {receiver: ops}
receivers:
  - {name: ops, schedule: primary, escalation: db}
  - {name: lead, open_ids: [ou_lead]}
  - {name: dba, schedule: dba}
schedules:
  - name: primary
    rotation: {every: 1d, start: %q, members: [ou_a]}
  - name: dba
    rotation: {every: 1d, start: %q, members: [ou_b]}
    overrides:
      - {start: %q, end: %q, open_id: ou_o}
escalations:
  - name: db
    steps:
      - {after: %s, notify: [lead]}
      - {after: %s, notify: [dba]}
ack:
  secret: e2e-ack-secret-0123456789
delivery: {min_backoff: 50ms, max_backoff: 500ms}
store: {path: %q}
`, mindtest.DefaultAppID, mindtest.DefaultAppSecret, start, start, start, end,
		model(step1), model(step2), store)
}

func model(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

var pgDown = amtest.Alert{
	Labels:      map[string]string{"alertname": "PostgresDown", "team": "db", "severity": "critical"},
	Annotations: map[string]string{"summary": "Postgres pg-1 is down"},
}

// to is whom each message went to, in order.
func to(msgs []mindtest.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Robot != nil {
			out = append(out, strings.Join(m.Robot.ReceiveOpenIDs, ","))
		}
	}
	return out
}

func TestEscalationWithRealAlertmanager(t *testing.T) {
	amtest.Binary(t)
	tests := []struct {
		name  string
		steps [2]time.Duration
		// act runs once the first card arrived; want is whom the cards
		// went to by the end, wait after the last step's time.
		act  func(t *testing.T, relay *relayProc, am *amtest.Alertmanager, fake *mindtest.Server)
		want []string
	}{
		{"unacked: the schedule's member, then step 1's receiver, then step 2's override", [2]time.Duration{2 * time.Second, 4 * time.Second},
			nil, []string{"ou_a", "ou_lead", "ou_o"}},
		{"acked before step 1: nobody else is paged", [2]time.Duration{3 * time.Second, 5 * time.Second},
			func(t *testing.T, relay *relayProc, _ *amtest.Alertmanager, fake *mindtest.Server) {
				code, body := post(t, relay.URL+"/mind/callback", click("ou_a", "值班", "ack", ackToken(t, fake.Messages()[0].Card)), nil)
				require.Equal(t, http.StatusOK, code, body)
			}, []string{"ou_a", "ou_a"}}, // the card, its confirmation
		{"resolution stops the chain", [2]time.Duration{2 * time.Second, 6 * time.Second},
			func(t *testing.T, relay *relayProc, am *amtest.Alertmanager, fake *mindtest.Server) {
				_, err := fake.WaitForMessages(2, 10*time.Second) // step 1
				require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
				resolved := pgDown
				resolved.StartsAt, resolved.EndsAt = time.Now().Add(-time.Minute).UTC(), time.Now().Add(-time.Second).UTC()
				am.Post(t, resolved)
				_, err = fake.WaitForMessages(3, 10*time.Second) // the resolved card
				require.NoError(t, err)
			}, []string{"ou_a", "ou_lead", "ou_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := mindtest.NewServer(t)
			relay := startRelay(t, fake, escalationConfig(filepath.Join(t.TempDir(), "relay.db"), tt.steps[0], tt.steps[1]))
			am := amtest.Start(t, amtest.WebhookConfig(relay.URL+"/webhook/alertmanager", "am-token-123"))
			began := time.Now()
			firing := pgDown
			firing.StartsAt = time.Now().Add(-time.Minute).UTC()
			am.Post(t, firing)
			msgs, err := fake.WaitForMessages(1, 20*time.Second)
			require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
			require.Equal(t, []string{"ou_a"}, msgs[0].Robot.ReceiveOpenIDs, "a receiver with only a schedule: who is on call")
			require.Contains(t, cardText(msgs[0].Card), "<at user_id='ou_a'>", "the card mentions the on-call engineer")
			if tt.act != nil {
				tt.act(t, relay, am, fake)
			}
			if len(tt.want) > 1 {
				_, err = fake.WaitForMessages(len(tt.want), 20*time.Second)
				require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
			}
			// Past the last step, with room for a round: nothing more.
			time.Sleep(time.Until(began.Add(tt.steps[1] + 2500*time.Millisecond)))
			got := fake.Messages()
			require.Equal(t, tt.want, to(got), "relay logs:\n%s", tail(relay.Logs.String(), 4000))
			for _, m := range got[1:] {
				if m.Robot.ReceiveOpenIDs[0] != "ou_a" {
					require.Contains(t, cardText(m.Card), "告警升级", "an escalation card says so")
					require.NotNil(t, findButton(m.Card, "确认"), "with the same ack button")
				}
			}
			require.Zero(t, fake.Duplicates())
		})
	}
}

// A relay restarted between two steps neither loses nor repeats one: the
// steps taken are in the store.
func TestEscalationAcrossRestart(t *testing.T) {
	amtest.Binary(t)
	fake := mindtest.NewServer(t)
	cfg := escalationConfig(filepath.Join(t.TempDir(), "relay.db"), 2*time.Second, 6*time.Second)
	relay := startRelay(t, fake, cfg)
	am := amtest.Start(t, amtest.WebhookConfig(relay.URL+"/webhook/alertmanager", "am-token-123"))
	began := time.Now()
	firing := pgDown
	firing.StartsAt = time.Now().Add(-time.Minute).UTC()
	am.Post(t, firing)
	_, err := fake.WaitForMessages(2, 20*time.Second) // the card, step 1
	require.NoError(t, err, "relay logs:\n%s", relay.Logs.String())
	relay.stop()

	relay2 := startRelay(t, fake, cfg)
	_, err = fake.WaitForMessages(3, 20*time.Second)
	require.NoError(t, err, "relay logs:\n%s", relay2.Logs.String())
	require.GreaterOrEqual(t, time.Since(began), 6*time.Second, "step 2 at its time, not at the restart")
	time.Sleep(2500 * time.Millisecond)
	require.Equal(t, []string{"ou_a", "ou_lead", "ou_o"}, to(fake.Messages()), "relay logs:\n%s", tail(relay2.Logs.String(), 4000))
}
