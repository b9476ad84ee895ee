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
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
)

type queueFunc func(ctx context.Context, ns []store.Notification) error

func (f queueFunc) Submit(ctx context.Context, ns []store.Notification) error { return f(ctx, ns) }

type ackFunc func(ctx context.Context, groupID string, g *alert.Group) (*render.AckInfo, error)

func (f ackFunc) AckFor(ctx context.Context, groupID string, g *alert.Group) (*render.AckInfo, error) {
	return f(ctx, groupID, g)
}

func (f ackFunc) KeepsSnapshots() bool { return true }

func (f ackFunc) AckCard(context.Context, string, string) (*render.AckInfo, bool) { return nil, false }

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
func sent(t *testing.T, rl *Relay, n store.Notification) mind.Request {
	t.Helper()
	req, err := rl.Render(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, n.Request.Endpoint, req.Endpoint)
	require.Equal(t, n.Request.RequestID, req.RequestID)
	return req
}

func TestAcceptRoutesToEveryReceiver(t *testing.T) {
	var got []store.Notification
	reg := prometheus.NewRegistry()
	rl := New(state(t), Options{Queue: queueFunc(func(_ context.Context, ns []store.Notification) error {
		got = append(got, ns...)
		return nil
	}), Now: func() time.Time { return time.Unix(1_790_000_000, 0) }}, reg)

	n, err := rl.Accept(context.Background(), group(t), "")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Len(t, got, 2)

	require.Equal(t, "payments", got[0].Receiver)
	require.Equal(t, mind.EndpointRobotMessage, got[0].Request.Endpoint)
	require.Equal(t, got[0].ID, got[0].Request.RequestID, "the row id is Mind's x-request-id")
	require.Empty(t, got[0].Request.Body, "rendered at send time")
	require.Zero(t, testutil.ToFloat64(rl.renders), "nothing rendered on the webhook path")
	var robot mind.RobotMessage
	require.NoError(t, json.Unmarshal(sent(t, rl, got[0]).Body, &robot))
	require.Equal(t, []string{"ou_pay1", "ou_pay2"}, robot.ReceiveOpenIDs)
	require.Equal(t, "interactive", robot.MsgType)

	require.Equal(t, "everyone", got[1].Receiver)
	require.Equal(t, mind.EndpointSendMessage, got[1].Request.Endpoint)
	var send mind.SendMessage
	require.NoError(t, json.Unmarshal(sent(t, rl, got[1]).Body, &send))
	require.Equal(t, 1, send.ReceiveType)
	require.Empty(t, send.ReceiveIDs)

	require.NotEqual(t, got[0].GroupID, got[1].GroupID, "one group per receiver")
	require.Equal(t, alert.GroupID(alert.SourceAlertmanager, `{}:{alertname="KubePodCrashLooping"}`, "payments"), got[0].GroupID)
	require.Equal(t, 3.0, testutil.ToFloat64(rl.alerts.WithLabelValues("alertmanager", "firing")))
}

