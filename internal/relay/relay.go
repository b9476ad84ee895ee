// Package relay is the gateway's core: it takes a group of alerts from any
// source, routes it to receivers and hands one notification per receiver,
// with the routed group, to the delivery queue; the queue asks Cards to
// build the card and the Mind request just before the send. It holds the
// live configuration (Live) and swaps it atomically on reload.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
)

// State is everything built from one configuration file. It is immutable
// once built; a reload builds a new one and swaps it in whole.
type State struct {
	Config   *config.Config
	Tree     *route.Tree
	Renderer *render.Renderer
}

// Queue takes notifications for delivery. Submit returns nil only once
// they are durably accepted: after that they will reach Mind.
type Queue interface {
	Submit(ctx context.Context, ns []store.Notification) error
}

// Incidents reads the incidents cards are rendered with (the store).
type Incidents interface {
	Incident(ctx context.Context, id string) (incident.Incident, error)
}

// Live holds the live state; a reload swaps it whole. Requests already
// running finish with the state they started with.
type Live struct{ p atomic.Pointer[State] }

// NewLive returns a holder serving st.
func NewLive(st *State) *Live {
	l := &Live{}
	l.p.Store(st)
	return l
}

// Load returns the live state.
func (l *Live) Load() *State { return l.p.Load() }

// Swap replaces the live state.
func (l *Live) Swap(st *State) { l.p.Store(st) }

// ErrUnknownReceiver is returned when a webhook names a receiver the
// configuration does not define.
var ErrUnknownReceiver = errors.New("unknown receiver")

// ErrNotAccepted wraps a failure to hand notifications to the queue: the
// sender should try again.
var ErrNotAccepted = errors.New("notification not accepted")

// ErrInvalid wraps a notification the queue refused as unsendable: a bug
// of ours, not the sender's, and not one a retry fixes.
var ErrInvalid = errors.New("notification is invalid")

// Relay routes and enqueues.
type Relay struct {
	live     *Live
	queue    Queue
	log      *slog.Logger
	now      func() time.Time
	priority config.PriorityConfig
	dedupe   time.Duration
	alerts   *prometheus.CounterVec
}

// Options are the relay's collaborators.
type Options struct {
	Queue  Queue
	Logger *slog.Logger
	Now    func() time.Time
	// Priority ranks each notification's urgency when it is queued
	// (delivery.priority, read at start); zero ranks every group alike.
	Priority config.PriorityConfig
	// DedupeWindow is how long a webhook's content is remembered to drop
	// its duplicates (delivery.dedupe_window, read at start); 0 is off.
	DedupeWindow time.Duration
}

// New returns a relay serving the live state.
func New(live *Live, opts Options, reg prometheus.Registerer) *Relay {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{
		live:     live,
		queue:    opts.Queue,
		log:      opts.Logger,
		now:      opts.Now,
		priority: opts.Priority,
		dedupe:   opts.DedupeWindow,
		alerts: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_alerts_received_total",
			Help: "Alerts received in webhooks, by source and status (firing, resolved, invalid).",
		}, []string{"source", "status"}),
	}
}

// State returns the live state.
func (r *Relay) State() *State { return r.live.Load() }

// Swap replaces the live state; requests already running finish with the
// state they started with.
func (r *Relay) Swap(st *State) { r.live.Swap(st) }

// CountInvalid records alerts dropped from a payload before routing.
func (r *Relay) CountInvalid(src alert.Source, n int) {
	if n > 0 {
		r.alerts.WithLabelValues(string(src), "invalid").Add(float64(n))
	}
}

// Accept routes g and submits the notifications; their cards are
// rendered when they are sent (Render). receiver,
// when not empty, bypasses the route tree. It returns the number of
// notifications accepted.
func (r *Relay) Accept(ctx context.Context, g *alert.Group, receiver string) (int, error) {
	for _, a := range g.Alerts {
		r.alerts.WithLabelValues(string(g.Source), a.Status).Inc()
	}
	ns, err := r.Prepare(ctx, r.State(), g, receiver)
	if err != nil {
		return 0, err
	}
	if err := r.queue.Submit(ctx, ns); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return 0, fmt.Errorf("%w: %w", ErrNotAccepted, err)
	}
	return len(ns), nil
}

