// Package escalate runs the timers of unacknowledged and acknowledged
// incidents: escalation policies page more receivers while an incident
// fires unacknowledged, ack.remind_after reminds the acker that it still
// fires, and ack.timeout withdraws an ack the incident outlived.
//
// It keeps no timer of its own. Each round asks the store which incidents
// are firing unacknowledged (acknowledged) for long enough — one query a
// PostgreSQL backend answers as SQLite does — and works out from the
// incident's timeline what is due. A step is taken in one transaction
// with the card it pages, under an id derived from the incident, the
// firing period, the round and the step: a restart, a retry or a second
// replica neither loses nor repeats a step.
package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Store is what the timers read and change (store.Store).
type Store interface {
	Get(ctx context.Context, id string) (store.Notification, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Incident, error)
	Timeline(ctx context.Context, id string) ([]incident.Event, error)
	EscalationSteps(ctx context.Context, incidentID string) ([]store.EscalationStep, error)
	UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (store.IncidentUpdate, error)) (incident.Incident, store.Changes, error)
}

// Queue is woken for the cards a step queued in its transaction.
type Queue interface{ Wake() }

// Unacker withdraws an ack as a person would (ack.Service): the incident
// pages again as unacknowledged.
type Unacker interface {
	Unack(ctx context.Context, shown string, w incident.Who) (ack.Outcome, error)
}

// Options are the escalator's collaborators.
type Options struct {
	Store   Store
	Queue   Queue
	Live    *relay.Live
	Unacker Unacker
	Logger  *slog.Logger
	Now     func() time.Time
	// Interval is how often Run looks (default DefaultInterval).
	Interval time.Duration
}

// DefaultInterval is how often the timers are looked at: the precision of
// escalation delays.
const DefaultInterval = 15 * time.Second

// EventEscalated is the timeline line of an escalation step; EventReminded
// of a reminder sent to the acker.
const (
	EventEscalated = "escalated"
	EventReminded  = "reminded"
	// ByTimeout is who withdraws an ack on ack.timeout.
	ByTimeout = "ack.timeout"
	// remindPolicy is the policy name of reminder records.
	remindPolicy = "ack.remind_after"
)

// Escalator runs the timers. It is safe for concurrent use.
type Escalator struct {
	opts Options
	log  *slog.Logger

	steps     *prometheus.CounterVec
	reminders prometheus.Counter
	timeouts  prometheus.Counter
	errors    prometheus.Counter
}

// New returns the escalator; Run does the work.
func New(opts Options, reg prometheus.Registerer) (*Escalator, error) {
	if opts.Store == nil || opts.Queue == nil || opts.Live == nil {
		return nil, errors.New("escalate: store, queue and live state are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	f := promauto.With(reg)
	return &Escalator{opts: opts, log: opts.Logger.With("component", "escalate"),
		steps: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_escalations_total",
			Help: "Escalation steps taken, by policy and step (each step of each round once).",
		}, []string{"policy", "step"}),
		reminders: f.NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_ack_reminders_total",
			Help: "Reminders sent to ackers that their acknowledged incident still fires (ack.remind_after).",
		}),
		timeouts: f.NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_ack_timeouts_total",
			Help: "Acks withdrawn because the incident still fired after ack.timeout.",
		}),
		errors: f.NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_escalation_errors_total",
			Help: "Timer rounds or steps that failed on the store; they are tried again at the next round.",
		}),
	}, nil
}

// Run looks at the timers until ctx ends: every Interval, or a fifth of
// the shortest delay the config sets when that is shorter (at least a
// second), so that a step is late by at most a fifth of its delay.
func (e *Escalator) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		e.Round(ctx)
		t.Reset(e.interval(e.opts.Live.Load().Config))
	}
}

func (e *Escalator) interval(cfg *config.Config) time.Duration {
	d := e.opts.Interval
	for _, x := range []time.Duration{cfg.Ack.RemindAfter.D(), cfg.Ack.Timeout.D()} {
		if x > 0 {
			d = min(d, x/5)
		}
	}
	if f, ok := firstDelay(cfg); ok {
		d = min(d, f/5)
	}
	return max(d, min(time.Second, e.opts.Interval))
}

