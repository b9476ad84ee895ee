package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

const policyConfig = `
mind: {app_id: robot_test}
timezone: UTC
route: {receiver: ops}
receivers:
  - {name: ops, open_ids: [ou_ops], escalation: db}
  - {name: lead, open_ids: [ou_lead]}
  - {name: dba, schedule: dba}
schedules:
  - name: dba
    rotation: {every: 1d, start: "2026-01-01T00:00", members: [ou_dba1, ou_dba2]}
escalations:
  - name: db
    steps:
      - {after: 5m, notify: [lead]}
      - {after: 15m, notify: [dba, lead]}
ack:
  secret: test-ack-secret-0123456789
`

type queue struct{ st store.Store }

func (q *queue) Submit(ctx context.Context, ns []store.Notification) error {
	_, err := q.st.Enqueue(ctx, ns)
	return err
}
func (q *queue) Wake() {}

// flaky fails the nth UpdateIncident after its function decided, as a
// crash before the commit would.
type flaky struct {
	store.Store
	mu     sync.Mutex
	calls  int
	failAt int
}

var errCrash = errors.New("crashed before the commit")

func (f *flaky) UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (store.IncidentUpdate, error)) (incident.Incident, store.Changes, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.failAt
	f.mu.Unlock()
	return f.Store.UpdateIncident(ctx, id, func(cur incident.Incident) (store.IncidentUpdate, error) {
		up, err := fn(cur)
		if err == nil && fail {
			return store.IncidentUpdate{}, errCrash
		}
		return up, err
	})
}

type harness struct {
	t      *testing.T
	db     store.Store
	fl     *flaky
	live   *relay.Live
	acks   *ack.Service
	ackReg *prometheus.Registry
	esc    *Escalator
	reg    *prometheus.Registry
	cards  *relay.Cards
	now    time.Time
	t0     time.Time
	// ids are the last card sent to each receiver, by kind:receiver.
	ids map[string]string
}

func newHarness(t *testing.T, extra string) *harness {
	t.Helper()
	cfg, err := config.Load([]byte(policyConfig+extra), t.TempDir())
	require.NoError(t, err)
	r, err := render.New(render.Options{Location: time.UTC, AckSecret: []byte(cfg.Ack.Secret.Value())}, nil, nil)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	h := &harness{t: t, db: db, fl: &flaky{Store: db}, now: t0, t0: t0, ids: map[string]string{}}
	h.live = relay.NewLive(&relay.State{Config: cfg, Renderer: r})
	clock := func() time.Time { return h.now }
	q := &queue{st: db}
	h.ackReg = prometheus.NewRegistry()
	h.acks, err = ack.New(ack.Options{Store: db, Queue: q, Live: h.live, Now: clock}, h.ackReg)
	require.NoError(t, err)
	h.cards = relay.NewCards(h.live, db, nil, prometheus.NewRegistry())
	h.cards.SetClock(clock)
	h.restart()
	return h
}

// restart builds a new escalator on the same store: what a relay restart
// keeps is what the store has.
func (h *harness) restart() {
	var err error
	h.reg = prometheus.NewRegistry()
	h.esc, err = New(Options{Store: h.fl, Queue: &queue{st: h.db}, Live: h.live, Unacker: h.acks,
		Now: func() time.Time { return h.now }}, h.reg)
	require.NoError(h.t, err)
}

func group(t *testing.T, file string) *alert.Group {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alertmanager", file))
	require.NoError(t, err)
	g, _, err := payload.ParseAlertmanager(b)
	require.NoError(t, err)
	return g
}

// at moves the clock to d after t0 and runs a round.
func (h *harness) at(d time.Duration) {
	h.now = h.t0.Add(d)
	h.esc.Round(context.Background())
}

