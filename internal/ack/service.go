// Package ack is the ack loop: on-call engineers acknowledge (and silence)
// incidents from the card, from the relay's ack page or with chat
// commands, and the relay keeps the promise that makes acks safe.
//
// Everything it decides is an incident transition (package incident)
// committed by the store together with the cards it asks for, under ids
// derived from the incident and the change: a retry, a crash or a second
// replica cannot send a card twice or lose a state change. It keeps no
// state of its own.
//
// With ack.silence set, an ack also silences the acknowledged alerts at
// their source (package silence), at a URL from the config only.
// Alertmanager does not notify a resolution of silenced alerts
// (alertmanager#226), so the silence is kept short and renewed while the
// alerts fire, Run polls the source for them, and once the evidence says
// they are gone (incident.Poll) the relay sends the resolved card itself
// and expires the silence.
package ack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/silence"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// Store is what the ack loop reads and changes (store.Store).
type Store interface {
	Get(ctx context.Context, id string) (store.Notification, error)
	Incident(ctx context.Context, id string) (incident.Incident, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Incident, error)
	UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (store.IncidentUpdate, error)) (incident.Incident, store.Changes, error)
	Timeline(ctx context.Context, id string) ([]incident.Event, error)
	PruneIncidents(ctx context.Context, before time.Time) (int, error)
	// Recipients are who got the incident's cards (recorded at send).
	Recipients(ctx context.Context, incidentID string) ([]string, error)
	// EscalationSteps are the escalation steps taken for it.
	EscalationSteps(ctx context.Context, incidentID string) ([]store.EscalationStep, error)
}

// Queue takes notifications for delivery (delivery.Queue), and is woken
// for those an incident change queued in its own transaction.
type Queue interface {
	Submit(ctx context.Context, ns []store.Notification) error
	Wake()
}

// Options are the service's collaborators.
type Options struct {
	Store Store
	Queue Queue
	// Live is the relay's live state: config (secret, silence settings,
	// receivers) and renderer.
	Live *relay.Live
	// HTTPClient calls the sources (default: its own client, which
	// follows no redirect).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

const (
	// retention is how long resolved incidents stay in the store.
	retention = 7 * 24 * time.Hour
	// listWindow is how far back `alerts` looks for open incidents.
	listWindow = 7 * 24 * time.Hour
	// minLease is the shortest silence the source holds at a time.
	minLease = 5 * time.Minute
	// ChatReceiver is the receiver name of chat answers in the queue (a
	// bounded metric label, never an open_id).
	ChatReceiver = "mind-chat"
	// ackStream is appended to a group's stream for its ack-state cards:
	// in the group's own stream a confirmation would supersede a resolved
	// card queued meanwhile.
	ackStream = "/ack"
)

// Service is the ack loop. It is safe for concurrent use.
type Service struct {
	st     Store
	queue  Queue
	live   *relay.Live
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	wake   chan struct{}

	lastPrune time.Time
}

// New returns the service; Run does the work behind.
func New(opts Options, reg prometheus.Registerer) (*Service, error) {
	if opts.Store == nil || opts.Queue == nil || opts.Live == nil {
		return nil, errors.New("ack: store, queue and live state are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A source that redirects is not followed: credentials and
			// silences go to the host the config named, no other.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Service{
		st: opts.Store, queue: opts.Queue, live: opts.Live, client: opts.HTTPClient,
		log: opts.Logger.With("component", "ack"), now: opts.Now, m: newMetrics(reg),
		wake: make(chan struct{}, 1),
	}, nil
}

func (s *Service) cfg() *config.Config { return s.live.Load().Config }

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Outcome is what an ack or unack did.
type Outcome struct {
	Result   string
	Incident *incident.Incident  // after it, when known
	Card     *store.Notification // the card acted on (or the incident's latest)
}

// card reads a queued card: its group, its alerts and its incident.
func (s *Service) card(ctx context.Context, id string) (*store.Notification, *relay.GroupData, error) {
	n, err := s.st.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	d, err := relay.DecodeGroup(n.Group)
	if err != nil {
		return nil, nil, fmt.Errorf("card %s: %w", id, err)
	}
	return &n, d, nil
}

// silenceAsk is the silence an ack asks for, given ack.silence (or a chat
// command's length) and where the group's payload said it came from.
func (s *Service) silenceAsk(inc *incident.Incident, g *alert.Group, d time.Duration) *incident.SilenceAsk {
	sc := s.cfg().Ack.Silence
	if sc == nil && d <= 0 {
		return nil
	}
	if d <= 0 {
		d = sc.Duration.D()
	}
	kind := silence.KindAlertmanager
	if inc.Source == string(alert.SourceGrafana) {
		kind = silence.KindGrafana
	}
	t, why, ok := silence.NewPolicy(sc).Resolve(kind, g.ExternalURL)
	if !ok {
		return &incident.SilenceAsk{Kind: kind, For: d, Refused: why}
	}
	return &incident.SilenceAsk{Kind: kind, Root: t.Root, For: d}
}

// Ack acknowledges, of the alerts the card shown showed, those still
// firing in its incident. silenceFor > 0 asks for a silence of that
// length whatever ack.silence says (the chat command).
func (s *Service) Ack(ctx context.Context, shown string, w incident.Who, silenceFor time.Duration) (Outcome, error) {
	n, d, err := s.card(ctx, shown)
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return Outcome{Result: ResultError}, err
	}
	if n == nil || n.IncidentID == "" {
		s.m.acks.WithLabelValues(ResultUnknownGroup).Inc()
		return Outcome{Result: ResultUnknownGroup}, nil
	}
	now := s.now()
	var result string
	inc, ch, err := s.change(ctx, n.IncidentID, func(cur incident.Incident) incident.Change {
		c := incident.Acknowledge(&cur, n.Alerts, w, now, s.silenceAsk(&cur, d.Group, silenceFor), silenceFor > 0)
		result = c.Result
		if c.Result != incident.ResultAcked && c.Result != incident.ResultAlreadyAcked || len(c.Events) == 0 {
			return incident.Change{} // nothing changes
		}
		return c
	})
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return Outcome{Result: ResultError}, err
	}
	s.after(ch)
	s.m.acks.WithLabelValues(result).Inc()
	if result == incident.ResultAcked {
		if first := earliest(inc.Ack.Alerts); !first.IsZero() {
			s.m.timeToAck.Observe(max(now.Sub(first).Seconds(), 0))
		}
		if rc := s.cfg().ReceiverByName(inc.Receiver); rc != nil && rc.Escalation != "" {
			if steps, err := s.st.EscalationSteps(ctx, inc.ID); err == nil {
				step, _ := reached(steps)
				s.m.acksByStep.WithLabelValues(strconv.Itoa(step)).Inc()
			}
		}
		s.log.Info("incident acknowledged", "incident", inc.ID, "group_id", inc.GroupID, "receiver", inc.Receiver,
			"by", w.Name, "via", w.Via, "alerts", len(inc.Ack.Alerts), "state", inc.State)
	}
	return Outcome{Result: result, Incident: &inc, Card: n}, nil
}

