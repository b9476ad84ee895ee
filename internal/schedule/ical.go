package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Calendar is the on-call shifts of an iCal (RFC 5545) export: each VEVENT
// is a shift, recurring by its RRULE and RDATEs less its EXDATEs, with
// RECURRENCE-ID events replacing (or, with STATUS:CANCELLED, removing) one
// instance of their series. A shift's people are its ATTENDEEs (the
// address without "mailto:" and without any "@domain": an export that
// must use e-mail addresses can write mailto:ou_xxx@oncall.invalid), those
// who declined left out; with no attendee, its SUMMARY is a list of
// open_ids separated by commas or spaces. Times without a TZID or "Z" are
// in the schedule's zone; a TZID must be an IANA zone name. Overlapping
// shifts put everyone on them on call.
type Calendar struct {
	series []*series
}

// series is one recurring (or single) shift.
type series struct {
	uid   string
	set   *rrule.Set
	days  int           // nominal length in calendar days of the shift's zone
	exact time.Duration // exact length, after the days
	ids   []string
	order int // position in the file, for a stable order of overlaps

	// rrule-go can only iterate from DTSTART, so a series' starts up to
	// until are expanded once, at load; asks past until iterate.
	starts []time.Time
	until  time.Time
	done   bool // the series has no start after until
}

// MaxShifts bounds the shifts a calendar may have from its first one to
// Horizon after it is loaded: more means an RRULE far too frequent for
// on-call shifts (FREQ=MINUTELY, say).
const MaxShifts = 200000

// expand records the series' starts up to until, spending budget.
func (s *series) expand(until time.Time, budget *int) error {
	next := s.set.Iterator()
	for {
		t, ok := next()
		if !ok {
			s.done = true
			break
		}
		if t.After(until) {
			break
		}
		if *budget--; *budget < 0 {
			return fmt.Errorf("more than %d shifts before %s: is an RRULE too frequent for on-call shifts?", MaxShifts, until.Format(time.DateOnly))
		}
		s.starts = append(s.starts, t)
	}
	s.until = until
	return nil
}

// startsIn is the starts st with from < st <= to.
func (s *series) startsIn(from, to time.Time) []time.Time {
	if s.done || !to.After(s.until) {
		i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i].After(from) })
		j := sort.Search(len(s.starts), func(i int) bool { return s.starts[i].After(to) })
		return s.starts[i:j]
	}
	var out []time.Time
	for _, st := range s.set.Between(from, to, true) {
		if st.After(from) && !st.After(to) {
			out = append(out, st)
		}
	}
	return out
}

// nextStart is the first start after x; zero when there is none.
func (s *series) nextStart(x time.Time) time.Time {
	if i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i].After(x) }); i < len(s.starts) {
		return s.starts[i]
	}
	if s.done {
		return time.Time{}
	}
	return s.set.After(x, false)
}

// MaxCalendarBytes bounds an iCal file.
const MaxCalendarBytes = 16 << 20