// sent delivers what is queued, rendered now, and returns one
// "kind:receiver:open_ids" line per card that went out.
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
			req := n.Request
			if len(req.Body) == 0 {
				req, err = h.cards.Render(ctx, n)
				switch {
				case errors.Is(err, delivery.ErrSkip):
					o.State, o.SupersededBy = store.StateSuperseded, delivery.SkippedMarker
					outs = append(outs, o)
					continue
				case err != nil:
					h.t.Fatalf("render %s: %v", n.ID, err)
				}
			}
			var body mind.RobotMessage
			require.NoError(h.t, json.Unmarshal(req.Body, &body))
			line := string(n.Kind) + ":" + n.Receiver + ":" + strings.Join(body.ReceiveOpenIDs, ",")
			if n.Kind == store.KindEscalation {
				require.Contains(h.t, body.Content, "告警升级", "an escalation card says so")
				require.Contains(h.t, body.Content, `"action":"ack"`, "with the same ack button")
			}
			out = append(out, line)
			h.ids[string(n.Kind)+":"+n.Receiver] = n.ID
			outs = append(outs, o)
		}
		_, err = h.db.Complete(ctx, outs)
		require.NoError(h.t, err)
	}
}

func (h *harness) accept(file string) string {
	h.t.Helper()
	var got []store.Notification
	rl := relay.New(h.live, relay.Options{Now: func() time.Time { return h.now },
		Queue: submitFunc(func(ctx context.Context, ns []store.Notification) error {
			got = ns
			_, err := h.db.Enqueue(ctx, ns)
			return err
		})}, prometheus.NewRegistry())
	_, err := rl.Accept(context.Background(), group(h.t, file), "ops")
	require.NoError(h.t, err)
	return got[0].ID
}

type submitFunc func(context.Context, []store.Notification) error

func (f submitFunc) Submit(ctx context.Context, ns []store.Notification) error { return f(ctx, ns) }

func (h *harness) ack(card string, who incident.Who) {
	h.t.Helper()
	out, err := h.acks.Ack(context.Background(), card, who, 0)
	require.NoError(h.t, err)
	require.Equal(h.t, incident.ResultAcked, out.Result)
}

var lead = incident.Who{Name: "Lead", OpenID: "ou_lead", Via: incident.ViaCard}

