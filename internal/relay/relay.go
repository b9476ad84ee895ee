// Package relay is the gateway's core: it takes a group of alerts from any
// source, routes it to receivers and hands one notification per receiver,
// with the routed group, to the delivery queue; the queue's worker has
// Render build the card and the Mind request just before the send. It holds
// the live configuration and swaps it atomically on reload.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
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

// AckLookup reports whether a group is acknowledged, so that repeat
// notifications of an acknowledged group render as such. It may be nil.
// It is called on the webhook path for every notification (for ErrSkip,
// and so that a group's new state ends its ack at once) and again by
// Render at send time: it must answer from memory.
type AckLookup interface {
	// AckFor returns the group's acknowledgement, nil when there is none.
	// ErrSkip drops the notification: the ack loop already told the
	// receiver (it sent the resolved card itself).
	AckFor(ctx context.Context, groupID string, g *alert.Group) (*render.AckInfo, error)
	// KeepsSnapshots says whether the ack loop wants the group's latest
	// state (the notification's encoded group, EncodeGroup) kept as its
	// snapshot, in the same commit as the notification.
	KeepsSnapshots() bool
	// AckCard says how an ack-state card (a row in the group's AckStream,
	// its Status the kind) renders now: with which ack, or skip when the
	// group has moved on since it was queued.
	AckCard(ctx context.Context, groupID, kind string) (info *render.AckInfo, skip bool)
}

// ErrSkip, from AckLookup.AckFor, drops a notification that would repeat
// what the ack loop already sent.
var ErrSkip = errors.New("already sent by the ack loop")

// Ack-state cards — the ack loop's confirmation, and the group paging again
// after an unack — are queued in a stream of their own, the group's id plus
// AckStream, with their kind as the row's Status, and rendered at send time
// through AckLookup.AckCard.
const (
	AckStream      = "/ack"
	AckCardConfirm = "ack-confirm"
	AckCardRepage  = "ack-repage"
)

// ErrUnknownReceiver is returned when a webhook names a receiver the
// configuration does not define.
var ErrUnknownReceiver = errors.New("unknown receiver")

// ErrNotAccepted wraps a failure to hand notifications to the queue: the
// sender should try again.
var ErrNotAccepted = errors.New("notification not accepted")

// ErrInvalid wraps a notification the queue refused as unsendable: a bug
// of ours, not the sender's, and not one a retry fixes.
var ErrInvalid = errors.New("notification is invalid")

// Relay routes, renders and enqueues.
type Relay struct {
	state   atomic.Pointer[State]
	queue   Queue
	acks    AckLookup
	log     *slog.Logger
	now     func() time.Time
	alerts  *prometheus.CounterVec
	renders prometheus.Counter
}

// Options are the relay's collaborators.
type Options struct {
	Queue  Queue
	Acks   AckLookup
	Logger *slog.Logger
	Now    func() time.Time
}

// New returns a relay serving state.
func New(st *State, opts Options, reg prometheus.Registerer) *Relay {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		queue: opts.Queue,
		acks:  opts.Acks,
		log:   opts.Logger,
		now:   opts.Now,
		alerts: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_alerts_received_total",
			Help: "Alerts received in webhooks, by source and status (firing, resolved, invalid).",
		}, []string{"source", "status"}),
		renders: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_cards_rendered_total",
			Help: "Cards rendered for notifications, at send time (a notification superseded before its send is never rendered).",
		}),
	}
	r.state.Store(st)
	return r
}

// State returns the live state.
func (r *Relay) State() *State { return r.state.Load() }

// Swap replaces the live state; requests already running finish with the
// state they started with.
func (r *Relay) Swap(st *State) { r.state.Store(st) }

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
		if errors.Is(err, delivery.ErrInvalid) {
			return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return 0, fmt.Errorf("%w: %w", ErrNotAccepted, err)
	}
	return len(ns), nil
}