func earliest(as []incident.AlertRef) time.Time {
	var t time.Time
	for _, a := range as {
		if !a.StartsAt.IsZero() && (t.IsZero() || a.StartsAt.Before(t)) {
			t = a.StartsAt
		}
	}
	return t
}

// Unack withdraws the ack of the card's incident.
func (s *Service) Unack(ctx context.Context, shown string, w incident.Who) (Outcome, error) {
	n, _, err := s.card(ctx, shown)
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return Outcome{Result: ResultError}, err
	}
	if n == nil || n.IncidentID == "" {
		s.m.acks.WithLabelValues(ResultUnknownGroup).Inc()
		return Outcome{Result: ResultUnknownGroup}, nil
	}
	var result string
	inc, ch, err := s.change(ctx, n.IncidentID, func(cur incident.Incident) incident.Change {
		c := incident.Unacknowledge(&cur, w, s.now())
		result = c.Result
		if c.Result != incident.ResultUnacked {
			return incident.Change{}
		}
		return c
	})
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return Outcome{Result: ResultError}, err
	}
	s.after(ch)
	s.m.acks.WithLabelValues(result).Inc()
	if result == incident.ResultUnacked {
		s.log.Info("acknowledgement withdrawn", "incident", inc.ID, "by", w.Name, "via", w.Via)
	}
	return Outcome{Result: result, Incident: &inc, Card: n}, nil
}

// after wakes the queue for cards a change queued and the worker for
// silences it wants.
func (s *Service) after(ch store.Changes) {
	if ch.Count > 0 {
		s.queue.Wake()
	}
	s.poke()
}

// errStale: the incident's latest card changed between its read and the
// transaction; the change is computed again.
var errStale = errors.New("the incident changed meanwhile")

// change commits fn's change of an incident together with the cards it
// asks for. The incident's latest card (the group those cards show) is
// read before the transaction, which holds no I/O but the store's own; if
// another card came meanwhile, it starts again.
func (s *Service) change(ctx context.Context, id string, fn func(cur incident.Incident) incident.Change) (incident.Incident, store.Changes, error) {
	for range 5 {
		inc, err := s.st.Incident(ctx, id)
		if err != nil {
			return incident.Incident{}, store.Changes{}, err
		}
		last, d, err := s.card(ctx, inc.LastCard)
		if err != nil {
			return incident.Incident{}, store.Changes{}, err
		}
		after, ch, err := s.st.UpdateIncident(ctx, id, func(cur incident.Incident) (store.IncidentUpdate, error) {
			if cur.LastCard != inc.LastCard {
				return store.IncidentUpdate{}, errStale
			}
			c := fn(cur)
			if c.Next == nil {
				return store.IncidentUpdate{}, nil
			}
			ns, err := s.cards(c.Next, c.Cards, cur.Version, last, d)
			return store.IncidentUpdate{Change: c, Enqueue: ns}, err
		})
		if errors.Is(err, errStale) {
			continue
		}
		return after, ch, err
	}
	return incident.Incident{}, store.Changes{}, fmt.Errorf("incident %s: %w five times", id, errStale)
}

