package incident

import (
	"fmt"
	"time"
)

// Event is one line of an incident's timeline.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Timeline event kinds.
const (
	EventOpened         = "opened"
	EventCard           = "card"
	EventAcked          = "acked"
	EventUnacked        = "unacked"
	EventReopened       = "reopened" // back to firing: a new alert, a higher severity
	EventSilenced       = "silenced"
	EventSilenceFailed  = "silence_failed"
	EventSilenceExpired = "silence_expired"
	EventResolved       = "resolved"
)

// Card is a card a change asks for, besides the group's own.
type Card string

// Cards a change may ask for.
const (
	CardConfirm  Card = "ack-confirm" // the ack's confirmation
	CardRepage   Card = "ack-repage"  // the group pages again after an unack
	CardResolved Card = "resolved"    // the relay's resolved card (silenced alerts)
)

// Change is what a transition did: the incident after it (nil when there
// is none), its timeline lines and the cards it asks for.
type Change struct {
	Next   *Incident
	Events []Event
	Cards  []Card
	// Skip: the observed card need not be sent (the relay sent that
	// resolution itself).
	Skip bool
	// Result says what an ack or unack did (Result* constants).
	Result string
}

// Results of Ack and Unack.
const (
	ResultAcked        = "acked"
	ResultAlreadyAcked = "already_acked"
	ResultUnacked      = "unacked"
	ResultNotAcked     = "not_acked"
	ResultResolved     = "resolved" // nothing the card showed still fires
)

// Observation is a card of the group being queued.
type Observation struct {
	GroupID, Receiver, Source string
	NotificationID            string
	Alerts                    []AlertRef
	At                        time.Time
}

func anyFiring(as []AlertRef) bool {
	for _, a := range as {
		if a.Firing {
			return true
		}
	}
	return false
}