// LoadCalendar reads the iCal file at path.
func LoadCalendar(path string, loc *time.Location) (*Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseCalendar(f, loc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCalendar reads an iCal stream (one or more VCALENDARs); times
// without a zone are in loc.
func ParseCalendar(r io.Reader, loc *time.Location) (*Calendar, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxCalendarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read iCal: %w", err)
	}
	if len(b) > MaxCalendarBytes {
		return nil, fmt.Errorf("iCal file is larger than %d bytes", MaxCalendarBytes)
	}
	dec := ical.NewDecoder(bytes.NewReader(b))
	var events []ical.Event
	for {
		cal, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			// The decoder says EOF for a clean end and for a file cut
			// short alike: only whitespace may follow the last calendar.
			if cutShort(b) {
				return nil, errors.New("parse iCal: the file ends inside a component (cut short?)")
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse iCal: %w", err)
		}
		events = append(events, cal.Events()...)
	}
	if len(events) == 0 {
		return nil, errors.New("no VEVENT in the calendar: nobody would ever be on call")
	}
	c := &Calendar{}
	masters := map[string]*series{}
	type exception struct {
		uid string
		at  time.Time
	}
	var exceptions []exception
	for i, ev := range events {
		uid, _ := ev.Props.Text(ical.PropUID)
		name := uid
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		s, err := parseEvent(ev, loc)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", name, err)
		}
		rid := ev.Props.Get(ical.PropRecurrenceID)
		if rid != nil {
			if strings.EqualFold(rid.Params.Get(ical.ParamRange), "THISANDFUTURE") {
				return nil, fmt.Errorf("event %s: RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: split the series instead", name)
			}
			at, err := rid.DateTime(loc)
			if err != nil {
				return nil, fmt.Errorf("event %s: RECURRENCE-ID: %w", name, err)
			}
			exceptions = append(exceptions, exception{uid: uid, at: at})
		} else if uid != "" {
			if _, dup := masters[uid]; dup {
				return nil, fmt.Errorf("event %s: two events with this UID and no RECURRENCE-ID", name)
			}
		}
		if s == nil { // cancelled
			continue
		}
		s.uid, s.order = uid, i
		if rid == nil && uid != "" {
			masters[uid] = s
		}
		c.series = append(c.series, s)
	}
	// An exception replaces its instance of the series: it is its own
	// one-off shift (unless cancelled), and the series skips that start.
	for _, e := range exceptions {
		if m := masters[e.uid]; m != nil {
			m.set.ExDate(e.at)
		}
	}
	until, budget := time.Now().Add(Horizon), MaxShifts
	for _, s := range c.series {
		if err := s.expand(until, &budget); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cutShort reports whether anything but whitespace follows the last
// END:VCALENDAR (or there is none).
func cutShort(b []byte) bool {
	const end = "END:VCALENDAR"
	i := bytes.LastIndex(bytes.ToUpper(b), []byte(end))
	if i < 0 {
		return len(bytes.TrimSpace(b)) > 0
	}
	return len(bytes.TrimSpace(b[i+len(end):])) > 0
}

// parseEvent reads one VEVENT; nil for a cancelled one.
func parseEvent(ev ical.Event, loc *time.Location) (*series, error) {
	status, err := ev.Status()
	if err != nil {
		return nil, err
	}
	if status == ical.EventCancelled {
		return nil, nil
	}
	start, err := ev.DateTimeStart(loc)
	if err != nil {
		return nil, fmt.Errorf("DTSTART: %w", err)
	}
	if start.IsZero() {
		return nil, errors.New("no DTSTART")
	}
	end, err := ev.DateTimeEnd(loc)
	if err != nil {
		return nil, fmt.Errorf("DTEND: %w", err)
	}
	if !end.After(start) {
		return nil, errors.New("ends when it starts (no DTEND or DURATION?): a shift must last")
	}
	ids, err := eventPeople(ev)
	if err != nil {
		return nil, err
	}
	set := &rrule.Set{}
	set.DTStart(start)
	set.RDate(start) // DTSTART is always the first instance (RFC 5545 3.8.5.3)
	if p := ev.Props.Get(ical.PropRecurrenceRule); p != nil && ev.Props.Get(ical.PropRecurrenceID) == nil {
		opt, err := rrule.StrToROptionInLocation(p.Value, start.Location())
		if err != nil {
			return nil, fmt.Errorf("RRULE: %w", err)
		}
		opt.Dtstart = start
		rule, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, fmt.Errorf("RRULE: %w", err)
		}
		set.RRule(rule)
	}
	rdates, err := dateList(ev.Props.Values(ical.PropRecurrenceDates), start.Location())
	if err != nil {
		return nil, fmt.Errorf("RDATE: %w", err)
	}
	for _, t := range rdates {
		set.RDate(t)
	}
	exdates, err := dateList(ev.Props.Values(ical.PropExceptionDates), start.Location())
	if err != nil {
		return nil, fmt.Errorf("EXDATE: %w", err)
	}
	for _, t := range exdates {
		set.ExDate(t)
	}
	days, exact, err := shiftLength(ev, start, end)
	if err != nil {
		return nil, fmt.Errorf("DURATION: %w", err)
	}
	return &series{set: set, days: days, exact: exact, ids: ids}, nil
}

// shiftLength is how long each instance of a shift lasts, as RFC 5545
// (3.8.5.3) has it: a DTEND gives an exact duration; a DURATION's days and
// weeks are nominal (P1W ends at the same wall-clock time a week later,
// whatever daylight saving did meanwhile), its hours and minutes exact.
// An all-day (DATE) shift lasts whole calendar days.
func shiftLength(ev ical.Event, start, end time.Time) (int, time.Duration, error) {
	if p := ev.Props.Get(ical.PropDateTimeStart); p.ValueType() == ical.ValueDate || (p.ValueType() == ical.ValueDefault && len(p.Value) == len("20060102")) {
		return int(math.Round(end.Sub(start).Hours() / 24)), 0, nil
	}
	p := ev.Props.Get(ical.PropDuration)
	if p == nil || ev.Props.Get(ical.PropDateTimeEnd) != nil {
		return 0, end.Sub(start), nil
	}
	datePart := strings.ToUpper(p.Value)
	if i := strings.IndexByte(datePart, 'T'); i >= 0 {
		datePart = datePart[:i]
	}
	if !strings.ContainsAny(datePart, "DW") {
		return 0, end.Sub(start), nil
	}
	nominal := *p
	nominal.Value = datePart
	d, err := nominal.Duration()
	if err != nil {
		return 0, 0, err
	}
	return int(d / (24 * time.Hour)), end.Sub(start) - d, nil
}

// end is when the instance starting at st ends.
func (s *series) end(st time.Time) time.Time {
	if s.days > 0 {
		st = LocalTime(st.Year(), st.Month(), st.Day()+s.days, st.Hour(), st.Minute(), st.Second(), st.Location())
	}
	return st.Add(s.exact)
}

// span bounds the length of any instance: no calendar day is longer than
// 26 hours (no zone moves its clocks by more than two).
func (s *series) span() time.Duration {
	return time.Duration(s.days)*26*time.Hour + s.exact
}

// dateList reads EXDATE or RDATE properties, each a comma-separated list;
// values without a zone are in loc, the zone of the series' DTSTART.
func dateList(props []ical.Prop, loc *time.Location) ([]time.Time, error) {
	var out []time.Time
	for _, p := range props {
		if p.ValueType() == ical.ValuePeriod {
			return nil, errors.New("VALUE=PERIOD is not supported: use date-times")
		}
		for _, v := range strings.Split(p.Value, ",") {
			one := p
			one.Value = strings.TrimSpace(v)
			t, err := one.DateTime(loc)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// eventPeople is the open_ids an event names.
func eventPeople(ev ical.Event) ([]string, error) {
	var ids []string
	attendees := ev.Props.Values(ical.PropAttendee)
	for _, a := range attendees {
		if strings.EqualFold(a.Params.Get(ical.ParamParticipationStatus), "DECLINED") {
			continue
		}
		v := strings.TrimSpace(a.Value)
		if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
			v = v[7:]
		}
		if i := strings.IndexByte(v, '@'); i >= 0 {
			v = v[:i]
		}
		if v != "" {
			ids = appendNew(ids, v)
		}
	}
	if len(attendees) > 0 {
		return ids, nil // everyone declined: nobody on call in this shift
	}
	// The raw value: a list written "ou_a, ou_b" is not valid TEXT (its
	// comma should be escaped), and go-ical's Text stops at it.
	var summary string
	if p := ev.Props.Get(ical.PropSummary); p != nil {
		summary = strings.NewReplacer(`\,`, ",", `\;`, ";", `\n`, " ", `\N`, " ", `\\`, `\`).Replace(p.Value)
	}
	ids = appendNew(ids, strings.FieldsFunc(summary, func(r rune) bool {
		return r == ',' || r == ';' || unicode.IsSpace(r)
	})...)
	if len(ids) == 0 {
		return nil, errors.New("names nobody: put open_ids in ATTENDEE or SUMMARY")
	}
	return ids, nil
}

// At is who is on call at t: the people of every shift covering t, the
// earliest-starting shift first.
func (c *Calendar) At(t time.Time) []string {
	type hit struct {
		start time.Time
		s     *series
	}
	var hits []hit
	for _, s := range c.series {
		for _, st := range s.startsIn(t.Add(-s.span()), t) {
			if s.end(st).After(t) {
				hits = append(hits, hit{st, s})
			}
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return a.s.order - b.s.order
	})
	var ids []string
	for _, h := range hits {
		ids = appendNew(ids, h.s.ids...)
	}
	return ids
}

// nextEdge is the first start or end of a shift after x.
func (c *Calendar) nextEdge(x time.Time) (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(x) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	for _, s := range c.series {
		consider(s.nextStart(x))
		// Shifts begun by x end after it; the ends of later ones come
		// after their starts.
		for _, st := range s.startsIn(x.Add(-s.span()), x) {
			consider(s.end(st))
		}
	}
	return best, !best.IsZero()
}
