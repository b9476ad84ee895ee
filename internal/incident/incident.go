// Package incident is the relay's model of what on-call engineers act on.
//
// An incident is one occurrence of an alert group at one receiver. It opens
// when the first firing card of the group is queued, records which alerts
// (fingerprint and startsAt) each card showed, and moves
//
//	firing → acknowledged → resolved
//
// and back to firing when an alert nobody acknowledged fires or one fires
// at a higher severity than was acknowledged. A group that fires again once
// resolved is a new occurrence: a new incident, with its own card, ack and
// resolution.
//
// This package is the state machine alone: pure functions over Incident
// values, no I/O. The store keeps incidents and applies these functions
// inside its transactions, so that every replica reads the same truth.
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// State is where an incident is.
type State string

// States.
const (
	Firing   State = "firing"
	Acked    State = "acked"
	Resolved State = "resolved"
)

// Via says through what someone acknowledged.
type Via string

// Ways to acknowledge.
const (
	ViaCard Via = "card"
	ViaPage Via = "page"
	ViaChat Via = "chat"
)

// Who resolved an incident.
const (
	BySource = "source" // the source's own resolved notification
	ByRelay  = "relay"  // the relay's poller, for silenced alerts
)

// AlertRef is one alert as a card showed it: an alert is its fingerprint
// and its startsAt (the same labels firing again are another alert).
type AlertRef struct {
	Fingerprint string    `json:"fp"`
	StartsAt    time.Time `json:"starts_at"`
	Severity    int       `json:"sev,omitempty"`
	Firing      bool      `json:"firing,omitempty"`
}

// Same reports whether a and b are the same alert.
func (a AlertRef) Same(b AlertRef) bool {
	return a.Fingerprint == b.Fingerprint && a.StartsAt.Equal(b.StartsAt)
}

// Refs are the alerts of as, as a card shows them.
func Refs(as alert.Alerts) []AlertRef {
	out := make([]AlertRef, 0, len(as))
	for _, a := range as {
		out = append(out, AlertRef{
			Fingerprint: Fingerprint(a),
			StartsAt:    a.StartsAt.UTC(),
			Severity:    SeverityRank(a.Labels["severity"]),
			Firing:      a.Status == alert.StatusFiring,
		})
	}
	return out
}

