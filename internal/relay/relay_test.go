package relay

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
)

type queueFunc func(ctx context.Context, ns []store.Notification) error

func (f queueFunc) Submit(ctx context.Context, ns []store.Notification) error { return f(ctx, ns) }

// incidents is a fake store of incidents.
type incidents struct {
	m   map[string]incident.Incident
	err error
}

func (f *incidents) Incident(_ context.Context, id string) (incident.Incident, error) {
	if f.err != nil {
		return incident.Incident{}, f.err
	}
	inc, ok := f.m[id]
	if !ok {
		return incident.Incident{}, store.ErrNoIncident
	}
	return inc, nil
}

// fixture is a relay and the cards renderer of its queue.
type fixture struct {
	rl    *Relay
	cards *Cards
	incs  *incidents
	got   []store.Notification
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{incs: &incidents{m: map[string]incident.Incident{}}}
	live := NewLive(state(t))
	if opts.Queue == nil {
		opts.Queue = queueFunc(func(_ context.Context, ns []store.Notification) error { f.got = append(f.got, ns...); return nil })
	}
	f.rl = New(live, opts, prometheus.NewRegistry())
	f.cards = NewCards(live, f.incs, nil, prometheus.NewRegistry())
	return f
}

func state(t *testing.T) *State {
	t.Helper()
	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
route:
  receiver: default
  routes:
    - {matchers: ['team="payments"'], receiver: payments, continue: true}
    - {matchers: ['severity="warning"'], receiver: everyone}
receivers:
  - {name: default, open_ids: [ou_default]}
  - {name: payments, open_ids: [ou_pay1, ou_pay2]}
  - {name: everyone, all_subscribers: true}
ack: {secret: relay-test-ack-secret-0123}
`), t.TempDir())
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: cfg.Location, AckSecret: []byte(cfg.Ack.Secret.Value())}, nil, nil)
	require.NoError(t, err)
	return &State{Config: cfg, Tree: tree, Renderer: r}
}

func group(t *testing.T) *alert.Group {
	t.Helper()
	b, err := os.ReadFile("../../testdata/alertmanager/am-0.25-group-1.json")
	require.NoError(t, err)
	g, _, err := payload.ParseAlertmanager(b)
	require.NoError(t, err)
	return g
}

// sent is the request the delivery queue's worker sends for n: rendered now.
func sent(t *testing.T, c *Cards, n store.Notification) mind.Request {
	t.Helper()
	req, err := c.Render(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, n.Request.Endpoint, req.Endpoint)
	require.Equal(t, n.Request.RequestID, req.RequestID)
	return req
}

func TestAcceptRoutesToEveryReceiver(t *testing.T) {
	f := newFixture(t, Options{Now: func() time.Time { return time.Unix(1_790_000_000, 0) }})
	rl := f.rl

	n, err := rl.Accept(context.Background(), group(t), "")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got := f.got
	require.Len(t, got, 2)

	require.Equal(t, "payments", got[0].Receiver)
	require.Equal(t, mind.EndpointRobotMessage, got[0].Request.Endpoint)
	require.Equal(t, got[0].ID, got[0].Request.RequestID, "the row id is Mind's x-request-id")
	require.Empty(t, got[0].Request.Body, "rendered at send time")
	require.Zero(t, testutil.ToFloat64(f.cards.renders), "nothing rendered on the webhook path")
	var robot mind.RobotMessage
	require.NoError(t, json.Unmarshal(sent(t, f.cards, got[0]).Body, &robot))
	require.Equal(t, []string{"ou_pay1", "ou_pay2"}, robot.ReceiveOpenIDs)
	require.Equal(t, "interactive", robot.MsgType)

	require.Equal(t, "everyone", got[1].Receiver)
	require.Equal(t, mind.EndpointSendMessage, got[1].Request.Endpoint)
	var send mind.SendMessage
	require.NoError(t, json.Unmarshal(sent(t, f.cards, got[1]).Body, &send))
	require.Equal(t, 1, send.ReceiveType)
	require.Empty(t, send.ReceiveIDs)

	require.NotEqual(t, got[0].GroupID, got[1].GroupID, "one group per receiver")
	require.Equal(t, alert.GroupID(alert.SourceAlertmanager, `{}:{alertname="KubePodCrashLooping"}`, "payments"), got[0].GroupID)
	require.Equal(t, 3.0, testutil.ToFloat64(rl.alerts.WithLabelValues("alertmanager", "firing")))
	// A group card, with the alerts it shows for its incident; the group
	// is stored once, with it.
	require.Equal(t, store.KindGroup, got[0].Kind)
	require.Len(t, got[0].Alerts, 3)
	require.Equal(t, "fb188447d791c9e6", got[0].Alerts[0].Fingerprint)
	require.True(t, got[0].Alerts[0].Firing)
	d, err := DecodeGroup(got[0].Group)
	require.NoError(t, err)
	require.Len(t, d.Group.Alerts, 3)
}

func TestAcceptNamedReceiver(t *testing.T) {
	var got []store.Notification
	rl := New(NewLive(state(t)), Options{Queue: queueFunc(func(_ context.Context, ns []store.Notification) error {
		got = ns
		return nil
	})}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "default", got[0].Receiver)

	_, err = rl.Accept(context.Background(), group(t), "nobody")
	require.ErrorIs(t, err, ErrUnknownReceiver)
}

func TestAcceptQueueFailureIsRetryable(t *testing.T) {
	rl := New(NewLive(state(t)), Options{Queue: queueFunc(func(context.Context, []store.Notification) error {
		return errors.New("disk I/O error")
	})}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "")
	require.ErrorIs(t, err, ErrNotAccepted)
}

// An incident the store cannot read must not stop the page: red.
func TestIncidentReadFailureStillPages(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Len(t, f.got, 1)
	n := f.got[0]
	n.IncidentID = "inc-1"
	f.incs.err = errors.New("store locked")
	require.Contains(t, string(sent(t, f.cards, n).Body), `\"template\":\"red\"`)
}