// Round takes every step, reminder and timeout due now.
func (e *Escalator) Round(ctx context.Context) {
	cfg := e.opts.Live.Load().Config
	now := e.opts.Now()
	queued := false
	if first, ok := firstDelay(cfg); ok {
		// A step is due at its after, not a moment later: in the state
		// since at or before now - first.
		incs, err := e.opts.Store.Incidents(ctx, store.IncidentQuery{
			States: []incident.State{incident.Firing}, InStateBefore: now.Add(-first + time.Nanosecond)})
		if err != nil {
			e.fail("listing unacknowledged incidents", err)
		}
		for _, inc := range incs {
			n, err := e.escalate(ctx, cfg, inc, now)
			if err != nil {
				e.fail("escalating incident "+inc.ID, err)
			}
			queued = queued || n > 0
		}
	}
	if d, ok := ackDelay(cfg); ok {
		incs, err := e.opts.Store.Incidents(ctx, store.IncidentQuery{
			States: []incident.State{incident.Acked}, InStateBefore: now.Add(-d + time.Nanosecond)})
		if err != nil {
			e.fail("listing acknowledged incidents", err)
		}
		for _, inc := range incs {
			n, err := e.acked(ctx, cfg, inc, now)
			if err != nil {
				e.fail("ack timers of incident "+inc.ID, err)
			}
			queued = queued || n > 0
		}
	}
	if queued {
		e.opts.Queue.Wake()
	}
}

func (e *Escalator) fail(what string, err error) {
	e.errors.Inc()
	e.log.Error(what+" failed; trying again at the next round", "err", err)
}

// firstDelay is the shortest first step of the policies receivers name.
func firstDelay(cfg *config.Config) (time.Duration, bool) {
	var d time.Duration
	ok := false
	for _, r := range cfg.Receivers {
		if p := cfg.EscalationByName(r.Escalation); p != nil && len(p.Steps) > 0 {
			if a := p.Steps[0].After.D(); !ok || a < d {
				d, ok = a, true
			}
		}
	}
	return d, ok
}

// ackDelay is the shorter of ack.remind_after and ack.timeout that is set.
func ackDelay(cfg *config.Config) (time.Duration, bool) {
	r, t := cfg.Ack.RemindAfter.D(), cfg.Ack.Timeout.D()
	switch {
	case r > 0 && (t <= 0 || r < t):
		return r, true
	case t > 0:
		return t, true
	}
	return 0, false
}

// Since is when inc last started firing unacknowledged, from its
// timeline (the store's state_since of the firing state): it opened, or an
// unack or a new alert brought it back from acknowledged. Zero when the
// timeline does not say it fires.
func Since(events []incident.Event) time.Time {
	var since time.Time
	firing := false
	for _, ev := range events {
		switch ev.Kind {
		case incident.EventOpened:
			firing, since = true, ev.At
		case incident.EventUnacked, incident.EventReopened:
			if !firing {
				firing, since = true, ev.At
			}
		case incident.EventAcked, incident.EventResolved:
			firing = false
		}
	}
	if !firing {
		return time.Time{}
	}
	return since
}

// Due is one step of a policy for a firing period: round r's step s is
// due at since + r*cycle + its after.
type Due struct {
	Round, Step int // Step is 1-based
	At          time.Time
	Notify      []string
}

// DueSteps are the steps of p due by now for a firing period that began
// at since, in order.
func DueSteps(p *config.Escalation, since, now time.Time) []Due {
	var out []Due
	cycle := p.Cycle()
	for r := 0; r <= p.Repeat; r++ {
		for i, s := range p.Steps {
			at := since.Add(time.Duration(r)*cycle + s.After.D())
			if at.After(now) {
				return out
			}
			out = append(out, Due{Round: r, Step: i + 1, At: at, Notify: s.Notify})
		}
	}
	return out
}

// StepID names step s of round r of inc's firing period since.
func StepID(incidentID string, since time.Time, round, step int) string {
	return incident.SideEffectID(incidentID, "escalation/"+strconv.FormatInt(since.UnixNano(), 10)+"/"+strconv.Itoa(round), step)
}

var errMoved = errors.New("the incident changed since it was read")