// Fingerprint is the alert's fingerprint as the sender gave it, or the one
// Alertmanager computes from its labels when it gave none.
func Fingerprint(a alert.Alert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	ls := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// severityRanks orders the severity label values in common use; anything
// else ranks 0, with none and info.
var severityRanks = map[string]int{
	"none": 0, "debug": 0, "info": 0, "informational": 0, "notice": 0, "low": 0, "p5": 0,
	"warning": 1, "warn": 1, "minor": 1, "medium": 1, "p4": 1, "p3": 1,
	"error": 2, "major": 2, "high": 2, "p2": 2,
	"critical": 3, "crit": 3, "page": 3, "disaster": 3, "p1": 3, "p0": 4,
	"fatal": 4, "emergency": 4,
}

// SeverityRank orders a severity label value.
func SeverityRank(s string) int { return severityRanks[strings.ToLower(strings.TrimSpace(s))] }

// Ack is an acknowledgement: who gave it, when, through what, and exactly
// which alerts it covers.
type Ack struct {
	By     string     `json:"by"`
	OpenID string     `json:"open_id,omitempty"`
	Via    Via        `json:"via"`
	At     time.Time  `json:"at"`
	Alerts []AlertRef `json:"alerts"`
}

// covers reports whether the ack covers a: the same alert, at a severity
// no higher than acknowledged.
func (k *Ack) covers(a AlertRef) bool {
	for _, x := range k.Alerts {
		if x.Same(a) {
			return a.Severity <= x.Severity
		}
	}
	return false
}

// Silence is one silence the incident holds at its source.
type Silence struct {
	ID     string    `json:"id"`
	EndsAt time.Time `json:"ends_at"` // the lease at the source
	// Expire marks a silence to expire: its ack is over. Done: expired,
	// lapsed or gone; nothing left to do.
	Expire bool `json:"expire,omitempty"`
	Done   bool `json:"done,omitempty"`
}

// Silencing is what the incident asked of its source and holds there.
type Silencing struct {
	Kind string `json:"kind"` // silence.KindAlertmanager, silence.KindGrafana
	Root string `json:"root"` // the source's API root (from the config)
	Link string `json:"link,omitempty"`
	// For is how long the ack asked for; Until = ack time + For. Each
	// silence is a short lease renewed while the alerts fire, never past
	// Until.
	For   time.Duration `json:"for"`
	Until time.Time     `json:"until"`
	// Wanted: the silence for the ack in force is still to be made.
	Wanted bool `json:"wanted,omitempty"`
	// Error says why it could not be made (shown on the card).
	Error string    `json:"error,omitempty"`
	Held  []Silence `json:"held,omitempty"`
}

// Live are the silences in force for the ack.
func (s *Silencing) Live() []Silence {
	if s == nil {
		return nil
	}
	var out []Silence
	for _, h := range s.Held {
		if !h.Done && !h.Expire {
			out = append(out, h)
		}
	}
	return out
}

// ToExpire are the silences to expire.
func (s *Silencing) ToExpire() []Silence {
	if s == nil {
		return nil
	}
	var out []Silence
	for _, h := range s.Held {
		if h.Expire && !h.Done {
			out = append(out, h)
		}
	}
	return out
}

// Incident is one occurrence of an alert group at one receiver.
type Incident struct {
	ID         string `json:"id"`
	GroupID    string `json:"group_id"` // alert.GroupID: the group at one receiver
	Receiver   string `json:"receiver"`
	Source     string `json:"source"`
	Occurrence int    `json:"occurrence"`
	State      State  `json:"state"`

	OpenedAt   time.Time `json:"opened_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	ResolvedBy string    `json:"resolved_by,omitempty"`

	// Alerts are the alerts the latest card showed; LastCard is that
	// card's notification id (its alert group is what pages and
	// silences read).
	Alerts   []AlertRef `json:"alerts"`
	LastCard string     `json:"last_card"`

	// Ack is the acknowledgement given in this occurrence, nil when none
	// (or withdrawn).
	Ack     *Ack       `json:"ack,omitempty"`
	Silence *Silencing `json:"silence,omitempty"`

	// Resolution evidence gathered by polling the source.
	LastSeenAt  time.Time `json:"last_seen_at,omitzero"`  // the source last listed the acked alerts
	LastEndsAt  time.Time `json:"last_ends_at,omitzero"`  // their latest endsAt as listed then
	Misses      int       `json:"misses,omitempty"`       // polls in a row that did not list them
	FirstMissAt time.Time `json:"first_miss_at,omitzero"` // the first of those

	// Version counts the incident's changes (the store's optimistic check).
	Version int64 `json:"version"`
}

// ID derives an incident's id from its group and occurrence: the same on
// every replica, so that what is about it can be named after it.
func ID(groupID string, occurrence int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", groupID, occurrence))
	return hex.EncodeToString(h[:8])
}

// SideEffectID names something done about an incident (a card of a kind,
// the nth ack's confirmation) so that doing it twice is doing it once.
func SideEffectID(incidentID, kind string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", incidentID, kind, n))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x50 // a UUID (version 5 layout), as Mind wants request ids
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Firing are the firing alerts of the latest card.
func (inc *Incident) Firing() []AlertRef {
	var out []AlertRef
	for _, a := range inc.Alerts {
		if a.Firing {
			out = append(out, a)
		}
	}
	return out
}

// AckCovers reports whether the ack in force covers every firing alert of
// alerts (a card's): the card renders acknowledged.
func (inc *Incident) AckCovers(alerts []AlertRef) bool {
	if inc.Ack == nil {
		return false
	}
	for _, a := range alerts {
		if a.Firing && !inc.Ack.covers(a) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy.
func (inc *Incident) Clone() *Incident {
	c := *inc
	c.Alerts = slices.Clone(inc.Alerts)
	if inc.Ack != nil {
		k := *inc.Ack
		k.Alerts = slices.Clone(k.Alerts)
		c.Ack = &k
	}
	if inc.Silence != nil {
		s := *inc.Silence
		s.Held = slices.Clone(s.Held)
		c.Silence = &s
	}
	return &c
}

// derive sets the state from the alerts and the ack, and says what the
// change was.
func (inc *Incident) derive(at time.Time) (from State, changed bool) {
	from = inc.State
	switch {
	case len(inc.Firing()) == 0:
		inc.State = Resolved
	case inc.AckCovers(inc.Alerts):
		inc.State = Acked
	default:
		inc.State = Firing
	}
	if inc.State != from {
		inc.UpdatedAt = at
		if from == Acked {
			inc.expireSilences() // the ack no longer holds: nothing to hide
		}
	}
	return from, inc.State != from
}

func (inc *Incident) expireSilences() {
	if inc.Silence == nil {
		return
	}
	inc.Silence.Wanted = false
	for i := range inc.Silence.Held {
		if !inc.Silence.Held[i].Done {
			inc.Silence.Held[i].Expire = true
		}
	}
}
