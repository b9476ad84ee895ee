package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/schedule"
)

// Schedule is an on-call schedule (schedules[]): a rotation or an iCal
// export, with overrides that win over either. A receiver names it with
// `schedule:` and its cards go to whoever is on call when they are sent.
type Schedule struct {
	Name string `yaml:"name"`
	// TimeZone is the zone of the rotation's and overrides' wall-clock
	// times (default: the top-level timezone).
	TimeZone  string     `yaml:"time_zone"`
	Rotation  *Rotation  `yaml:"rotation"`
	Overrides []Override `yaml:"overrides"`
	// ICalFile is an RFC 5545 export, instead of a rotation; relative to
	// the config file's folder. It is read at load and at each reload.
	ICalFile string `yaml:"ical_file"`
}

// Rotation hands the pager to the next member every period.
type Rotation struct {
	Every   Duration `yaml:"every"`
	Start   string   `yaml:"start"`
	Members []string `yaml:"members"`
}

// Override puts OpenID on call from Start until End.
type Override struct {
	Start  string `yaml:"start"`
	End    string `yaml:"end"`
	OpenID string `yaml:"open_id"`
}

// Recipients is whom receiver r's card goes to at t: its open_ids, then
// whoever is on call on its schedule, without duplicates. The sending
// path calls it at send time.
func (c *Config) Recipients(r *Receiver, t time.Time) []string {
	return c.OnCall.Recipients(r.OpenIDs, r.Schedule, t)
}

// loadSchedules checks schedules and the receivers that name them, reads
// iCal files (relative to baseDir) and, when all is well, sets OnCall.
// It runs after validate, which loads the top-level timezone.
func (c *Config) loadSchedules(baseDir string) Problems {
	var ps Problems
	var built []*schedule.Schedule
	names := map[string]bool{}
	for i, s := range c.Schedules {
		p := fmt.Sprintf("schedules[%d]", i)
		if s == nil {
			ps.add(p, "is empty")
			continue
		}
		n := len(ps)
		switch {
		case s.Name == "":
			ps.add(p+".name", "is required")
		case names[s.Name]:
			ps.add(p+".name", "schedule %q is defined twice", s.Name)
		}
		names[s.Name] = true
		sc := c.buildSchedule(p, s, baseDir, &ps)
		if len(ps) == n && sc != nil {
			built = append(built, sc)
		}
	}
	for i, r := range c.Receivers {
		if r == nil || r.Schedule == "" {
			continue
		}
		p := fmt.Sprintf("receivers[%d].schedule", i)
		if !names[r.Schedule] {
			ps.add(p, "schedule %q is not defined in schedules", r.Schedule)
		}
		if r.AllSubscribers {
			ps.add(p, "set schedule or all_subscribers, not both")
		}
	}
	if len(ps) > 0 {
		return ps
	}
	set, err := schedule.NewSet(built...)
	if err != nil {
		ps.add("schedules", "%v", err)
		return ps
	}
	c.OnCall = set
	return nil
}

// buildSchedule checks one schedule and builds it; nil when it has a
// problem, each one added to ps.
func (c *Config) buildSchedule(p string, s *Schedule, baseDir string, ps *Problems) *schedule.Schedule {
	n := len(*ps)
	loc := c.Location
	if s.TimeZone == "" {
		s.TimeZone = c.Timezone
	} else if l, err := time.LoadLocation(s.TimeZone); err != nil {
		ps.add(p+".time_zone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", s.TimeZone)
		loc = nil
	} else {
		loc = l
	}
	if loc == nil {
		return nil // a bad top-level timezone is reported already
	}
	spec := schedule.Spec{Name: s.Name, Location: loc}
	switch {
	case s.Rotation != nil && s.ICalFile != "":
		ps.add(p, "set rotation or ical_file, not both")
	case s.Rotation == nil && s.ICalFile == "":
		ps.add(p, "needs a rotation or an ical_file")
	case s.Rotation != nil:
		spec.Rotation = checkRotation(p+".rotation", s.Rotation, loc, ps)
	default:
		if !filepath.IsAbs(s.ICalFile) {
			s.ICalFile = filepath.Join(baseDir, s.ICalFile)
		}
		cal, err := schedule.LoadCalendar(s.ICalFile, loc)
		var pathErr *fs.PathError
		switch {
		case errors.As(err, &pathErr):
			ps.add(p+".ical_file", "cannot read iCal file: %v", err)
		case err != nil:
			ps.add(p+".ical_file", "cannot parse iCal file: %v", err)
		}
		spec.Calendar = cal
	}
	for j, o := range s.Overrides {
		q := fmt.Sprintf("%s.overrides[%d]", p, j)
		start, okStart := checkTime(q+".start", o.Start, loc, ps)
		end, okEnd := checkTime(q+".end", o.End, loc, ps)
		if okStart && okEnd && !end.After(start) {
			ps.add(q+".end", "must be after start (%s)", o.Start)
		}
		checkOpenID(q+".open_id", o.OpenID, ps)
		spec.Overrides = append(spec.Overrides, schedule.Override{Start: start, End: end, OpenID: o.OpenID})
	}
	if len(*ps) > n || s.Name == "" {
		return nil
	}
	sc, err := schedule.New(spec)
	if err != nil {
		ps.add(p, "%v", err)
		return nil
	}
	return sc
}