// Prepare routes g with st without submitting anything. The requests it
// returns have no body yet: Render builds it, at send time.
func (r *Relay) Prepare(_ context.Context, st *State, g *alert.Group, receiver string) ([]store.Notification, error) {
	var routed []route.Routed
	if receiver != "" {
		if st.Config.ReceiverByName(receiver) == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownReceiver, receiver)
		}
		routed = []route.Routed{{Receiver: receiver, Group: g}}
	} else {
		routed = st.Tree.Split(g)
	}
	now := r.now()
	ns := make([]store.Notification, 0, len(routed))
	for _, rt := range routed {
		n, err := r.notification(st, rt, now)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// groupVersion is the format of GroupData.
const groupVersion = 1

// GroupData is what a notification's card is rendered from at send time
// (store.Notification.Group): the routed group and who it went to when it
// was accepted, should a reload remove the receiver before the send. It is
// stored once, with its notification.
type GroupData struct {
	V              int          `json:"v"`
	Group          *alert.Group `json:"group"`
	OpenIDs        []string     `json:"open_ids,omitempty"`
	AllSubscribers bool         `json:"all_subscribers,omitempty"`
	// Schedule is the receiver's on-call schedule: who is on call on it
	// when the card is sent gets it too.
	Schedule string `json:"schedule,omitempty"`
	// Escalation is set on the card an escalation step pages.
	Escalation *Escalation `json:"escalation,omitempty"`
}

// Escalation is what an escalation card says about the step that sent it.
type Escalation struct {
	Policy string `json:"policy"`
	Round  int    `json:"round"` // 0: the first run of the steps
	Step   int    `json:"step"`  // 1-based
	// Paged are the receivers paged before this step: the incident's own,
	// then the earlier steps'.
	Paged []string `json:"paged"`
	// Since is when the incident started firing unacknowledged.
	Since time.Time `json:"since"`
}

// EncodeGroup encodes g as routed to rc.
func EncodeGroup(g *alert.Group, rc *config.Receiver) ([]byte, error) {
	return EncodeGroupData(GroupData{Group: g}, rc)
}

// EncodeGroupData encodes d, with the recipients of rc.
func EncodeGroupData(d GroupData, rc *config.Receiver) ([]byte, error) {
	d.V = groupVersion
	if rc != nil {
		d.OpenIDs, d.AllSubscribers, d.Schedule = rc.OpenIDs, rc.AllSubscribers, rc.Schedule
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode the group: %w", err)
	}
	return b, nil
}

// DecodeGroup reads what EncodeGroup wrote.
func DecodeGroup(b []byte) (*GroupData, error) {
	var d GroupData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode the group: %w", err)
	}
	if d.V != groupVersion || d.Group == nil {
		return nil, fmt.Errorf("group has unknown format %d", d.V)
	}
	return &d, nil
}

// Receiver is the relay receiver a queued group goes to: the live one, or
// the one the group remembers when a reload removed it.
func (d *GroupData) Receiver(cfg *config.Config, name string) *config.Receiver {
	if rc := cfg.ReceiverByName(name); rc != nil {
		return rc
	}
	return &config.Receiver{Name: name, OpenIDs: d.OpenIDs, AllSubscribers: d.AllSubscribers, Schedule: d.Schedule}
}

// Endpoint is the Mind endpoint of rc's cards: every subscriber, or the
// robot message to open_ids — its own and, for a receiver on a schedule,
// those of whoever is on call when the card is sent (Cards.Render decides
// them, and dead-letters a card nobody is there to get).
func Endpoint(rc *config.Receiver) (string, error) {
	if rc.Schedule != "" && !rc.AllSubscribers {
		return mind.EndpointRobotMessage, nil
	}
	return mind.CardEndpoint(rc.OpenIDs, rc.AllSubscribers)
}

// notification routes one group to its receiver and queues it as a group
// card, with the group to render it from at send time and the alerts it
// shows, which the store observes with the group's incident.
func (r *Relay) notification(st *State, rt route.Routed, now time.Time) (store.Notification, error) {
	recv := st.Config.ReceiverByName(rt.Receiver)
	if recv == nil {
		return store.Notification{}, fmt.Errorf("%w %q", ErrUnknownReceiver, rt.Receiver)
	}
	g := rt.Group
	id := uuid.NewString()
	endpoint, err := Endpoint(recv)
	if err != nil {
		return store.Notification{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	data, err := EncodeGroup(g, recv)
	if err != nil {
		return store.Notification{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	n := store.Notification{
		ID:        id,
		GroupID:   alert.GroupID(g.Source, g.Key(), recv.Name),
		Receiver:  recv.Name,
		Source:    string(g.Source),
		Status:    g.Status,
		Kind:      store.KindGroup,
		Alerts:    incident.Refs(g.Alerts),
		Request:   mind.Request{Endpoint: endpoint, RequestID: id},
		Group:     data,
		CreatedAt: now,
		Priority:  Priority(r.priority, g),
	}
	if r.dedupe > 0 {
		n.DedupeKey, n.DedupeUntil = ContentKey(g, recv.Name), now.Add(r.dedupe)
	}
	return n, nil
}
