package ack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/silence"
	"github.com/mindoffice/mind-relay/internal/store"
)

// queue enqueues into the real store, as delivery.Queue does.
type queue struct {
	st    store.Store
	wakes atomic.Int64
	last  []string // ids the last Submit queued
}

func (q *queue) Submit(ctx context.Context, ns []store.Notification) error {
	ch, err := q.st.Enqueue(ctx, ns)
	q.last = nil
	for _, n := range ns {
		if !slices.ContainsFunc(ch.Skipped, func(r store.Ref) bool { return r.ID == n.ID }) {
			q.last = append(q.last, n.ID)
		}
	}
	return err
}

func (q *queue) Wake() { q.wakes.Add(1) }

// flaky fails the transaction of the nth UpdateIncident after its function
// ran: a write that fails, or a shutdown, at the worst moment.
type flaky struct {
	store.Store
	mu     sync.Mutex
	failAt int
	calls  int
}

var errDisk = errors.New("disk I/O error")

func (f *flaky) UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (store.IncidentUpdate, error)) (incident.Incident, store.Changes, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.failAt
	f.mu.Unlock()
	return f.Store.UpdateIncident(ctx, id, func(cur incident.Incident) (store.IncidentUpdate, error) {
		up, err := fn(cur)
		if err == nil && fail {
			return store.IncidentUpdate{}, errDisk // rolls back what fn decided
		}
		return up, err
	})
}