func TestSwapIsAtomic(t *testing.T) {
	st := state(t)
	rl := New(NewLive(st), Options{}, prometheus.NewRegistry())
	require.Same(t, st, rl.State())
	st2 := state(t)
	rl.Swap(st2)
	require.Same(t, st2, rl.State())
}

// The card is rendered when it is sent, with its incident as it is then:
// orange when the ack covers every firing alert the card shows, red when
// one of them was never acknowledged (a click acks what its card showed,
// not what a later card adds).
func TestRenderAtSendTimeSeesItsIncident(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	n := f.got[0]
	n.IncidentID = "inc-1"
	inc := incident.Incident{ID: "inc-1", GroupID: n.GroupID, State: incident.Firing, Alerts: n.Alerts}
	f.incs.m["inc-1"] = inc
	require.Contains(t, string(sent(t, f.cards, n).Body), `\"template\":\"red\"`)

	inc.State = incident.Acked
	inc.Ack = &incident.Ack{By: "值班工程师", At: time.Now(), Alerts: n.Alerts}
	f.incs.m["inc-1"] = inc
	body := string(sent(t, f.cards, n).Body)
	require.Contains(t, body, `\"template\":\"orange\"`)
	require.Contains(t, body, "值班工程师")
	require.Equal(t, 2.0, testutil.ToFloat64(f.cards.renders))

	inc.Ack.Alerts = n.Alerts[:2] // the third alert came after the clicked card
	inc.State = incident.Firing
	f.incs.m["inc-1"] = inc
	require.Contains(t, string(sent(t, f.cards, n).Body), `\"template\":\"red\"`)
}

// An ack-state card (its kind a typed column) goes out only while its
// incident is as it was when queued: a confirmation while acknowledged, a
// repage while firing; otherwise it is skipped, unrendered.
func TestAckStateCardsAreDecidedAtSendTime(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	base := f.got[0]
	base.IncidentID = "inc-1"
	acked := incident.Incident{ID: "inc-1", GroupID: base.GroupID, State: incident.Acked, Alerts: base.Alerts,
		Ack: &incident.Ack{By: "Bob", At: time.Now(), Alerts: base.Alerts}}
	firing := acked
	firing.State, firing.Ack = incident.Firing, nil
	resolved := acked
	resolved.State = incident.Resolved
	for _, tc := range []struct {
		kind store.Kind
		inc  incident.Incident
		skip bool
	}{
		{store.KindAckConfirm, acked, false},
		{store.KindAckConfirm, firing, true},
		{store.KindAckConfirm, resolved, true},
		{store.KindAckRepage, firing, false},
		{store.KindAckRepage, acked, true},
		{store.KindAckRepage, resolved, true},
		{store.KindChat, acked, true},
	} {
		t.Run(string(tc.kind)+"/"+string(tc.inc.State), func(t *testing.T) {
			n := base
			n.Kind, n.GroupID = tc.kind, base.GroupID+"/ack"
			f.incs.m["inc-1"] = tc.inc
			req, err := f.cards.Render(context.Background(), n)
			if tc.skip {
				require.ErrorIs(t, err, delivery.ErrSkip)
				return
			}
			require.NoError(t, err)
			if tc.kind == store.KindAckConfirm {
				require.Contains(t, string(req.Body), `\"template\":\"orange\"`)
				require.Contains(t, string(req.Body), "Bob")
			} else {
				require.Contains(t, string(req.Body), `\"template\":\"red\"`)
			}
		})
	}
}

// A receiver that a reload removed while its card was queued still gets
// it, with the default templates, sent to the open_ids it had when the
// webhook was accepted: losing a page to a config edit is worse than a
// plain card. A receiver still there gets its live recipients.
func TestRenderReceiverRemovedByReload(t *testing.T) {
	f := newFixture(t, Options{})
	rl, got := f.rl, &f.got
	_, err := rl.Accept(context.Background(), group(t), "payments")
	require.NoError(t, err)
	require.Len(t, *got, 1)

	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
route: {receiver: other}
receivers: [{name: other, open_ids: [ou_other]}]
`), t.TempDir())
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: cfg.Location}, nil, nil)
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	rl.Swap(&State{Config: cfg, Tree: tree, Renderer: r})

	var robot mind.RobotMessage
	require.NoError(t, json.Unmarshal(sent(t, f.cards, (*got)[0]).Body, &robot))
	require.Equal(t, []string{"ou_pay1", "ou_pay2"}, robot.ReceiveOpenIDs)
	require.Contains(t, robot.Content, "KubePodCrashLooping")
}

// A row whose group cannot be decoded fails with a clear, permanent error
// (the queue dead-letters it), never a panic.
func TestRenderUndecodableGroup(t *testing.T) {
	f := newFixture(t, Options{})
	for _, data := range []string{`{`, `{"v":99,"group":{}}`, `{"v":1}`} {
		_, err := f.cards.Render(context.Background(), store.Notification{ID: "x", Receiver: "default",
			Request: mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: "x"}, Group: []byte(data)})
		require.Error(t, err, data)
		require.NotErrorIs(t, err, delivery.ErrSkip)
		require.Contains(t, err.Error(), "queued group")
	}
}

// Cards is the delivery queue's Renderer (the queue names the interface).
var _ delivery.Renderer = (*Cards)(nil)
