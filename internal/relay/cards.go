package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Cards renders queued notifications at send time, with the live state and
// each notification's incident as the store has it now: the delivery
// queue's Renderer (the queue names the interface; the relay does not
// import the queue).
type Cards struct {
	live      *Live
	incidents Incidents
	log       *slog.Logger
	renders   prometheus.Counter
	digest    digestOptions
	now       func() time.Time
}

// RecipientRecorder remembers who got an incident's card (store.Store):
// whoever got it may ack it. When Cards' Incidents is one, Render records
// the recipients of every card it builds for an incident.
type RecipientRecorder interface {
	RecordRecipients(ctx context.Context, incidentID string, openIDs []string, at time.Time) error
}

// SetClock replaces the clock that says who is on call (tests).
func (c *Cards) SetClock(now func() time.Time) { c.now = now }

// ErrNobodyOnCall is why the card of a receiver whose only recipients come
// from a schedule is dead-lettered when nobody is on call on it.
var ErrNobodyOnCall = errors.New("nobody is on call")

// NewCards returns the renderer of queued cards.
func NewCards(live *Live, incidents Incidents, logger *slog.Logger, reg prometheus.Registerer) *Cards {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cards{live: live, incidents: incidents, log: logger, now: time.Now,
		renders: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_cards_rendered_total",
			Help: "Cards rendered for notifications, at send time (a notification superseded before its send is never rendered).",
		})}
}

// AckInfo is an incident's ack as a card of alerts shows it: the ack when
// it covers every firing alert of the card (an alert it does not cover
// pages red); on a card of resolved alerts, the ack the incident had.
func AckInfo(inc *incident.Incident, alerts []incident.AlertRef) *render.AckInfo {
	if inc == nil || inc.Ack == nil || !inc.AckCovers(alerts) {
		return nil
	}
	in := &render.AckInfo{By: inc.Ack.By, ByOpenID: inc.Ack.OpenID, At: inc.Ack.At}
	if s := inc.Silence; s != nil {
		switch {
		case len(s.Live()) > 0:
			in.SilencedUntil, in.SilenceURL = s.Until, s.Link
		case s.Error != "":
			in.SilenceError = s.Error
		}
	}
	return in
}

// CardAck sets how a card of g, showing alerts, renders with inc's ack:
// in.Ack when the ack covers every firing alert of the card (orange).
// When it covers only some, the card stays red (it pages for the others)
// and in.AlertAck gives each alert its own state; the group returned then
// lists the firing alerts no ack covers first. Otherwise g is returned as
// it is.
func CardAck(in *render.Input, inc *incident.Incident, g *alert.Group, alerts []incident.AlertRef) *alert.Group {
	in.Ack, in.AlertAck = AckInfo(inc, alerts), nil
	if in.Ack != nil || inc == nil || inc.Ack == nil || !slices.ContainsFunc(alerts, func(a incident.AlertRef) bool {
		return a.Firing && inc.AckCovers([]incident.AlertRef{a})
	}) {
		return g
	}
	ack := &render.AckInfo{By: inc.Ack.By, ByOpenID: inc.Ack.OpenID, At: inc.Ack.At}
	state := func(a *alert.Alert) render.AlertAck {
		ref := incident.Refs(alert.Alerts{*a})[0]
		switch {
		case !ref.Firing:
			return render.AlertAck{} // resolved: it says so itself
		case inc.AckCovers([]incident.AlertRef{ref}):
			return render.AlertAck{Ack: ack}
		case slices.ContainsFunc(inc.Ack.Alerts, ref.Same):
			return render.AlertAck{Raised: true}
		default:
			return render.AlertAck{New: true}
		}
	}
	in.AlertAck = state
	ordered := *g
	ordered.Alerts = make(alert.Alerts, 0, len(g.Alerts))
	for _, unacked := range []bool{true, false} {
		for _, a := range g.Alerts {
			st := state(&a)
			if (st.New || st.Raised) == unacked {
				ordered.Alerts = append(ordered.Alerts, a)
			}
		}
	}
	return &ordered
}