func TestEscalationSteps(t *testing.T) {
	const (
		original = "group:ops:ou_ops"
		step1    = "escalation:lead:ou_lead"
		step2dba = "escalation:dba:ou_dba1"
		step2    = "escalation:lead:ou_lead"
	)
	type move struct {
		at   time.Duration
		do   func(h *harness, card string)
		want []string
	}
	ackBy := func(w incident.Who) func(*harness, string) { return func(h *harness, c string) { h.ack(c, w) } }
	tests := []struct {
		name  string
		moves []move
	}{
		{"unacked: step 1's receiver, then step 2's, each once", []move{
			{at: 4 * time.Minute},
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 10 * time.Minute},
			{at: 15 * time.Minute, want: []string{step2dba, step2}},
			{at: 60 * time.Minute},
		}},
		{"acked before step 1: nobody else is paged", []move{
			{at: 4 * time.Minute, do: ackBy(incident.Who{Name: "Ops", OpenID: "ou_ops", Via: incident.ViaCard}), want: []string{"ack-confirm:ops:ou_ops"}},
			{at: 5 * time.Minute},
			{at: 30 * time.Minute},
		}},
		{"an ack from step 1's receiver stops the chain", []move{
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 6 * time.Minute, do: ackBy(lead), want: []string{"ack-confirm:ops:ou_ops"}},
			{at: 15 * time.Minute},
		}},
		{"an ack on the escalation card stops the chain", []move{
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 6 * time.Minute, do: func(h *harness, _ string) { h.ack(h.ids["escalation:lead"], lead) }, want: []string{"ack-confirm:ops:ou_ops"}},
			{at: 15 * time.Minute},
		}},
		{"resolution stops the chain", []move{
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 6 * time.Minute, do: func(h *harness, _ string) { h.accept("am-0.25-resolved.json") }, want: []string{"group:ops:ou_ops"}},
			{at: 15 * time.Minute},
		}},
		{"a restart in the middle neither loses nor repeats a step", []move{
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 7 * time.Minute, do: func(h *harness, _ string) { h.restart() }},
			{at: 16 * time.Minute, do: func(h *harness, _ string) { h.restart() }, want: []string{step2dba, step2}},
			{at: 17 * time.Minute, do: func(h *harness, _ string) { h.restart() }},
		}},
		{"down across both steps: both are taken once; lead gets step 2's card, which supersedes step 1's unsent one", []move{
			{at: 40 * time.Minute, want: []string{step2dba, step2}},
			{at: 41 * time.Minute},
		}},
		{"a crash before the commit: neither the step nor its card, then both once", []move{
			{at: 5 * time.Minute, do: func(h *harness, _ string) { h.fl.failAt = h.fl.calls + 1 }},
			{at: 6 * time.Minute, want: []string{step1}},
			{at: 7 * time.Minute},
		}},
		{"an unack restarts the chain from step 1", []move{
			{at: 5 * time.Minute, want: []string{step1}},
			{at: 6 * time.Minute, do: ackBy(lead), want: []string{"ack-confirm:ops:ou_ops"}},
			{at: 8 * time.Minute, do: func(h *harness, card string) {
				_, err := h.acks.Unack(context.Background(), card, lead)
				require.NoError(h.t, err)
			}, want: []string{"ack-repage:ops:ou_ops"}},
			{at: 12 * time.Minute},
			{at: 13 * time.Minute, want: []string{step1}},
			{at: 23 * time.Minute, want: []string{step2dba, step2}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "")
			card := h.accept("am-0.25-firing.json")
			require.Equal(t, []string{original}, h.sent())
			for _, m := range tt.moves {
				h.now = h.t0.Add(m.at)
				if m.do != nil {
					m.do(h, card)
				}
				h.esc.Round(context.Background())
				require.Equal(t, m.want, h.sent(), "at %s", m.at)
			}
		})
	}
}

func TestEscalationMetricsAndTimeline(t *testing.T) {
	h := newHarness(t, "")
	card := h.accept("am-0.25-firing.json")
	h.sent()
	h.at(5 * time.Minute)
	require.Len(t, h.sent(), 1)
	h.at(15 * time.Minute)
	require.Len(t, h.sent(), 2)
	require.Equal(t, 1.0, testutil.ToFloat64(h.esc.steps.WithLabelValues("db", "1")))
	require.Equal(t, 1.0, testutil.ToFloat64(h.esc.steps.WithLabelValues("db", "2")))
	n, err := h.db.Get(context.Background(), card)
	require.NoError(t, err)
	evs, err := h.db.Timeline(context.Background(), n.IncidentID)
	require.NoError(t, err)
	var lines []string
	for _, e := range evs {
		if e.Kind == EventEscalated {
			lines = append(lines, e.Detail)
		}
	}
	require.Equal(t, []string{"db 第 1 步 → lead", "db 第 2 步 → dba、lead"}, lines)
	steps, err := h.db.EscalationSteps(context.Background(), n.IncidentID)
	require.NoError(t, err)
	require.Len(t, steps, 2)

	// Who the escalation paged may ack from chat: they got a card.
	to, err := h.db.Recipients(context.Background(), n.IncidentID)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ou_ops", "ou_lead", "ou_dba1"}, to)
}

func TestEscalationRepeats(t *testing.T) {
	h := newHarness(t, "")
	cfg := *h.live.Load().Config
	p := *cfg.Escalations[0]
	p.Repeat = 1
	cfg.Escalations = []*config.Escalation{&p}
	h.live.Swap(&relay.State{Config: &cfg, Renderer: h.live.Load().Renderer})
	h.accept("am-0.25-firing.json")
	h.sent()
	h.at(5 * time.Minute)
	require.Len(t, h.sent(), 1)
	h.at(15 * time.Minute)
	require.Len(t, h.sent(), 2)
	h.at(20 * time.Minute)
	require.Equal(t, []string{"escalation:lead:ou_lead"}, h.sent(), "round 2's step 1 at 15m + 5m")
	h.at(30 * time.Minute)
	require.Len(t, h.sent(), 2)
	h.at(90 * time.Minute)
	require.Empty(t, h.sent(), "repeat: 1 runs the steps twice, no more")
}

