// Package relay is the gateway's core: it takes a group of alerts from any
// source, routes it to receivers, renders one card per receiver and hands
// the resulting Mind requests to the delivery queue. It holds the live
// configuration and swaps it atomically on reload.
package relay

import (
	"context"
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
// It is called on the webhook path for every notification: it must answer
// from memory.
type AckLookup interface {
	// AckFor returns the group's acknowledgement, nil when there is none.
	// ErrSkip drops the notification: the ack loop already told the
	// receiver (it sent the resolved card itself).
	AckFor(ctx context.Context, groupID string, g *alert.Group) (*render.AckInfo, error)
	// Snapshot encodes the group as sent to receiver, for the ack loop to
	// act on later; it is stored in the same commit as the notification.
	Snapshot(g *alert.Group, receiver *config.Receiver) ([]byte, error)
}

// ErrSkip, from AckLookup.AckFor, drops a notification that would repeat
// what the ack loop already sent.
var ErrSkip = errors.New("already sent by the ack loop")

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
	state  atomic.Pointer[State]
	queue  Queue
	acks   AckLookup
	log    *slog.Logger
	now    func() time.Time
	alerts *prometheus.CounterVec
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

// Accept routes and renders g and submits the notifications. receiver,
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

// Prepare routes and renders g with st without submitting anything; the
// render command prints what it returns.
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

func (r *Relay) notification(ctx context.Context, st *State, rt route.Routed, now time.Time) (store.Notification, error) {
	recv := st.Config.ReceiverByName(rt.Receiver)
	if recv == nil {
		return store.Notification{}, fmt.Errorf("%w %q", ErrUnknownReceiver, rt.Receiver)
	}
	g := rt.Group
	id := uuid.NewString()
	groupID := alert.GroupID(g.Source, g.Key(), recv.Name)
	in := render.Input{Receiver: recv, GroupID: groupID, NotificationID: id}
	var snapshot []byte
	if r.acks != nil {
		ack, err := r.acks.AckFor(ctx, groupID, g)
		switch {
		case errors.Is(err, ErrSkip):
			r.log.Debug("notification dropped: the ack loop sent it already", "group_id", groupID, "receiver", recv.Name)
			return store.Notification{}, err
		case err != nil:
			// An ack we cannot read must not stop the page: render it red.
			r.log.Warn("reading ack state failed; rendering unacknowledged", "group_id", groupID, "err", err)
		}
		in.Ack = ack
		if snapshot, err = r.acks.Snapshot(g, recv); err != nil {
			// Without a snapshot the group cannot be acked until the
			// next notification; the page itself goes out.
			r.log.Warn("cannot encode the group for acks", "group_id", groupID, "err", err)
		}
	}
	c, err := st.Renderer.Render(g, in)
	if err != nil {
		return store.Notification{}, fmt.Errorf("render card for receiver %q: %w", recv.Name, err)
	}
	content, err := c.JSON()
	if err != nil {
		return store.Notification{}, err
	}
	req, err := mind.NewCardRequest(id, recv.OpenIDs, recv.AllSubscribers, content)
	if err != nil {
		return store.Notification{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	return store.Notification{
		ID:        id,
		GroupID:   groupID,
		Receiver:  recv.Name,
		Source:    string(g.Source),
		Status:    g.Status,
		Request:   req,
		CreatedAt: now,
		Snapshot:  snapshot,
	}, nil
}