func TestAcceptNamedReceiver(t *testing.T) {
	var got []store.Notification
	rl := New(state(t), Options{Queue: queueFunc(func(_ context.Context, ns []store.Notification) error {
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
	rl := New(state(t), Options{Queue: queueFunc(func(context.Context, []store.Notification) error {
		return errors.New("disk I/O error")
	})}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "")
	require.ErrorIs(t, err, ErrNotAccepted)
}

func TestAckLookupFailureStillPages(t *testing.T) {
	var got []store.Notification
	rl := New(state(t), Options{
		Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = ns; return nil }),
		Acks: ackFunc(func(context.Context, string, *alert.Group) (*render.AckInfo, error) {
			return nil, errors.New("store locked")
		}),
	}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Contains(t, string(sent(t, rl, got[0]).Body), `\"template\":\"red\"`)
}

// With acks on, every notification carries the group's snapshot for the
// store to keep, an acknowledged group renders orange, and ErrSkip drops the
// notification (the ack loop sent the resolved card already).
func TestAckLookupHook(t *testing.T) {
	var got []store.Notification
	var skip bool
	rl := New(state(t), Options{
		Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = ns; return nil }),
		Acks: ackFunc(func(_ context.Context, groupID string, _ *alert.Group) (*render.AckInfo, error) {
			if skip {
				return nil, ErrSkip
			}
			return &render.AckInfo{By: "值班工程师", At: time.Now()}, nil
		}),
	}, prometheus.NewRegistry())
	n, err := rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, got[0].Group, got[0].Snapshot, "the snapshot is the queued group, encoded once")
	d, err := DecodeGroup(got[0].Snapshot)
	require.NoError(t, err)
	require.Len(t, d.Group.Alerts, 3)
	require.Equal(t, []string{"ou_default"}, d.OpenIDs)
	require.Contains(t, string(sent(t, rl, got[0]).Body), `\"template\":\"orange\"`)

	skip, got = true, nil
	n, err = rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, got)
}

func TestSwapIsAtomic(t *testing.T) {
	st := state(t)
	rl := New(st, Options{}, prometheus.NewRegistry())
	require.Same(t, st, rl.State())
	st2 := state(t)
	rl.Swap(st2)
	require.Same(t, st2, rl.State())
}

// The card is rendered when it is sent: an ack given after the webhook was
// accepted shows on it, and a resolution the ack loop sent meanwhile is
// skipped.
func TestRenderAtSendTimeSeesLaterAck(t *testing.T) {
	var got []store.Notification
	var info *render.AckInfo
	var ackErr error
	rl := New(state(t), Options{
		Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = ns; return nil }),
		Acks: ackFunc(func(context.Context, string, *alert.Group) (*render.AckInfo, error) {
			return info, ackErr
		}),
	}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "default")
	require.NoError(t, err)
	require.Len(t, got, 1)

	info = &render.AckInfo{By: "值班工程师", At: time.Now()} // acked after the accept
	require.Contains(t, string(sent(t, rl, got[0]).Body), `\"template\":\"orange\"`)
	require.Equal(t, 1.0, testutil.ToFloat64(rl.renders))

	ackErr = ErrSkip
	_, err = rl.Render(context.Background(), got[0])
	require.ErrorIs(t, err, delivery.ErrSkip)
	require.Equal(t, 1.0, testutil.ToFloat64(rl.renders), "a skipped notification is not rendered")
}

// A receiver that a reload removed while its card was queued still gets
// it, with the default templates, sent to the open_ids it had when the
// webhook was accepted: losing a page to a config edit is worse than a
// plain card. A receiver still there gets its live recipients.
func TestRenderReceiverRemovedByReload(t *testing.T) {
	var got []store.Notification
	rl := New(state(t), Options{
		Queue: queueFunc(func(_ context.Context, ns []store.Notification) error { got = ns; return nil }),
	}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(t), "payments")
	require.NoError(t, err)
	require.Len(t, got, 1)

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
	require.NoError(t, json.Unmarshal(sent(t, rl, got[0]).Body, &robot))
	require.Equal(t, []string{"ou_pay1", "ou_pay2"}, robot.ReceiveOpenIDs)
	require.Contains(t, robot.Content, "KubePodCrashLooping")
}

// A row whose group cannot be decoded fails with a clear, permanent error
// (the queue dead-letters it), never a panic.
func TestRenderUndecodableGroup(t *testing.T) {
	rl := New(state(t), Options{}, prometheus.NewRegistry())
	for _, data := range []string{`{`, `{"v":99,"group":{}}`, `{"v":1}`} {
		_, err := rl.Render(context.Background(), store.Notification{ID: "x", Receiver: "default",
			Request: mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: "x"}, Group: []byte(data)})
		require.Error(t, err, data)
		require.NotErrorIs(t, err, delivery.ErrSkip)
		require.Contains(t, err.Error(), "queued group")
	}
}