func TestQueuedEscalationSkippedOnceAcked(t *testing.T) {
	h := newHarness(t, "")
	card := h.accept("am-0.25-firing.json")
	h.sent()
	h.at(5 * time.Minute) // step 1 queued, not sent yet
	h.ack(card, incident.Who{Name: "Ops", OpenID: "ou_ops", Via: incident.ViaCard})
	require.Equal(t, []string{"ack-confirm:ops:ou_ops"}, h.sent(), "the queued escalation is skipped")
}

func TestAckReminderAndTimeout(t *testing.T) {
	h := newHarness(t, "  remind_after: 10m\n  timeout: 30m\n")
	card := h.accept("am-0.25-firing.json")
	h.sent()
	h.now = h.t0.Add(time.Minute)
	h.ack(card, incident.Who{Name: "Ops", OpenID: "ou_ops", Via: incident.ViaCard})
	require.Equal(t, []string{"ack-confirm:ops:ou_ops"}, h.sent())
	h.at(10 * time.Minute)
	require.Empty(t, h.sent())
	h.at(11 * time.Minute)
	require.Equal(t, []string{"reminder:ops:ou_ops"}, h.sent(), "the acker is reminded once")
	h.restart()
	h.at(12 * time.Minute)
	require.Empty(t, h.sent(), "and only once, across a restart")
	require.Equal(t, 0.0, testutil.ToFloat64(h.esc.timeouts))
	h.at(31 * time.Minute)
	require.Equal(t, []string{"ack-repage:ops:ou_ops"}, h.sent(), "the ack is withdrawn and the incident pages again")
	require.Equal(t, 1.0, testutil.ToFloat64(h.esc.timeouts))
	h.at(36 * time.Minute)
	require.Equal(t, []string{"escalation:lead:ou_lead"}, h.sent(), "and escalates anew from step 1")
}

func TestDueSteps(t *testing.T) {
	p := &config.Escalation{Steps: []*config.EscalationStep{{After: config.Duration(5 * time.Minute)}, {After: config.Duration(15 * time.Minute)}}, Repeat: 1}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		after time.Duration
		want  int
	}{{0, 0}, {5*time.Minute - time.Second, 0}, {5 * time.Minute, 1}, {15 * time.Minute, 2}, {20 * time.Minute, 3}, {30 * time.Minute, 4}, {24 * time.Hour, 4}}
	for _, tt := range tests {
		require.Len(t, DueSteps(p, t0, t0.Add(tt.after)), tt.want, "after %s", tt.after)
	}
	a, b := StepID("i", t0, 0, 1), StepID("i", t0.Add(time.Nanosecond), 0, 1)
	require.NotEqual(t, a, b, "another firing period, another step")
	require.Equal(t, a, StepID("i", t0, 0, 1))
	require.NotEqual(t, a, StepID("i", t0, 1, 1))
}

func TestAcksCountedByEscalationStep(t *testing.T) {
	h := newHarness(t, "")
	card := h.accept("am-0.25-firing.json")
	h.sent()
	h.at(5 * time.Minute)
	h.sent()
	h.ack(card, lead)
	require.NoError(t, testutil.GatherAndCompare(h.ackReg, strings.NewReader(`
# HELP mind_relay_acks_by_escalation_step_total Acknowledgements of incidents whose receiver has an escalation policy, by the step reached (0: before any).
# TYPE mind_relay_acks_by_escalation_step_total counter
mind_relay_acks_by_escalation_step_total{step="1"} 1
`), "mind_relay_acks_by_escalation_step_total"))
}