func checkRotation(p string, r *Rotation, loc *time.Location, ps *Problems) *schedule.Rotation {
	n := len(*ps)
	if r.Every <= 0 {
		ps.add(p+".every", "must be positive: a period such as 1d, 1w or 12h")
	}
	if r.Start == "" {
		ps.add(p+".start", `is required: the first handoff, such as "2026-01-05T10:00" in the schedule's time_zone`)
	} else if _, err := schedule.ParseTime(r.Start, loc); err != nil {
		ps.add(p+".start", "%v", err)
	}
	if len(r.Members) == 0 {
		ps.add(p+".members", "is empty: list the open_ids who take turns")
	}
	for i, m := range r.Members {
		checkOpenID(fmt.Sprintf("%s.members[%d]", p, i), m, ps)
	}
	if len(*ps) > n {
		return nil
	}
	rot, err := schedule.NewRotation(r.Every.D(), r.Start, loc, r.Members)
	if err != nil {
		ps.add(p, "%v", err)
		return nil
	}
	return rot
}

func checkTime(key, s string, loc *time.Location, ps *Problems) (time.Time, bool) {
	if s == "" {
		ps.add(key, `is required: a time such as "2026-12-24T00:00" in the schedule's time_zone`)
		return time.Time{}, false
	}
	t, err := schedule.ParseTime(s, loc)
	if err != nil {
		ps.add(key, "%v", err)
		return time.Time{}, false
	}
	return t, true
}

func checkOpenID(key, id string, ps *Problems) {
	switch {
	case id == "":
		ps.add(key, "is required: an open_id")
	case strings.TrimSpace(id) != id || strings.ContainsAny(id, " \t,"):
		ps.add(key, "%q is not an open_id", id)
	}
}

// WarnAhead is how far ahead scheduleWarnings looks for a gap.
const WarnAhead = 28 * 24 * time.Hour

// scheduleWarnings names each receiver whose cards would reach nobody at
// some time between now and WarnAhead: it lists no open_ids and its
// schedule has nobody on call then (before a rotation starts, between
// calendar shifts).
func (c *Config) scheduleWarnings(now time.Time) []string {
	var w []string
	for i, r := range c.Receivers {
		if r == nil || r.Schedule == "" || len(r.OpenIDs) > 0 {
			continue
		}
		sc := c.OnCall.Get(r.Schedule)
		if sc == nil {
			continue
		}
		gap := time.Time{}
		if len(sc.OnCall(now)) == 0 {
			gap = now
		} else {
			for _, h := range sc.HandoffsUntil(now, now.Add(WarnAhead)) {
				if len(h.OnCall) == 0 {
					gap = h.At
					break
				}
			}
		}
		if !gap.IsZero() {
			w = append(w, fmt.Sprintf("receivers[%d] (%s) lists no open_ids and nobody is on call on schedule %q from %s: its cards would reach nobody then (add open_ids as a fallback, or fill the gap)",
				i, r.Name, r.Schedule, gap.In(sc.Location()).Format("2006-01-02 15:04 MST")))
		}
	}
	return w
}
