package relay

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
)

const oncallConfig = `
mind: {app_id: robot_test}
timezone: UTC
route: {receiver: db}
receivers:
  - {name: db, schedule: db-primary}
  - {name: night, schedule: empty}
schedules:
  - name: db-primary
    rotation: {every: 1d, start: "2026-01-05T00:00", members: [ou_a, ou_b]}
    overrides:
      - {start: "2026-01-07T00:00", end: "2026-01-07T12:00", open_id: ou_o}
  - name: empty
    rotation: {every: 1d, start: "2026-02-01T00:00", members: [ou_z]}
ack: {secret: relay-test-ack-secret-0123}
`

func oncallState(t *testing.T, text string) *State {
	t.Helper()
	cfg, err := config.Load([]byte(text), t.TempDir())
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: cfg.Location, AckSecret: []byte(cfg.Ack.Secret.Value())}, nil, nil)
	require.NoError(t, err)
	return &State{Config: cfg, Tree: tree, Renderer: r}
}

// recorder is the fake incidents store that also records recipients.
type recorder struct {
	incidents
	got map[string][]string
}

func (r *recorder) RecordRecipients(_ context.Context, id string, ids []string, _ time.Time) error {
	r.got[id] = append(r.got[id], ids...)
	return nil
}

func TestScheduleReceiverGetsWhoIsOnCallAtSend(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		receiver string
		accept   time.Time
		send     time.Time
		want     []string
		wantErr  string
	}{
		{"on call at accept and send", "db", day(5, 1), day(5, 2), []string{"ou_a"}, ""},
		{"the handoff between accept and send: the new one gets it", "db", day(5, 23), day(6, 1), []string{"ou_b"}, ""},
		{"an override wins", "db", day(7, 1), day(7, 2), []string{"ou_o"}, ""},
		{"nobody on call: dead-lettered with the reason", "night", day(5, 0), day(5, 2), nil,
			`receiver "night": nobody is on call on schedule "empty" at 2026-01-05T02:00:00Z and it has no open_ids`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := NewLive(oncallState(t, oncallConfig))
			var got []store.Notification
			rl := New(live, Options{Now: func() time.Time { return tt.accept },
				Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = append(got, ns...); return nil })},
				prometheus.NewRegistry())
			rec := &recorder{incidents: incidents{m: map[string]incident.Incident{}}, got: map[string][]string{}}
			cards := NewCards(live, rec, nil, prometheus.NewRegistry())
			cards.SetClock(func() time.Time { return tt.send })

			n, err := rl.Accept(context.Background(), group(t), tt.receiver)
			require.NoError(t, err, "a receiver with only a schedule is accepted (it used to fail with 500)")
			require.Equal(t, 1, n)
			require.Equal(t, mind.EndpointRobotMessage, got[0].Request.Endpoint)
			got[0].IncidentID = "inc1"

			req, err := cards.Render(context.Background(), got[0])
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.True(t, errors.Is(err, ErrNobodyOnCall))
				require.False(t, errors.Is(err, store.ErrSkip), "a card nobody gets is dead-lettered, not skipped")
				require.Empty(t, rec.got)
				return
			}
			require.NoError(t, err)
			var body mind.RobotMessage
			require.NoError(t, json.Unmarshal(req.Body, &body))
			require.Equal(t, tt.want, body.ReceiveOpenIDs)
			require.Equal(t, tt.want, rec.got["inc1"], "who got it is recorded: they may ack it")
		})
	}
}

func TestRemovedScheduleReceiverKeepsItsSchedule(t *testing.T) {
	live := NewLive(oncallState(t, oncallConfig))
	var got []store.Notification
	rl := New(live, Options{Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = append(got, ns...); return nil })},
		prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "db")
	require.NoError(t, err)
	// A reload drops the receiver but keeps its schedule: the card still
	// goes to whoever is on call on it.
	live.Swap(oncallState(t, `
mind: {app_id: robot_test}
timezone: UTC
route: {receiver: other}
receivers:
  - {name: other, schedule: db-primary}
schedules:
  - name: db-primary
    rotation: {every: 1d, start: "2026-01-05T00:00", members: [ou_a, ou_b]}
`))
	cards := NewCards(live, &incidents{}, nil, prometheus.NewRegistry())
	cards.SetClock(func() time.Time { return time.Date(2026, 1, 6, 3, 0, 0, 0, time.UTC) })
	req, err := cards.Render(context.Background(), got[0])
	require.NoError(t, err)
	var body mind.RobotMessage
	require.NoError(t, json.Unmarshal(req.Body, &body))
	require.Equal(t, []string{"ou_b"}, body.ReceiveOpenIDs)
}

func TestMentions(t *testing.T) {
	at := time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		extra    string
		receiver string
		labels   map[string]string
		want     []render.Mention
	}{
		{"on call, by open_id", "", "db", nil, []render.Mention{{OpenID: "ou_a"}}},
		{"on call, named by mentions.users", "mentions: {users: {alice: ou_a}}\n", "db", nil, []render.Mention{{OpenID: "ou_a", Name: "alice"}}},
		{"and the owner the label names", "mentions: {label: owner, users: {alice: ou_a, bob: ou_b}}\n", "db",
			map[string]string{"owner": "bob"}, []render.Mention{{OpenID: "ou_a", Name: "alice"}, {OpenID: "ou_b", Name: "bob"}}},
		{"the owner once, when on call too", "mentions: {label: owner, users: {alice: ou_a}}\n", "db",
			map[string]string{"owner": "alice"}, []render.Mention{{OpenID: "ou_a", Name: "alice"}}},
		{"an owner not in users: nobody", "mentions: {label: owner, users: {alice: ou_a}}\n", "night",
			map[string]string{"owner": "carol"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := oncallState(t, oncallConfig+tt.extra)
			got := Mentions(st.Config, st.Config.ReceiverByName(tt.receiver), tt.labels, at)
			require.Equal(t, tt.want, got)
		})
	}
}