type harness struct {
	t     *testing.T
	db    store.Store
	fl    *flaky
	q     *queue
	svc   *Service
	rl    *relay.Relay
	cards *relay.Cards
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
  poll_interval: 1s
`+ackYAML), t.TempDir())
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: time.UTC, AckSecret: []byte(cfg.Ack.Secret.Value())}, nil, nil)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h := &harness{t: t, db: db, fl: &flaky{Store: db}, q: &queue{st: db}, now: time.Now()}
	live := relay.NewLive(&relay.State{Config: cfg, Renderer: r})
	h.svc, err = New(Options{Store: h.fl, Queue: h.q, Live: live, Now: func() time.Time { return h.now }}, prometheus.NewRegistry())
	require.NoError(t, err)
	h.rl = relay.New(live, relay.Options{Queue: h.q}, prometheus.NewRegistry())
	h.cards = relay.NewCards(live, db, nil, prometheus.NewRegistry())
	return h
}

func group(t *testing.T, file string) *alert.Group {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alertmanager", file))
	require.NoError(t, err)
	g, _, err := payload.ParseAlertmanager(b)
	require.NoError(t, err)
	return g
}

// accept sends g through the relay and returns the id of its card, or ""
// when the store skipped it.
func (h *harness) accept(g *alert.Group) string {
	h.t.Helper()
	_, err := h.rl.Accept(context.Background(), g, "oncall")
	require.NoError(h.t, err)
	if len(h.q.last) == 0 {
		return ""
	}
	return h.q.last[0]
}

// sent delivers everything queued, as the queue would (rendered now), and
// returns the colours of the cards that went out, by kind.
func (h *harness) sent() []string {
	h.t.Helper()
	ctx := context.Background()
	var out []string
	for {
		ns, err := h.db.Claim(ctx, h.now.Add(time.Hour), 100)
		require.NoError(h.t, err)
		if len(ns) == 0 {
			return out
		}
		var outs []store.Outcome
		for _, n := range ns {
			o := store.Outcome{ID: n.ID, State: store.StateDelivered, At: h.now, Attempts: 1}
			if len(n.Request.Body) == 0 {
				req, err := h.cards.Render(ctx, n)
				switch {
				case errors.Is(err, delivery.ErrSkip):
					o.State, o.SupersededBy = store.StateSuperseded, delivery.SkippedMarker
				case err != nil:
					h.t.Fatalf("render %s: %v", n.ID, err)
				default:
					var body mind.RobotMessage
					require.NoError(h.t, json.Unmarshal(req.Body, &body))
					for _, c := range []string{"red", "orange", "green"} {
						if strings.Contains(body.Content, `"template":"`+c+`"`) {
							out = append(out, string(n.Kind)+":"+c)
						}
					}
				}
			}
			outs = append(outs, o)
		}
		_, err = h.db.Complete(ctx, outs)
		require.NoError(h.t, err)
	}
}

func gid(g *alert.Group) string { return alert.GroupID(g.Source, g.Key(), "oncall") }

var alice = incident.Who{Name: "Alice", OpenID: "ou_a", Via: incident.ViaCard}

// Issue 11's bug 4: side effects are idempotent. A write that fails after
// the decision leaves neither the state change nor its card; the retry
// commits both, once; the same click again (Mind resends) adds nothing;
// every id is derived from what it is about.
func TestSideEffectsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := group(t, "am-0.25-firing.json")
	card := h.accept(g)
	require.Equal(t, []string{"group:red"}, h.sent())

	h.fl.failAt = h.fl.calls + 1
	_, err := h.svc.Ack(ctx, card, alice, 0)
	require.ErrorIs(t, err, errDisk)
	require.Empty(t, h.sent(), "no confirmation without the ack")
	inc, err := h.db.Incident(ctx, incident.ID(gid(g), 1))
	require.NoError(t, err)
	require.Equal(t, incident.Firing, inc.State, "no ack without its confirmation")

	out, err := h.svc.Ack(ctx, card, alice, 0)
	require.NoError(t, err)
	require.Equal(t, ResultAcked, out.Result)
	out, err = h.svc.Ack(ctx, card, incident.Who{Name: "Bob", Via: incident.ViaCard}, 0)
	require.NoError(t, err)
	require.Equal(t, ResultAlreadyAcked, out.Result)
	require.Equal(t, "Alice", out.Incident.Ack.By)
	require.Equal(t, []string{"ack-confirm:orange"}, h.sent(), "one confirmation")
	confirm := incident.SideEffectID(inc.ID, string(incident.CardConfirm), int(inc.Version))
	n, err := h.db.Get(ctx, confirm)
	require.NoError(t, err, "the confirmation's id is derived from the incident and its change")
	require.Equal(t, store.KindAckConfirm, n.Kind)

	// Enqueueing the same derived card again is harmless.
	n.State, n.Seq = "", 0
	ch, err := h.db.Enqueue(ctx, []store.Notification{n})
	require.NoError(t, err)
	require.Zero(t, ch.Count)
	require.Equal(t, "orange", strings.TrimPrefix(h.colour(h.accept(g)), "group:"), "repeats render acknowledged")
}

func (h *harness) colour(id string) string {
	h.t.Helper()
	got := h.sent()
	require.NotEmpty(h.t, got, id)
	return got[len(got)-1]
}

// The relay's own resolution and its card commit together, once, whoever
// polls (a retried round, a second replica); the source's late resolution
// of the same occurrence is then not sent again.
func TestRelayResolutionIsSentOnce(t *testing.T) {
	ctx := context.Background()
	am := newSource(t)
	h := newHarness(t, "  silence: {duration: 1h, alertmanager_url: "+am.URL+"}\n")
	g := group(t, "am-0.25-firing.json")
	card := h.accept(g)
	require.Equal(t, []string{"group:red"}, h.sent())
	_, err := h.svc.Ack(ctx, card, alice, 0)
	require.NoError(t, err)
	require.Empty(t, h.sent(), "the confirmation waits for the silence")
	h.svc.round(ctx, false)
	require.Equal(t, []string{"ack-confirm:orange"}, h.sent(), "the confirmation once the silence is made")
	inc, err := h.db.Incident(ctx, incident.ID(gid(g), 1))
	require.NoError(t, err)
	require.Len(t, inc.Silence.Live(), 1)

	am.firing.Store(false)
	var wg sync.WaitGroup
	for range 3 { // three polls racing
		wg.Add(1)
		go func() { defer wg.Done(); h.svc.poll(ctx, inc, am.source(t)) }()
	}
	wg.Wait()
	h.svc.round(ctx, true)
	h.svc.round(ctx, true)
	require.Equal(t, []string{"group:green"}, h.sent(), "one resolved card")
	inc, err = h.db.Incident(ctx, inc.ID)
	require.NoError(t, err)
	require.Equal(t, incident.Resolved, inc.State)
	require.Equal(t, incident.ByRelay, inc.ResolvedBy)
	h.svc.round(ctx, false)
	require.Equal(t, int64(1), am.expired.Load(), "the silence expired")

	require.Empty(t, h.accept(group(t, "am-0.25-resolved.json")), "the source's resolution of the same occurrence is dropped")
	require.Empty(t, h.sent())
}

// A silence made for an ack withdrawn meanwhile is recorded, then expired:
// never left behind, never forgotten.
func TestSilenceOfWithdrawnAckIsExpired(t *testing.T) {
	ctx := context.Background()
	am := newSource(t)
	h := newHarness(t, "  silence: {duration: 1h, alertmanager_url: "+am.URL+"}\n")
	g := group(t, "am-0.25-firing.json")
	card := h.accept(g)
	require.Equal(t, []string{"group:red"}, h.sent())
	out, err := h.svc.Ack(ctx, card, alice, 0)
	require.NoError(t, err)
	before := *out.Incident // the worker read it, then went to the source
	_, err = h.svc.Unack(ctx, card, alice)
	require.NoError(t, err)
	h.svc.createSilence(ctx, before, am.source(t))
	inc, err := h.db.Incident(ctx, before.ID)
	require.NoError(t, err)
	require.Len(t, inc.Silence.ToExpire(), 1, "recorded, to be expired")
	h.svc.round(ctx, false)
	require.Equal(t, int64(1), am.expired.Load())
	inc, err = h.db.Incident(ctx, before.ID)
	require.NoError(t, err)
	require.Empty(t, inc.Silence.ToExpire())
	require.Equal(t, []string{"ack-repage:red"}, h.sent(), "the group pages again; no confirmation")
}

// src is an Alertmanager API that lists the acknowledged alert while
// firing is set.
type src struct {
	*httptest.Server
	firing  atomic.Bool
	expired atomic.Int64
}

func newSource(t *testing.T) *src {
	s := &src{}
	s.firing.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/silences":
			_, _ = w.Write([]byte(`{"silenceID":"s-1"}`))
		case r.Method == http.MethodDelete:
			s.expired.Add(1)
		case r.URL.Path == "/api/v2/alerts":
			if s.firing.Load() {
				_, _ = w.Write([]byte(`[{"fingerprint":"0716e50b618d405e","labels":{},"endsAt":"2999-01-01T00:00:00Z"}]`))
			} else {
				_, _ = w.Write([]byte(`[]`))
			}
		case r.URL.Path == "/api/v2/status":
			_, _ = w.Write([]byte(`{"uptime":"2020-01-01T00:00:00Z"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *src) source(t *testing.T) *silenceSource {
	t.Helper()
	return newTestSource(t, s.URL)
}

type silenceSource = silence.Source

func newTestSource(t *testing.T, root string) *silence.Source {
	t.Helper()
	s, err := silence.NewSource(silence.KindAlertmanager, root, silence.Auth{}, nil)
	require.NoError(t, err)
	return s
}

// Issue 10's item 9: a round calls the sources of many incidents at once,
// a bounded number at a time, so one slow source cannot hold the others
// back past their lease.
func TestRoundCallsSourcesConcurrently(t *testing.T) {
	ctx := context.Background()
	var (
		mu       sync.Mutex
		inflight int
		peak     int
		release  = make(chan struct{})
		once     sync.Once
	)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/silences" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		if inflight == maxSourceCalls {
			once.Do(func() { close(release) })
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		inflight--
		mu.Unlock()
		_, _ = w.Write([]byte(`{"silenceID":"s"}`))
	}))
	defer am.Close()
	h := newHarness(t, "  silence: {duration: 1h, alertmanager_url: "+am.URL+"}\n")
	for i := range 2 * maxSourceCalls {
		g := group(t, "am-0.25-firing.json")
		g.GroupKey = g.GroupKey + string(rune('a'+i))
		_, err := h.svc.Ack(ctx, h.accept(g), alice, 0)
		require.NoError(t, err)
	}
	h.svc.round(ctx, false)
	require.Equal(t, maxSourceCalls, peak, "in parallel, and never more than the bound")
	incs, err := h.db.Incidents(ctx, store.IncidentQuery{States: []incident.State{incident.Acked}})
	require.NoError(t, err)
	require.Len(t, incs, 2*maxSourceCalls)
	for _, inc := range incs {
		require.Len(t, inc.Silence.Live(), 1, inc.ID)
	}
}

// A chat message without the callback token is refused from the
// envelope's header: the event behind it is never read (here it could not
// be: it is no JSON), so a large body costs nothing to refuse.
func TestUnauthenticatedChatRefusedFromHeader(t *testing.T) {
	h := newHarness(t, "")
	body := `{"schema":"1.0","header":{"event_type":"im.message.robot.receive_v1","app_id":"robot_test"},"event":{"content":` +
		strings.Repeat("x", 512<<10) + `}}`
	reply, err := h.svc.HandleEvent(context.Background(), []byte(body), false)
	require.NoError(t, err, "refused, not parsed (parsing would fail)")
	require.Equal(t, ResultUnauthenticated, reply.Result)
	_, err = h.svc.HandleEvent(context.Background(), []byte(body), true)
	require.Error(t, err, "with the token the event is read, and this one is none")
}