// covered reports whether every alert of as is among of.
func covered(as, of []AlertRef) bool {
	for _, a := range as {
		found := false
		for _, b := range of {
			if a.Same(b) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Observe applies a card of the group to cur, the group's latest incident
// (nil when it has none).
func Observe(cur *Incident, o Observation) Change {
	firing := anyFiring(o.Alerts)
	if cur == nil || cur.State == Resolved {
		if !firing {
			if cur == nil {
				return Change{} // a resolution of something never seen firing: sent, no incident
			}
			if cur.ResolvedBy == ByRelay && covered(o.Alerts, cur.Alerts) {
				// The relay sent this occurrence's resolved card; the
				// source's own is a repeat.
				return Change{Next: cur, Skip: true}
			}
			next := cur.Clone()
			next.LastCard, next.UpdatedAt = o.NotificationID, o.At
			return Change{Next: next, Events: []Event{{At: o.At, Kind: EventCard, Detail: "resolved"}}}
		}
		n := 1
		if cur != nil {
			n = cur.Occurrence + 1
		}
		next := &Incident{
			ID: ID(o.GroupID, n), GroupID: o.GroupID, Receiver: o.Receiver, Source: o.Source,
			Occurrence: n, State: Firing, OpenedAt: o.At, UpdatedAt: o.At,
			Alerts: o.Alerts, LastCard: o.NotificationID, LastSeenAt: o.At,
		}
		return Change{Next: next, Events: []Event{
			{At: o.At, Kind: EventOpened, Detail: fmt.Sprintf("%d firing", len(next.Firing()))},
		}}
	}
	next := cur.Clone()
	next.Alerts, next.LastCard = o.Alerts, o.NotificationID
	if firing {
		next.LastSeenAt, next.Misses, next.FirstMissAt = o.At, 0, time.Time{}
	}
	ch := Change{Next: next}
	from, changed := next.derive(o.At)
	switch {
	case !changed:
		ch.Events = append(ch.Events, Event{At: o.At, Kind: EventCard, Detail: fmt.Sprintf("%d firing", len(next.Firing()))})
	case next.State == Resolved:
		next.ResolvedAt, next.ResolvedBy = o.At, BySource
		ch.Events = append(ch.Events, Event{At: o.At, Kind: EventResolved, By: BySource})
	case from == Acked:
		ch.Events = append(ch.Events, Event{At: o.At, Kind: EventReopened, Detail: reopenReason(cur.Ack, next.Firing())})
	default: // firing → acked: the alert an ack did not cover resolved
		ch.Events = append(ch.Events, Event{At: o.At, Kind: EventCard, Detail: "acknowledged alerts only"})
	}
	return ch
}

func reopenReason(k *Ack, firing []AlertRef) string {
	for _, a := range firing {
		known := false
		for _, x := range k.Alerts {
			if x.Same(a) {
				known = true
				if a.Severity > x.Severity {
					return "severity_rise"
				}
			}
		}
		if !known {
			return "new_alert"
		}
	}
	return "changed"
}

// Who acknowledges.
type Who struct {
	Name   string
	OpenID string
	Via    Via
}

// SilenceAsk is the silence an ack asks for; nil asks none. Refused says
// why the relay may not make it (no source URL it may call): the ack is
// recorded without a silence, and its card says why.
type SilenceAsk struct {
	Kind, Root string
	For        time.Duration
	Refused    string
}

// Acknowledge acknowledges, of the alerts a card showed, those still firing. An
// ack already in force that covers them is left as it is (AlreadyAcked),
// unless silence asks for a silence of a new length (the chat command).
// With silence set a silence of the acknowledged alerts is wanted; the
// confirmation card is asked for when the ack puts the incident in Acked.
func Acknowledge(cur *Incident, shown []AlertRef, w Who, at time.Time, silence *SilenceAsk, force bool) Change {
	if cur == nil || cur.State == Resolved {
		return Change{Next: cur, Result: ResultResolved}
	}
	var take []AlertRef
	for _, a := range cur.Firing() {
		for _, s := range shown {
			if s.Firing && a.Same(s) {
				take = append(take, a)
				break
			}
		}
	}
	if len(take) == 0 {
		return Change{Next: cur, Result: ResultResolved}
	}
	next := cur.Clone()
	ch := Change{Next: next}
	if next.Ack != nil && covered(take, next.Ack.Alerts) && next.AckCovers(take) && !force {
		ch.Result = ResultAlreadyAcked
		return ch
	}
	k := &Ack{By: w.Name, OpenID: w.OpenID, Via: w.Via, At: at}
	if next.Ack != nil {
		k.Alerts = append(k.Alerts, next.Ack.Alerts...)
	}
	for _, a := range take {
		if !covered([]AlertRef{a}, k.Alerts) {
			k.Alerts = append(k.Alerts, a)
		} else {
			for i := range k.Alerts {
				if k.Alerts[i].Same(a) {
					k.Alerts[i].Severity = max(k.Alerts[i].Severity, a.Severity)
				}
			}
		}
	}
	result := ResultAcked
	if next.Ack != nil && covered(take, next.Ack.Alerts) {
		result = ResultAlreadyAcked // a new silence length for the same ack
	}
	next.Ack = k
	_, _ = next.derive(at)
	next.UpdatedAt = at
	ch.Result = result
	ch.Events = append(ch.Events, Event{At: at, Kind: EventAcked, By: w.Name,
		Detail: fmt.Sprintf("%d of %d firing, via %s", len(take), len(next.Firing()), w.Via)})
	if silence != nil {
		next.expireSilences() // a silence for the old ack covers other alerts
		next.Silence = &Silencing{Kind: silence.Kind, Root: silence.Root, For: silence.For, Until: at.Add(silence.For),
			Wanted: silence.Refused == "", Error: silence.Refused, Held: heldOf(next.Silence)}
	}
	// The confirmation says what became of the silence: with one wanted,
	// it waits for Silenced or SilenceFailed.
	if next.State == Acked && (next.Silence == nil || !next.Silence.Wanted) {
		ch.Cards = append(ch.Cards, CardConfirm)
	}
	return ch
}

func heldOf(s *Silencing) []Silence {
	if s == nil {
		return nil
	}
	return s.Held
}

// Unacknowledge withdraws the ack: the incident fires again, its silence is to be
// expired and, while it fires, its card is sent again, red.
func Unacknowledge(cur *Incident, w Who, at time.Time) Change {
	if cur == nil || cur.Ack == nil || cur.State == Resolved {
		return Change{Next: cur, Result: ResultNotAcked}
	}
	next := cur.Clone()
	next.Ack = nil
	next.expireSilences()
	next.derive(at)
	next.UpdatedAt = at
	ch := Change{Next: next, Result: ResultUnacked, Events: []Event{{At: at, Kind: EventUnacked, By: w.Name, Detail: string(w.Via)}}}
	if next.State == Firing {
		ch.Cards = append(ch.Cards, CardRepage)
	}
	return ch
}

// Silenced records silences made at the source, whatever became of the
// ack meanwhile: a silence made for an ack that is over is recorded to be
// expired, never forgotten.
func Silenced(cur *Incident, made []Silence, link string, at time.Time) Change {
	next := cur.Clone()
	if next.Silence == nil {
		next.Silence = &Silencing{}
	}
	s := next.Silence
	over := next.State != Acked
	ch := Change{Next: next}
	if s.Wanted && !over {
		ch.Cards = []Card{CardConfirm}
	}
	for _, m := range made {
		m.Expire = m.Expire || over
		s.Held = append(s.Held, m)
	}
	s.Wanted, s.Error = false, ""
	if link != "" {
		s.Link = link
	}
	next.UpdatedAt = at
	ch.Events = []Event{{At: at, Kind: EventSilenced, Detail: fmt.Sprintf("%d silences until %s", len(made), s.Until.UTC().Format(time.RFC3339))}}
	return ch
}

// SilenceFailed records why the wanted silence could not be made.
func SilenceFailed(cur *Incident, reason string, at time.Time) Change {
	next := cur.Clone()
	ch := Change{Next: next, Events: []Event{{At: at, Kind: EventSilenceFailed, Detail: reason}}}
	if next.Silence != nil {
		if next.Silence.Wanted && next.State == Acked {
			ch.Cards = []Card{CardConfirm}
		}
		next.Silence.Wanted, next.Silence.Error = false, reason
	}
	next.UpdatedAt = at
	return ch
}

// SilencesDone marks silences expired (or lapsed, or gone) and, with
// renewed set, records their new lease ends and ids.
func SilencesDone(cur *Incident, done []string, at time.Time) Change {
	next := cur.Clone()
	if next.Silence == nil || len(done) == 0 {
		return Change{Next: next}
	}
	for i := range next.Silence.Held {
		for _, id := range done {
			if next.Silence.Held[i].ID == id {
				next.Silence.Held[i].Done = true
			}
		}
	}
	next.UpdatedAt = at
	return Change{Next: next, Events: []Event{{At: at, Kind: EventSilenceExpired, Detail: fmt.Sprintf("%d silences", len(done))}}}
}

// Renewed replaces a held silence by its renewal (Alertmanager may give
// an updated silence a new id).
func Renewed(cur *Incident, oldID string, s Silence, link string) Change {
	next := cur.Clone()
	if next.Silence == nil {
		return Change{Next: next}
	}
	for i := range next.Silence.Held {
		if next.Silence.Held[i].ID == oldID {
			expire := next.Silence.Held[i].Expire || next.State != Acked
			next.Silence.Held[i] = s
			next.Silence.Held[i].Expire = expire
		}
	}
	if link != "" {
		next.Silence.Link = link
	}
	return Change{Next: next}
}
