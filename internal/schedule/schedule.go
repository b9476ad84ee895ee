// Package schedule answers who is on call: a rotation of members that hand
// over every fixed period, or the events of an iCal (RFC 5545) export,
// with overrides that win over either. It knows nothing of HTTP, the store
// or the config file's shape; config builds a Set, and the sending path
// asks it for a receiver's recipients at send time.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Schedule is one on-call schedule. Build it with New; it is immutable and
// safe for concurrent use.
type Schedule struct {
	name      string
	loc       *time.Location
	rotation  *Rotation
	calendar  *Calendar
	overrides []Override
}

// Override puts OpenID on call in [Start, End), whatever the rotation or
// calendar says.
type Override struct {
	Start, End time.Time
	OpenID     string
}

// Spec describes a schedule: a rotation or a calendar (exactly one), and
// overrides.
type Spec struct {
	Name      string
	Location  *time.Location
	Rotation  *Rotation
	Calendar  *Calendar
	Overrides []Override
}

// New checks spec and builds its schedule.
func New(spec Spec) (*Schedule, error) {
	switch {
	case spec.Name == "":
		return nil, errors.New("a schedule needs a name")
	case spec.Location == nil:
		return nil, fmt.Errorf("schedule %q: no time zone", spec.Name)
	case (spec.Rotation == nil) == (spec.Calendar == nil):
		return nil, fmt.Errorf("schedule %q: needs a rotation or a calendar, not both", spec.Name)
	}
	for i, o := range spec.Overrides {
		if !o.End.After(o.Start) {
			return nil, fmt.Errorf("schedule %q: override %d ends before it starts", spec.Name, i)
		}
		if o.OpenID == "" {
			return nil, fmt.Errorf("schedule %q: override %d names nobody", spec.Name, i)
		}
	}
	return &Schedule{
		name:      spec.Name,
		loc:       spec.Location,
		rotation:  spec.Rotation,
		calendar:  spec.Calendar,
		overrides: slices.Clone(spec.Overrides),
	}, nil
}

// Name is the schedule's name.
func (s *Schedule) Name() string { return s.name }

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// OnCall returns the open_ids on call at t, in a stable order: the open_ids
// of every override covering t, in the order they are listed, or else the
// rotation's member, or else the people of every calendar event covering
// t. It is empty when nobody is (before a rotation starts, or between
// calendar events).
func (s *Schedule) OnCall(t time.Time) []string {
	var ids []string
	for _, o := range s.overrides {
		if !t.Before(o.Start) && t.Before(o.End) {
			ids = appendNew(ids, o.OpenID)
		}
	}
	if len(ids) > 0 {
		return ids
	}
	if s.rotation != nil {
		if m, ok := s.rotation.At(t); ok {
			return []string{m}
		}
		return nil
	}
	return s.calendar.At(t)
}

// Handoff is a change of who is on call.
type Handoff struct {
	At     time.Time // in the schedule's zone
	OnCall []string  // who is on call from At on; empty: nobody
}

// Horizon bounds how far Handoffs looks ahead.
const Horizon = 2 * 366 * 24 * time.Hour

// maxSteps bounds the edges Handoffs visits, whatever the rotation period.
const maxSteps = 20000

// Handoffs returns up to n changes of who is on call after t (strictly),
// in order, looking at most Horizon ahead. A rotation boundary at which
// the same person stays on call (one member, or hidden by an override) is
// no handoff.
func (s *Schedule) Handoffs(t time.Time, n int) []Handoff {
	return s.handoffs(t, t.Add(Horizon), n)
}

// HandoffsUntil returns the changes of who is on call after t up to and
// including end, as Handoffs does.
func (s *Schedule) HandoffsUntil(t, end time.Time) []Handoff {
	return s.handoffs(t, end, maxSteps)
}

func (s *Schedule) handoffs(t, end time.Time, n int) []Handoff {
	var out []Handoff
	prev := s.OnCall(t)
	x := t
	for steps := 0; len(out) < n && steps < maxSteps; steps++ {
		next, ok := s.nextEdge(x)
		if !ok || next.After(end) {
			break
		}
		x = next
		cur := s.OnCall(x)
		if !slices.Equal(cur, prev) {
			out = append(out, Handoff{At: x.In(s.loc), OnCall: cur})
			prev = cur
		}
	}
	return out
}

// nextEdge is the first instant after x at which who is on call may change.
func (s *Schedule) nextEdge(x time.Time) (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if t.After(x) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	for _, o := range s.overrides {
		consider(o.Start)
		consider(o.End)
	}
	if s.rotation != nil {
		consider(s.rotation.Next(x))
	} else if t, ok := s.calendar.nextEdge(x); ok {
		consider(t)
	}
	return best, !best.IsZero()
}

func appendNew(ids []string, more ...string) []string {
	for _, id := range more {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// Set is every schedule of a config, by name.
type Set struct {
	byName map[string]*Schedule
	order  []*Schedule
}

// NewSet indexes schedules; names must be unique.
func NewSet(schedules ...*Schedule) (*Set, error) {
	s := &Set{byName: map[string]*Schedule{}}
	for _, sc := range schedules {
		if _, dup := s.byName[sc.name]; dup {
			return nil, fmt.Errorf("schedule %q is defined twice", sc.name)
		}
		s.byName[sc.name] = sc
		s.order = append(s.order, sc)
	}
	return s, nil
}

// Get returns the named schedule, or nil. A nil Set has no schedules.
func (s *Set) Get(name string) *Schedule {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// All returns the schedules in the order they were given.
func (s *Set) All() []*Schedule {
	if s == nil {
		return nil
	}
	return slices.Clone(s.order)
}

// Recipients is whom a receiver's card goes to at t: its own open_ids,
// then whoever is on call on its schedule (when it names one), without
// duplicates, in that order. It is what the sending path calls at send
// time. An unknown schedule adds nobody (config validation refuses one).
// The result is empty when the receiver lists nobody and nobody is on
// call; the caller decides what a page to nobody means.
func (s *Set) Recipients(openIDs []string, schedule string, t time.Time) []string {
	ids := appendNew(make([]string, 0, len(openIDs)+1), openIDs...)
	if schedule == "" {
		return ids
	}
	if sc := s.Get(schedule); sc != nil {
		ids = appendNew(ids, sc.OnCall(t)...)
	}
	return ids
}
