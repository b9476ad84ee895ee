package ack

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// States of a record. Only stateAcked is in force; the others say how it
// ended.
const (
	stateAcked    = store.AckActive
	stateUnacked  = "unacked"  // withdrawn by someone
	stateCleared  = "cleared"  // a new alert or a higher severity paged again
	stateResolved = "resolved" // every acknowledged alert resolved
)

// Jobs a record may still owe; the worker does them in this order and
// saves the record after each.
const (
	jobSilence = "silence" // create the silence at the source
	jobConfirm = "confirm" // queue the confirmation card
	jobExpire  = "expire"  // expire the silence at the source
	jobRepage  = "repage"  // queue the unacknowledged card again (after unack)
)

// record is one group's acknowledgement, as kept in the store (as JSON:
// the store sees only the group id and the state).
type record struct {
	GroupID      string   `json:"group_id"`
	Receiver     string   `json:"receiver"`
	Source       string   `json:"source"`
	State        string   `json:"state"`
	Fingerprints []string `json:"fingerprints"`
	Severity     string   `json:"severity,omitempty"`
	SeverityRank int      `json:"severity_rank"`

	By       string    `json:"by"`
	ByOpenID string    `json:"by_open_id,omitempty"`
	Via      string    `json:"via"` // card, web, chat
	At       time.Time `json:"at"`
	// StartedAt is when the earliest acknowledged alert started.
	StartedAt time.Time `json:"started_at,omitzero"`

	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
	EndedBy   string    `json:"ended_by,omitempty"`

	Silence      *silenceState `json:"silence,omitempty"`
	Jobs         []string      `json:"jobs,omitempty"`
	ResolvedSent bool          `json:"resolved_sent,omitempty"`
}

// silenceState is the silence an ack made (or tried to) at the source.
type silenceState struct {
	Kind string `json:"kind"`
	Root string `json:"root"` // the source's root URL
	// For is how long the ack asked for; Until = ack time + For. The
	// silence at the source ends at EndsAt, a short lease renewed while
	// the alerts fire, never past Until.
	For      time.Duration `json:"for"`
	Until    time.Time     `json:"until"`
	IDs      []string      `json:"ids,omitempty"`
	StartsAt []time.Time   `json:"starts_at,omitempty"`
	Matchers [][]Matcher   `json:"matchers,omitempty"`
	Exact    bool          `json:"exact,omitempty"`
	EndsAt   time.Time     `json:"ends_at,omitzero"`
	// Filter finds the acknowledged alerts at the source when polling.
	Filter []Matcher `json:"filter,omitempty"`
	Link   string    `json:"link,omitempty"`
	Error  string    `json:"error,omitempty"`
	Done   bool      `json:"done,omitempty"` // expired or lapsed: nothing left to do
}

func (r *record) active() bool { return r.State == stateAcked }

func (r *record) hasJob(j string) bool { return slices.Contains(r.Jobs, j) }

func (r *record) addJob(j string) {
	if !r.hasJob(j) {
		r.Jobs = append(r.Jobs, j)
	}
}

func (r *record) doneJob(j string) {
	r.Jobs = slices.DeleteFunc(r.Jobs, func(s string) bool { return s == j })
}

// silenced reports whether a silence of this ack is (or may be) in force
// at the source.
func (r *record) silenced() bool {
	return r.Silence != nil && len(r.Silence.IDs) > 0 && !r.Silence.Done
}

// info is the record as cards show it.
func (r *record) info() *render.AckInfo {
	in := &render.AckInfo{By: r.By, ByOpenID: r.ByOpenID, At: r.At}
	if s := r.Silence; s != nil {
		switch {
		case len(s.IDs) > 0:
			in.SilencedUntil = s.Until
			in.SilenceURL = s.Link
		case s.Error != "":
			in.SilenceError = s.Error
		}
	}
	return in
}

func (r *record) clone() *record {
	c := *r
	c.Fingerprints = slices.Clone(r.Fingerprints)
	c.Jobs = slices.Clone(r.Jobs)
	if r.Silence != nil {
		s := *r.Silence
		s.IDs = slices.Clone(s.IDs)
		s.StartsAt = slices.Clone(s.StartsAt)
		c.Silence = &s
	}
	return &c
}

func (r *record) encode() (store.AckRecord, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return store.AckRecord{}, fmt.Errorf("encode ack of %s: %w", r.GroupID, err)
	}
	return store.AckRecord{GroupID: r.GroupID, State: r.State, Data: b}, nil
}

func decodeRecord(ar store.AckRecord) (*record, error) {
	var r record
	if err := json.Unmarshal(ar.Data, &r); err != nil {
		return nil, fmt.Errorf("decode ack of %s: %w", ar.GroupID, err)
	}
	r.GroupID, r.State = ar.GroupID, ar.State
	return &r, nil
}

// snapshot is a decoded store.Snapshot: a group as sent to a receiver,
// kept for acks (relay.GroupData).
type snapshot struct {
	store.Snapshot
	relay.GroupData
}

func decodeSnapshot(sn store.Snapshot) (*snapshot, error) {
	d, err := relay.DecodeGroup(sn.Data)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", sn.GroupID, err)
	}
	return &snapshot{Snapshot: sn, GroupData: *d}, nil
}

// receiver is the relay receiver the group goes to: the live one, or the
// one the snapshot remembers when a reload removed it.
func (s *snapshot) receiver(cfg *config.Config) *config.Receiver {
	if rc := cfg.ReceiverByName(s.Receiver); rc != nil {
		return rc
	}
	return &config.Receiver{Name: s.Receiver, OpenIDs: s.OpenIDs, AllSubscribers: s.AllSubscribers}
}

// reaches reports whether the group went to openID.
func (s *snapshot) reaches(cfg *config.Config, openID string) bool {
	rc := s.receiver(cfg)
	return rc.AllSubscribers || slices.Contains(rc.OpenIDs, openID)
}