// cards are the notifications a change of inc (at version v) asks for,
// showing the group of its latest card, under ids derived from the
// incident, the kind and the version: the same change committed twice
// queues them once.
func (s *Service) cards(inc *incident.Incident, kinds []incident.Card, v int64, last *store.Notification, d *relay.GroupData) ([]store.Notification, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	if last == nil {
		return nil, fmt.Errorf("incident %s: its latest card %s is gone", inc.ID, inc.LastCard)
	}
	var out []store.Notification
	for _, k := range kinds {
		id := incident.SideEffectID(inc.ID, string(k), int(v))
		n := store.Notification{
			ID: id, GroupID: inc.GroupID + ackStream, Receiver: inc.Receiver, Source: inc.Source, Status: string(k),
			IncidentID: inc.ID, Alerts: last.Alerts, Group: last.Group,
			Request: mind.Request{Endpoint: last.Request.Endpoint, RequestID: id}, CreatedAt: s.now(),
		}
		switch k {
		case incident.CardConfirm:
			n.Kind = store.KindAckConfirm
		case incident.CardRepage:
			n.Kind = store.KindAckRepage
		case incident.CardResolved:
			g, refs := resolvedGroup(d.Group, inc, s.now())
			data, err := relay.EncodeGroup(g, &config.Receiver{OpenIDs: d.OpenIDs, AllSubscribers: d.AllSubscribers, Schedule: d.Schedule})
			if err != nil {
				return nil, err
			}
			// In the group's own stream: it supersedes older cards of the
			// group still queued.
			n.GroupID, n.Kind, n.Status, n.Group, n.Alerts = inc.GroupID, store.KindGroup, alert.StatusResolved, data, refs
		}
		out = append(out, n)
	}
	return out, nil
}

// resolvedGroup is the group of the relay's resolved card: the
// acknowledged alerts, resolved by now.
func resolvedGroup(g *alert.Group, inc *incident.Incident, now time.Time) (*alert.Group, []incident.AlertRef) {
	r := *g
	r.Status = alert.StatusResolved
	r.Alerts = nil
	for _, a := range g.Alerts {
		if !acked(inc, a) {
			continue
		}
		a.Status = alert.StatusResolved
		if a.EndsAt.IsZero() || a.EndsAt.After(now) {
			a.EndsAt = now // the source no longer lists it: resolved by now
		}
		r.Alerts = append(r.Alerts, a)
	}
	return &r, incident.Refs(r.Alerts)
}

// acked reports whether the incident's ack covers a.
func acked(inc *incident.Incident, a alert.Alert) bool {
	if inc.Ack == nil {
		return false
	}
	ref := incident.Refs(alert.Alerts{a})[0]
	return slices.ContainsFunc(inc.Ack.Alerts, ref.Same)
}

// render builds a card of group d for its incident.
func (s *Service) render(n *store.Notification, d *relay.GroupData, inc *incident.Incident) (*card.Card, error) {
	st := s.live.Load()
	rc := d.Receiver(st.Config, n.Receiver)
	c, err := st.Renderer.Render(d.Group, render.Input{
		Receiver: rc, GroupID: inc.GroupID, NotificationID: n.ID, Ack: relay.AckInfo(inc, n.Alerts),
	})
	return c, err
}

// secret is the live ack secret.
func (s *Service) secret() []byte { return []byte(s.cfg().Ack.Secret.Value()) }

// verify checks an ack token; result is the acks_total result of a bad one.
func (s *Service) verify(tok string) (token.Claims, string, error) {
	c, err := token.Verify(s.secret(), tok, s.now())
	switch {
	case err == nil && c.NotificationID == "":
		return c, ResultInvalidToken, errors.New("token names no card")
	case errors.Is(err, token.ErrExpired):
		return c, ResultExpiredToken, err
	case err != nil:
		return c, ResultInvalidToken, err
	}
	return c, "", nil
}

// GroupName is what the group is about, for chat answers and the page.
func GroupName(g *alert.Group) string {
	if n := g.CommonLabels["alertname"]; n != "" {
		return n
	}
	if n := g.GroupLabels["alertname"]; n != "" {
		return n
	}
	for _, a := range g.Alerts {
		if n := a.Labels["alertname"]; n != "" {
			return n + " 等"
		}
	}
	return "告警"
}

// lease is how long a silence holds at the source before the relay renews
// it: a relay that is gone cannot hide alerts for longer.
func (s *Service) lease(d time.Duration) time.Duration {
	l := max(minLease, 3*s.cfg().Ack.PollInterval.D())
	return min(l, d)
}
