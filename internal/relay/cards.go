package relay

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

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
}

// NewCards returns the renderer of queued cards.
func NewCards(live *Live, incidents Incidents, logger *slog.Logger, reg prometheus.Registerer) *Cards {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cards{live: live, incidents: incidents, log: logger,
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

// Render is the delivery queue's Renderer. A group card renders with its
// incident's ack; an ack-state card (its Kind) goes out only while its
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
	switch n.Kind {
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
		in.Ack = AckInfo(inc, n.Alerts)
	default:
		return mind.Request{}, fmt.Errorf("%w: notification kind %q renders no card", store.ErrSkip, n.Kind)
	}
	c.renders.Inc()
	card, err := st.Renderer.Render(d.Group, in)
	if err != nil {
		return mind.Request{}, fmt.Errorf("render card for receiver %q: %w", recv.Name, err)
	}
	content, err := card.JSON()
	if err != nil {
		return mind.Request{}, err
	}
	req, err := mind.NewCardRequest(n.Request.RequestID, recv.OpenIDs, recv.AllSubscribers, content)
	if err != nil {
		return mind.Request{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	return req, nil
}
