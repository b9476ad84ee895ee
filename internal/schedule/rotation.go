package schedule

import (
	"errors"
	"fmt"
	"time"
)

// Rotation hands the pager from one member to the next every period,
// starting with the first member at the start time.
//
// A period of whole days (1d, 1w, 14d) is counted on the calendar of the
// schedule's zone: every handoff is at the start's wall-clock time, so a
// daily 09:00 handoff stays at 09:00 across daylight saving changes (that
// day's shift is 23 or 25 hours). A wall time the change skips or repeats
// is resolved as LocalTime does. Any other period (12h, 90m) is exact
// elapsed time from the start.
type Rotation struct {
	every   time.Duration
	days    int       // every in calendar days; 0 for an exact period
	wall    time.Time // the start's wall clock, as UTC fields
	loc     *time.Location
	start   time.Time
	members []string
}

// NewRotation builds a rotation; start is read by ParseTime in loc.
func NewRotation(every time.Duration, start string, loc *time.Location, members []string) (*Rotation, error) {
	if every <= 0 {
		return nil, fmt.Errorf("rotation period %s is not positive", every)
	}
	if len(members) == 0 {
		return nil, errors.New("a rotation needs members")
	}
	if loc == nil {
		return nil, errors.New("a rotation needs a time zone")
	}
	w, err := parseWall(start, loc)
	if err != nil {
		return nil, err
	}
	r := &Rotation{every: every, wall: w, loc: loc, start: fromWall(w, loc), members: append([]string(nil), members...)}
	if every%(24*time.Hour) == 0 {
		r.days = int(every / (24 * time.Hour))
	}
	return r, nil
}

// Start is the first handoff, to the first member.
func (r *Rotation) Start() time.Time { return r.start }

// handoff is the start of turn k (k >= 0).
func (r *Rotation) handoff(k int64) time.Time {
	if r.days == 0 {
		return r.start.Add(time.Duration(k) * r.every)
	}
	w := r.wall
	return LocalTime(w.Year(), w.Month(), w.Day()+int(k)*r.days, w.Hour(), w.Minute(), w.Second(), r.loc)
}

// turn is the turn t falls in; false before the start.
func (r *Rotation) turn(t time.Time) (int64, bool) {
	if t.Before(r.start) {
		return 0, false
	}
	// Elapsed time gives the turn to within one (a calendar day is 23 to
	// 25 hours); step to the exact one.
	k := int64(t.Sub(r.start) / r.every)
	for k > 0 && r.handoff(k).After(t) {
		k--
	}
	for !r.handoff(k + 1).After(t) {
		k++
	}
	return k, true
}

// At returns the member on call at t: a handoff instant belongs to the
// member taking over. Before the start nobody is on call.
func (r *Rotation) At(t time.Time) (string, bool) {
	k, ok := r.turn(t)
	if !ok {
		return "", false
	}
	return r.members[k%int64(len(r.members))], true
}

// Next is the first handoff strictly after x.
func (r *Rotation) Next(x time.Time) time.Time {
	k, ok := r.turn(x)
	if !ok {
		return r.start
	}
	return r.handoff(k + 1)
}