// escalate takes inc's due steps, each in its own transaction with its
// cards, and returns how many cards it queued.
func (e *Escalator) escalate(ctx context.Context, cfg *config.Config, inc incident.Incident, now time.Time) (int, error) {
	rc := cfg.ReceiverByName(inc.Receiver)
	if rc == nil {
		return 0, nil
	}
	p := cfg.EscalationByName(rc.Escalation)
	if p == nil {
		return 0, nil
	}
	events, err := e.opts.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return 0, err
	}
	since := Since(events)
	if since.IsZero() {
		return 0, nil
	}
	due := DueSteps(p, since, now)
	if len(due) == 0 {
		return 0, nil
	}
	taken, err := e.opts.Store.EscalationSteps(ctx, inc.ID)
	if err != nil {
		return 0, err
	}
	done := map[string]bool{}
	for _, st := range taken {
		done[st.ID] = true
	}
	last, err := e.opts.Store.Get(ctx, inc.LastCard)
	if err != nil {
		return 0, fmt.Errorf("its latest card %s: %w", inc.LastCard, err)
	}
	d, err := relay.DecodeGroup(last.Group)
	if err != nil {
		return 0, fmt.Errorf("its latest card %s: %w", inc.LastCard, err)
	}
	paged := []string{inc.Receiver}
	queued := 0
	for _, st := range due {
		id := StepID(inc.ID, since, st.Round, st.Step)
		if !done[id] {
			after, n, err := e.take(ctx, cfg, inc, p, st, id, since, paged, last, d, now)
			if errors.Is(err, store.ErrStepTaken) || errors.Is(err, errMoved) {
				// Another replica took it, or the incident moved on: the
				// next round sees what is due then.
				return queued, nil
			}
			if err != nil {
				return queued, err
			}
			inc, queued = after, queued+n
		}
		for _, r := range st.Notify {
			if !contains(paged, r) {
				paged = append(paged, r)
			}
		}
	}
	return queued, nil
}