// Prepare routes g with st without submitting anything. The requests it
// returns have no body yet: Render builds it, at send time.
func (r *Relay) Prepare(ctx context.Context, st *State, g *alert.Group, receiver string) ([]store.Notification, error) {
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
		n, err := r.notification(ctx, st, rt, now)
		if errors.Is(err, ErrSkip) {
			continue
		}
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
// (store.Notification.Group), and what the ack loop keeps as a group's
// snapshot: the routed group and who it went to when it was accepted,
// should a reload remove the receiver before the send.
type GroupData struct {
	V              int          `json:"v"`
	Group          *alert.Group `json:"group"`
	OpenIDs        []string     `json:"open_ids,omitempty"`
	AllSubscribers bool         `json:"all_subscribers,omitempty"`
}

// EncodeGroup encodes g as routed to rc.
func EncodeGroup(g *alert.Group, rc *config.Receiver) ([]byte, error) {
	d := GroupData{V: groupVersion, Group: g}
	if rc != nil {
		d.OpenIDs, d.AllSubscribers = rc.OpenIDs, rc.AllSubscribers
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

// notification routes one group to its receiver and queues it, with the
// group to render its card from at send time. Only what must be decided
// now is: who gets it (the stream, the endpoint) and whether the ack loop
// already sent it.
func (r *Relay) notification(ctx context.Context, st *State, rt route.Routed, now time.Time) (store.Notification, error) {
	recv := st.Config.ReceiverByName(rt.Receiver)
	if recv == nil {
		return store.Notification{}, fmt.Errorf("%w %q", ErrUnknownReceiver, rt.Receiver)
	}
	g := rt.Group
	id := uuid.NewString()
	groupID := alert.GroupID(g.Source, g.Key(), recv.Name)
	endpoint, err := mind.CardEndpoint(recv.OpenIDs, recv.AllSubscribers)
	if err != nil {
		return store.Notification{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	data, err := EncodeGroup(g, recv)
	if err != nil {
		return store.Notification{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	var snapshot []byte
	if r.acks != nil {
		// Asked here too, not only at send time: a resolution the ack
		// loop sent already is not queued at all (nor does it overwrite
		// the group's snapshot), and an ack that this group ends is ended
		// now, not when the card leaves. AckFor answers from memory.
		_, err := r.acks.AckFor(ctx, groupID, g)
		if errors.Is(err, ErrSkip) {
			r.log.Debug("notification dropped: the ack loop sent it already", "group_id", groupID, "receiver", recv.Name)
			return store.Notification{}, err
		}
		if r.acks.KeepsSnapshots() {
			snapshot = data // the same bytes: encoded once
		}
	}
	return store.Notification{
		ID:        id,
		GroupID:   groupID,
		Receiver:  recv.Name,
		Source:    string(g.Source),
		Status:    g.Status,
		Request:   mind.Request{Endpoint: endpoint, RequestID: id},
		Group:     data,
		CreatedAt: now,
		Snapshot:  snapshot,
	}, nil
}

// Render builds the Mind request of a notification queued by Prepare,
// with the live state: the receiver, templates and ack state as they are
// now. It is the delivery queue's Prepare hook. A receiver a reload
// removed gets the card with the default templates, sent to whom it went
// when the notification was accepted. An error wrapping ErrSkip means the
// ack loop sent it already; any other error is permanent.
func (r *Relay) Render(ctx context.Context, n store.Notification) (mind.Request, error) {
	d, err := DecodeGroup(n.Group)
	if err != nil {
		return mind.Request{}, fmt.Errorf("queued group: %w", err)
	}
	st := r.State()
	recv := st.Config.ReceiverByName(n.Receiver)
	if recv == nil {
		r.log.Warn("receiver removed by a reload; sending its queued card to its recipients as accepted",
			"receiver", n.Receiver, "id", n.ID)
		recv = &config.Receiver{Name: n.Receiver, OpenIDs: d.OpenIDs, AllSubscribers: d.AllSubscribers}
	}
	groupID, ackCard := strings.CutSuffix(n.GroupID, AckStream)
	in := render.Input{Receiver: recv, GroupID: groupID, NotificationID: n.ID}
	switch {
	case ackCard && r.acks == nil:
		return mind.Request{}, fmt.Errorf("%w: ack-state card with acks off", delivery.ErrSkip)
	case ackCard:
		info, skip := r.acks.AckCard(ctx, groupID, n.Status)
		if skip {
			return mind.Request{}, fmt.Errorf("%w: the group moved on since this %s card was queued", delivery.ErrSkip, n.Status)
		}
		in.Ack = info
	case r.acks != nil:
		ack, err := r.acks.AckFor(ctx, n.GroupID, d.Group)
		switch {
		case errors.Is(err, ErrSkip):
			return mind.Request{}, fmt.Errorf("%w: %w", delivery.ErrSkip, err)
		case err != nil:
			// An ack we cannot read must not stop the page: render it red.
			r.log.Warn("reading ack state failed; rendering unacknowledged", "group_id", n.GroupID, "err", err)
		}
		in.Ack = ack
	}
	r.renders.Inc()
	c, err := st.Renderer.Render(d.Group, in)
	if err != nil {
		return mind.Request{}, fmt.Errorf("render card for receiver %q: %w", recv.Name, err)
	}
	content, err := c.JSON()
	if err != nil {
		return mind.Request{}, err
	}
	req, err := mind.NewCardRequest(n.Request.RequestID, recv.OpenIDs, recv.AllSubscribers, content)
	if err != nil {
		return mind.Request{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	return req, nil
}