// Render is the delivery queue's Renderer. A group card renders with its
// incident's ack (CardAck: orange when it covers the card's firing alerts,
// else red with each alert's own state, as an escalation card is); an
// ack-state card (its Kind) goes out only while its
// incident is still as it was when it was queued — a confirmation while
// acknowledged, a repage while firing — and is skipped (store.ErrSkip)
// once the incident moved on. A receiver a reload removed gets the card
// with the default templates, sent to whom it went when accepted. A digest
// (store.KindDigest) renders from the cards it folded (renderDigest). Any
// other error is permanent.
func (c *Cards) Render(ctx context.Context, n store.Notification) (mind.Request, error) {
	if n.Kind == store.KindDigest {
		return c.renderDigest(ctx, c.live.Load(), n)
	}
	d, err := DecodeGroup(n.Group)
	if err != nil {
		return mind.Request{}, fmt.Errorf("queued group: %w", err)
	}
	st := c.live.Load()
	recv := d.Receiver(st.Config, n.Receiver)
	if st.Config.ReceiverByName(n.Receiver) == nil {
		c.log.Warn("receiver removed by a reload; sending its queued card to its recipients as accepted",
			"receiver", n.Receiver, "id", n.ID)
	}
	in := render.Input{Receiver: recv, GroupID: n.GroupID, NotificationID: n.ID}
	g := d.Group
	var inc *incident.Incident
	if n.IncidentID != "" {
		got, err := c.incidents.Incident(ctx, n.IncidentID)
		switch {
		case err == nil:
			inc = &got
			in.GroupID = got.GroupID
		case n.Kind == store.KindGroup || n.Kind == "":
			// An incident we cannot read must not stop the page: red.
			c.log.Warn("reading the incident failed; rendering unacknowledged", "incident", n.IncidentID, "err", err)
		default:
			return mind.Request{}, fmt.Errorf("%w: the incident of this %s card is gone: %w", store.ErrSkip, n.Kind, err)
		}
	}
	now := c.now()
	switch n.Kind {
	case store.KindEscalation:
		// Only while nobody acked and it fires: an ack or a resolution
		// stops the chain, cards already queued included.
		if inc == nil || inc.State != incident.Firing {
			return mind.Request{}, fmt.Errorf("%w: the incident was acknowledged or resolved since this escalation was queued", store.ErrSkip)
		}
		if e := d.Escalation; e != nil {
			in.Escalation = &render.EscalationInfo{Policy: e.Policy, Round: e.Round, Step: e.Step,
				Paged: e.Paged, Unacked: max(now.Sub(e.Since), 0)}
		}
		// It pages, red; on an incident acknowledged in part each alert
		// says its own state.
		g = CardAck(&in, inc, g, n.Alerts)
		in.Ack = nil
	case store.KindAckConfirm:
		if inc == nil || inc.State != incident.Acked {
			return mind.Request{}, fmt.Errorf("%w: the incident moved on since this confirmation was queued", store.ErrSkip)
		}
		in.Ack = AckInfo(inc, inc.Alerts)
	case store.KindAckRepage:
		if inc == nil || inc.State != incident.Firing {
			return mind.Request{}, fmt.Errorf("%w: the incident moved on since this repage was queued", store.ErrSkip)
		}
	case store.KindGroup, "":
		g = CardAck(&in, inc, g, n.Alerts)
	default:
		return mind.Request{}, fmt.Errorf("%w: notification kind %q renders no card", store.ErrSkip, n.Kind)
	}
	// Whoever is on call when the card leaves gets it.
	to, err := Recipients(st.Config, recv, now)
	if err != nil {
		return mind.Request{}, err
	}
	in.Mentions = Mentions(st.Config, recv, d.Group.CommonLabels, now)
	c.renders.Inc()
	card, err := st.Renderer.Render(g, in)
	if err != nil {
		return mind.Request{}, fmt.Errorf("render card for receiver %q: %w", recv.Name, err)
	}
	content, err := card.JSON()
	if err != nil {
		return mind.Request{}, err
	}
	req, err := mind.NewCardRequest(n.Request.RequestID, to, recv.AllSubscribers, content)
	if err != nil {
		return mind.Request{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	if rec, ok := c.incidents.(RecipientRecorder); ok && n.IncidentID != "" && len(to) > 0 {
		// Recorded before the send: whoever may get the card may ack it.
		// A failure costs a chat ack of theirs, not the page.
		if err := rec.RecordRecipients(ctx, n.IncidentID, to, now); err != nil {
			c.log.Warn("recording who gets the card failed", "incident", n.IncidentID, "id", n.ID, "err", err)
		}
	}
	return req, nil
}

// Recipients is whom recv's card goes to at now: its open_ids, then who
// is on call on its schedule. A receiver that has none of them (and is not
// all_subscribers) pages nobody: an error naming the schedule, which
// dead-letters the card rather than dropping it.
func Recipients(cfg *config.Config, recv *config.Receiver, now time.Time) ([]string, error) {
	if recv.AllSubscribers {
		return nil, nil
	}
	to := cfg.Recipients(recv, now)
	if len(to) > 0 {
		return to, nil
	}
	if recv.Schedule != "" {
		if cfg.OnCall.Get(recv.Schedule) == nil {
			return nil, fmt.Errorf("receiver %q: %w: its schedule %q is no longer in the config and it has no open_ids",
				recv.Name, ErrNobodyOnCall, recv.Schedule)
		}
		return nil, fmt.Errorf("receiver %q: %w on schedule %q at %s and it has no open_ids",
			recv.Name, ErrNobodyOnCall, recv.Schedule, now.Format(time.RFC3339))
	}
	return nil, fmt.Errorf("receiver %q: no open_ids and not all_subscribers: nobody to send to", recv.Name)
}

// Mentions are the people recv's card names: who is on call on its
// schedule now, then the owner mentions.label names (a mentions.users
// name), each once, named as mentions.users names them.
func Mentions(cfg *config.Config, recv *config.Receiver, labels map[string]string, now time.Time) []render.Mention {
	names := map[string]string{}
	for name, id := range cfg.Mentions.Users {
		if cur, ok := names[id]; !ok || name < cur {
			names[id] = name
		}
	}
	var out []render.Mention
	seen := map[string]bool{}
	add := func(id string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		out = append(out, render.Mention{OpenID: id, Name: names[id]})
	}
	if sc := cfg.OnCall.Get(recv.Schedule); sc != nil {
		for _, id := range sc.OnCall(now) {
			add(id)
		}
	}
	if l := cfg.Mentions.Label; l != "" {
		if owner := labels[l]; owner != "" {
			add(cfg.Mentions.Users[owner])
		}
	}
	return out
}