// take commits one step: its record, its timeline line and its cards.
func (e *Escalator) take(ctx context.Context, cfg *config.Config, inc incident.Incident, p *config.Escalation, st Due, id string,
	since time.Time, paged []string, last store.Notification, d *relay.GroupData, now time.Time) (incident.Incident, int, error) {
	var ns []store.Notification
	for _, name := range st.Notify {
		rc := cfg.ReceiverByName(name)
		if rc == nil {
			continue // check-config refuses it; a reload may race
		}
		endpoint, err := relay.Endpoint(rc)
		if err != nil {
			return inc, 0, fmt.Errorf("step %d receiver %q: %w", st.Step, name, err)
		}
		data, err := relay.EncodeGroupData(relay.GroupData{Group: d.Group, Escalation: &relay.Escalation{
			Policy: p.Name, Round: st.Round, Step: st.Step, Paged: append([]string(nil), paged...), Since: since,
		}}, rc)
		if err != nil {
			return inc, 0, err
		}
		nid := incident.SideEffectID(id, "notify/"+name, 0)
		ns = append(ns, store.Notification{
			ID: nid, GroupID: inc.GroupID + "/escalation", Receiver: name, Source: inc.Source,
			Status: string(store.KindEscalation), Kind: store.KindEscalation, IncidentID: inc.ID,
			Alerts: last.Alerts, Group: data,
			Request:   mind.Request{Endpoint: endpoint, RequestID: nid},
			CreatedAt: now,
		})
	}
	detail := fmt.Sprintf("%s 第 %d 步 → %s", p.Name, st.Step, strings.Join(st.Notify, "、"))
	if st.Round > 0 {
		detail = fmt.Sprintf("%s 第 %d 轮第 %d 步 → %s", p.Name, st.Round+1, st.Step, strings.Join(st.Notify, "、"))
	}
	after, ch, err := e.opts.Store.UpdateIncident(ctx, inc.ID, func(cur incident.Incident) (store.IncidentUpdate, error) {
		if cur.Version != inc.Version || cur.State != incident.Firing {
			return store.IncidentUpdate{}, errMoved
		}
		next := cur.Clone()
		next.UpdatedAt = now
		return store.IncidentUpdate{
			Change:  incident.Change{Next: next, Events: []incident.Event{{At: now, Kind: EventEscalated, By: "relay", Detail: detail}}},
			Enqueue: ns,
			Steps:   []store.EscalationStep{{ID: id, IncidentID: inc.ID, Policy: p.Name, Epoch: since, Round: st.Round, Step: st.Step, At: now}},
		}, nil
	})
	if err != nil {
		return inc, 0, err
	}
	e.steps.WithLabelValues(p.Name, strconv.Itoa(st.Step)).Inc()
	e.log.Info("incident escalated", "incident", inc.ID, "group_id", inc.GroupID, "policy", p.Name,
		"round", st.Round, "step", st.Step, "notify", st.Notify, "unacked_for", now.Sub(since).Round(time.Second))
	return after, ch.Count, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ViaTimeout is how ack.timeout withdraws an ack.
const ViaTimeout incident.Via = "timeout"

// acked withdraws inc's ack on ack.timeout, or reminds its acker on
// ack.remind_after, and returns how many cards it queued.
func (e *Escalator) acked(ctx context.Context, cfg *config.Config, inc incident.Incident, now time.Time) (int, error) {
	k := inc.Ack
	if k == nil {
		return 0, nil
	}
	if t := cfg.Ack.Timeout.D(); t > 0 && !now.Before(k.At.Add(t)) {
		if e.opts.Unacker == nil {
			return 0, nil
		}
		out, err := e.opts.Unacker.Unack(ctx, inc.LastCard, incident.Who{Name: ByTimeout, Via: ViaTimeout})
		if err != nil {
			return 0, err
		}
		if out.Result == incident.ResultUnacked {
			e.timeouts.Inc()
			e.log.Info("ack timed out; the incident pages again", "incident", inc.ID, "acked_by", k.By, "timeout", t)
			return 1, nil
		}
		return 0, nil
	}
	r := cfg.Ack.RemindAfter.D()
	if r <= 0 || now.Before(k.At.Add(r)) || k.OpenID == "" {
		return 0, nil
	}
	last, err := e.opts.Store.Get(ctx, inc.LastCard)
	if err != nil {
		return 0, fmt.Errorf("its latest card %s: %w", inc.LastCard, err)
	}
	d, err := relay.DecodeGroup(last.Group)
	if err != nil {
		return 0, err
	}
	id := incident.SideEffectID(inc.ID, remindPolicy+"/"+strconv.FormatInt(k.At.UnixNano(), 10), 0)
	body, err := reminderBody(cfg, k, ack.GroupName(d.Group), inc.GroupID, now)
	if err != nil {
		return 0, err
	}
	n := store.Notification{ID: id, GroupID: inc.GroupID + "/reminder", Receiver: inc.Receiver, Source: inc.Source,
		Status: string(store.KindReminder), Kind: store.KindReminder, IncidentID: inc.ID,
		Request: mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: id, Body: body}, CreatedAt: now}
	_, ch, err := e.opts.Store.UpdateIncident(ctx, inc.ID, func(cur incident.Incident) (store.IncidentUpdate, error) {
		if cur.State != incident.Acked || cur.Ack == nil || !cur.Ack.At.Equal(k.At) {
			return store.IncidentUpdate{}, errMoved
		}
		next := cur.Clone()
		next.UpdatedAt = now
		return store.IncidentUpdate{
			Change:  incident.Change{Next: next, Events: []incident.Event{{At: now, Kind: EventReminded, By: "relay", Detail: k.By}}},
			Enqueue: []store.Notification{n},
			Steps:   []store.EscalationStep{{ID: id, IncidentID: inc.ID, Policy: remindPolicy, Epoch: k.At, At: now}},
		}, nil
	})
	if errors.Is(err, store.ErrStepTaken) || errors.Is(err, errMoved) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	e.reminders.Inc()
	e.log.Info("reminded the acker that the incident still fires", "incident", inc.ID, "acked_by", k.By)
	return ch.Count, nil
}

// reminderBody is the markdown message reminding the acker.
func reminderBody(cfg *config.Config, k *incident.Ack, name, groupID string, now time.Time) ([]byte, error) {
	text := fmt.Sprintf("**提醒：你确认的告警仍在触发**\n`%s` %s\n确认于 %s，已过去 %s",
		render.ShortID(groupID), strings.NewReplacer("*", "", "`", "'", "<", "＜", ">", "＞").Replace(name),
		ack.FormatTime(cfg, k.At), now.Sub(k.At).Round(time.Minute))
	if cfg.Ack.Timeout > 0 {
		text += fmt.Sprintf("\n若到 %s 仍未恢复，确认将被撤销并重新告警", ack.FormatTime(cfg, k.At.Add(cfg.Ack.Timeout.D())))
	}
	content, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return nil, err
	}
	return json.Marshal(mind.RobotMessage{ReceiveOpenIDs: []string{k.OpenID}, MsgType: "markdown", Content: string(content)})
}
