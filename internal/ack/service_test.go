package ack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// fakeQueue enqueues into the real store (so snapshots are kept as in
// production) and remembers what it was given. A notification queued to be
// rendered at send time is "sent" at once: rendered with prepare (the
// relay's), and left out when that says the ack loop sent it already.
type fakeQueue struct {
	st      store.Store
	prepare func(context.Context, store.Notification) (mind.Request, error)
	mu      sync.Mutex
	ns      []store.Notification
}

func (q *fakeQueue) Submit(ctx context.Context, ns []store.Notification) error {
	q.mu.Lock()
	for _, n := range ns {
		if len(n.Request.Body) == 0 && q.prepare != nil {
			req, err := q.prepare(ctx, n)
			if errors.Is(err, delivery.ErrSkip) {
				continue
			}
			if err != nil {
				q.mu.Unlock()
				return err
			}
			n.Request = req
		}
		q.ns = append(q.ns, n)
	}
	q.mu.Unlock()
	_, err := q.st.Enqueue(ctx, ns)
	return err
}

func (q *fakeQueue) cards(t *testing.T) []string {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, n := range q.ns {
		var body mind.RobotMessage
		require.NoError(t, json.Unmarshal(n.Request.Body, &body))
		out = append(out, body.Content)
	}
	return out
}

type harness struct {
	svc   *Service
	queue *fakeQueue
	rl    *relay.Relay
	reg   *prometheus.Registry
	now   time.Time
}

func newHarness(t *testing.T, ackYAML string) *harness {
	t.Helper()
	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
route: {receiver: oncall}
receivers: [{name: oncall, open_ids: [ou_a, ou_b]}]
ack:
  secret: test-ack-secret-0123456789
`+ackYAML), t.TempDir())
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: time.UTC, AckSecret: []byte(cfg.Ack.Secret.Value())}, nil, nil)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	as, _ := store.AcksOf(db)
	h := &harness{queue: &fakeQueue{st: db}, reg: prometheus.NewRegistry(), now: time.Now()}
	st := &relay.State{Config: cfg, Renderer: r}
	h.svc, err = New(context.Background(), Options{Store: as, Queue: h.queue, State: func() *relay.State { return st }, Now: func() time.Time { return h.now }}, h.reg)
	require.NoError(t, err)
	h.rl = relay.New(st, relay.Options{Queue: h.queue, Acks: h.svc}, prometheus.NewRegistry())
	h.queue.prepare = h.rl.Render
	return h
}

func payloadGroup(t *testing.T, file string) *alert.Group {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alertmanager", file))
	require.NoError(t, err)
	g, _, err := payload.ParseAlertmanager(b)
	require.NoError(t, err)
	return g
}

// accept sends g through the relay (AckFor, snapshot) and returns the
// card's header colour.
func (h *harness) accept(t *testing.T, g *alert.Group) string {
	t.Helper()
	n := len(h.queue.ns)
	_, err := h.rl.Accept(context.Background(), g, "oncall")
	require.NoError(t, err)
	if len(h.queue.ns) == n {
		return "skipped"
	}
	c := h.queue.cards(t)[len(h.queue.ns)-1]
	for _, colour := range []string{"red", "orange", "green"} {
		if strings.Contains(c, `"template":"`+colour+`"`) {
			return colour
		}
	}
	return "?"
}

func (h *harness) drainEnds() {
	for {
		select {
		case e := <-h.svc.ends:
			h.svc.endAck(context.Background(), e)
		default:
			return
		}
	}
}

func gid(g *alert.Group) string { return alert.GroupID(g.Source, g.Key(), "oncall") }

func TestAckRules(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := payloadGroup(t, "am-0.25-group-1.json") // three pods crash looping
	id := gid(g)
	require.Equal(t, "red", h.accept(t, g))

	alice := who{Name: "Alice", OpenID: "ou_a", Via: "card"}
	out, err := h.svc.ack(ctx, id, alice, 0)
	require.NoError(t, err)
	require.Equal(t, ResultAcked, out.Result)
	require.Len(t, out.Rec.Fingerprints, 3)

	// Idempotent: a second click, or someone else's on an old card.
	for _, w := range []who{alice, {Name: "Bob", OpenID: "ou_b", Via: "card"}} {
		out, err = h.svc.ack(ctx, id, w, 0)
		require.NoError(t, err)
		require.Equal(t, ResultAlreadyAcked, out.Result)
		require.Equal(t, "Alice", out.Rec.By)
	}
	require.Equal(t, 1.0, testutil.ToFloat64(h.svc.m.acks.WithLabelValues(ResultAcked)))
	require.Equal(t, 2.0, testutil.ToFloat64(h.svc.m.acks.WithLabelValues(ResultAlreadyAcked)))

	// Repeat notifications of the same alerts: acknowledged (orange).
	require.Equal(t, "orange", h.accept(t, g))
	// One of them resolves, the others fire: still acknowledged.
	g2 := payloadGroup(t, "am-0.25-group-2.json")
	require.Equal(t, "orange", h.accept(t, g2))

	// A new alert joins: the ack clears and the group pages red.
	g3 := payloadGroup(t, "am-0.25-group-1.json")
	extra := g3.Alerts[0]
	extra.Labels = map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-9", "severity": "warning", "team": "payments"}
	extra.Fingerprint = "0000000000000009"
	g3.Alerts = append(g3.Alerts, extra)
	require.Equal(t, "red", h.accept(t, g3))
	h.drainEnds()
	require.Equal(t, stateCleared, h.svc.get(id).State)
	require.Equal(t, "new_alert", h.svc.get(id).EndReason)
	require.Equal(t, "red", h.accept(t, g), "stays cleared")
	require.Equal(t, "red", h.accept(t, g3))

	// Ack again (the latest notification has 4 alerts), then unack: the group is red again and its
	// card is sent again.
	out, err = h.svc.ack(ctx, id, alice, 0)
	require.NoError(t, err)
	require.Equal(t, ResultAcked, out.Result)
	require.Len(t, out.Rec.Fingerprints, 4)
	out, err = h.svc.unack(ctx, id, who{Name: "Bob", Via: "chat"})
	require.NoError(t, err)
	require.Equal(t, ResultUnacked, out.Result)
	require.Equal(t, "Bob", out.Rec.EndedBy)
	require.Contains(t, out.Rec.Jobs, jobRepage)
	out, err = h.svc.unack(ctx, id, alice)
	require.NoError(t, err)
	require.Equal(t, ResultNotAcked, out.Result)
	h.svc.work(ctx)
	require.Empty(t, h.svc.get(id).Jobs)
	require.Equal(t, "red", h.accept(t, g3))

	// Unknown groups.
	out, err = h.svc.ack(ctx, "ffffffffffffffff", alice, 0)
	require.NoError(t, err)
	require.Equal(t, ResultUnknownGroup, out.Result)
}

// A resolved notification of an acknowledged group shows who acked it and
// ends the ack; once the relay sent the resolved card itself, the
// source's late one is dropped.
func TestAckResolution(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := payloadGroup(t, "am-0.25-firing.json")
	id := gid(g)
	h.accept(t, g)
	_, err := h.svc.ack(ctx, id, who{Name: "Alice", Via: "card"}, 0)
	require.NoError(t, err)

	resolved := payloadGroup(t, "am-0.25-resolved.json")
	require.Equal(t, "green", h.accept(t, resolved))
	require.Contains(t, h.queue.cards(t)[len(h.queue.ns)-1], "已由 Alice 确认")
	h.drainEnds()
	require.Equal(t, stateResolved, h.svc.get(id).State)
	require.Equal(t, "green", h.accept(t, resolved), "not sent by the relay: the source's card goes out")

	// Ack once more (it fires again), then the poller resolves it.
	require.Equal(t, "red", h.accept(t, g))
	_, err = h.svc.ack(ctx, id, who{Name: "Alice", Via: "card"}, 0)
	require.NoError(t, err)
	h.svc.work(ctx)
	r := h.svc.get(id)
	snap, err := h.svc.loadSnapshot(ctx, id)
	require.NoError(t, err)
	h.svc.resolve(ctx, r, snap, acked(r, snap))
	require.True(t, h.svc.get(id).ResolvedSent)
	require.Equal(t, "skipped", h.accept(t, resolved), "the relay's resolved card was the one")
	require.Equal(t, "red", h.accept(t, g), "a new firing is a new page")
}

// A silence the source refuses is said on the confirmation card; the ack
// holds.
func TestSilenceFailureOnConfirmation(t *testing.T) {
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer am.Close()
	ctx := context.Background()
	h := newHarness(t, "  silence: {duration: 1h, alertmanager_url: "+am.URL+"}\n")
	g := payloadGroup(t, "am-0.25-firing.json")
	h.accept(t, g)
	out, err := h.svc.ack(ctx, gid(g), who{Name: "Alice", Via: "card"}, 0)
	require.NoError(t, err)
	require.Equal(t, []string{jobSilence, jobConfirm}, out.Rec.Jobs)
	h.svc.work(ctx)
	r := h.svc.get(gid(g))
	require.True(t, r.active())
	require.Empty(t, r.Jobs)
	require.Equal(t, "Alertmanager 拒绝（HTTP 500）", r.Silence.Error)
	last := h.queue.cards(t)[len(h.queue.ns)-1]
	require.Contains(t, last, "未能静默：Alertmanager 拒绝（HTTP 500）")
	require.Contains(t, last, `"template":"orange"`)
	require.Equal(t, 1.0, testutil.ToFloat64(h.svc.m.silences.WithLabelValues(SilenceFailed)))
}

// The state outlives the process: a new service loads the acks in force.
func TestAcksSurviveRestart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := payloadGroup(t, "am-0.25-firing.json")
	h.accept(t, g)
	_, err := h.svc.ack(ctx, gid(g), who{Name: "Alice", Via: "card"}, 0)
	require.NoError(t, err)

	again, err := New(ctx, Options{Store: h.svc.st, Queue: h.queue, State: h.svc.state}, prometheus.NewRegistry())
	require.NoError(t, err)
	info, err := again.AckFor(ctx, gid(g), g)
	require.NoError(t, err)
	require.Equal(t, "Alice", info.By)
}

// The Grafana token goes to the configured grafana_url only: a webhook
// payload's externalURL never receives it.
func TestGrafanaTokenStaysWithGrafanaURL(t *testing.T) {
	h := newHarness(t, "  silence:\n    duration: 1h\n    grafana_url: https://grafana.internal\n    grafana_token: gt-secret-123\n")
	src, err := h.svc.source(KindGrafana, "https://grafana.internal")
	require.NoError(t, err)
	require.Equal(t, "gt-secret-123", src.bearer)
	src, err = h.svc.source(KindGrafana, "http://attacker.example:8080")
	require.NoError(t, err)
	require.Empty(t, src.bearer, "never to a URL a payload named")

	h = newHarness(t, "  silence:\n    duration: 1h\n    grafana_token: gt-secret-123\n")
	src, err = h.svc.source(KindGrafana, "https://grafana.from-payload")
	require.NoError(t, err)
	require.Empty(t, src.bearer)
}

// A notification is rendered when it is sent: one accepted before the
// group was acknowledged, still queued when the ack came, goes out orange,
// with the ack's name on it.
func TestQueuedCardShowsLaterAck(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := payloadGroup(t, "am-0.25-group-1.json")
	require.Equal(t, "red", h.accept(t, g))

	render := h.queue.prepare
	h.queue.prepare = nil // Mind is slow: the repeat stays queued
	_, err := h.rl.Accept(ctx, g, "oncall")
	require.NoError(t, err)
	queued := h.queue.ns[len(h.queue.ns)-1]
	require.Empty(t, queued.Request.Body, "not rendered on the webhook path")

	out, err := h.svc.ack(ctx, gid(g), who{Name: "Alice", OpenID: "ou_a", Via: "card"}, 0)
	require.NoError(t, err)
	require.Equal(t, ResultAcked, out.Result)

	req, err := render(ctx, queued)
	require.NoError(t, err)
	var body mind.RobotMessage
	require.NoError(t, json.Unmarshal(req.Body, &body))
	require.Contains(t, body.Content, `"template":"orange"`)
	require.Contains(t, body.Content, "Alice")
	require.Equal(t, queued.Request.RequestID, req.RequestID)
}

// An ack-state card is decided when it is sent: a confirmation still
// queued when the group resolves (or is unacked) is skipped, so it never
// follows the resolved card; a repage is skipped once the group is acked
// again.
func TestAckCardsAreDecidedAtSendTime(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := payloadGroup(t, "am-0.25-firing.json")
	require.Equal(t, "red", h.accept(t, g))
	_, err := h.svc.ack(ctx, gid(g), who{Name: "Bob", OpenID: "ou_a", Via: "card"}, 0)
	require.NoError(t, err)

	render := h.queue.prepare
	h.queue.prepare = nil // Mind is down: cards stay queued
	snap, err := h.svc.loadSnapshot(ctx, gid(g))
	require.NoError(t, err)
	require.NoError(t, h.svc.queueAckCard(ctx, snap, g, h.svc.get(gid(g)).info(), "confirm-1"))
	require.NoError(t, h.svc.queueAckCard(ctx, snap, g, nil, "repage-1"))
	confirm, repage := h.queue.ns[len(h.queue.ns)-2], h.queue.ns[len(h.queue.ns)-1]
	h.queue.ns = h.queue.ns[:len(h.queue.ns)-2] // still queued, not sent
	require.Equal(t, gid(g)+relay.AckStream, confirm.GroupID)
	require.Empty(t, confirm.Request.Body, "rendered at send time")

	req, err := render(ctx, confirm)
	require.NoError(t, err, "still acked and firing: the confirmation goes out")
	require.Contains(t, string(req.Body), `\"template\":\"orange\"`)
	require.Contains(t, string(req.Body), "Bob")
	_, err = render(ctx, repage)
	require.ErrorIs(t, err, delivery.ErrSkip, "acked: no repage")

	// The group resolves while the confirmation waits.
	h.queue.prepare = render
	require.Equal(t, "green", h.accept(t, payloadGroup(t, "am-0.25-resolved.json")))
	_, err = render(ctx, confirm)
	require.ErrorIs(t, err, delivery.ErrSkip, "resolved: the confirmation would tell an older story")
	_, err = render(ctx, repage)
	require.ErrorIs(t, err, delivery.ErrSkip)
}
