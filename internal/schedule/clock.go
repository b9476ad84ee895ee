package schedule

import (
	"fmt"
	"time"
)

// LocalTime is the instant a wall-clock time names in loc, resolved as
// RFC 5545 (section 3.3.5) resolves DATE-TIME values with a TZID, so that
// a rotation and an iCal export of it agree:
//   - a time that occurs twice (the hour clocks go back) is its first
//     occurrence, still in summer time;
//   - a time that does not occur (the hour clocks skip) is read with the
//     offset before the gap: 02:30 on Berlin's spring-forward day is 03:30
//     CEST, one hour after 01:30 CET.
//
// time.Date leaves the first case unspecified (it picks the second
// occurrence today), hence this function. Out-of-range fields normalise as
// in time.Date (day 32 is the 1st of the next month).
func LocalTime(year int, month time.Month, day, hour, minute, sec int, loc *time.Location) time.Time {
	wall := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	// The offsets in force around that wall time: no zone changes its
	// offset twice within 12 hours.
	var offs []int
	for _, h := range []time.Duration{-12, 0, 12} {
		_, off := wall.Add(h * time.Hour).In(loc).Zone()
		if !containsInt(offs, off) {
			offs = append(offs, off)
		}
	}
	var first time.Time
	minOff := offs[0]
	for _, off := range offs {
		minOff = min(minOff, off)
		t := wall.Add(-time.Duration(off) * time.Second)
		if sameWall(t.In(loc), wall) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if first.IsZero() {
		// In a gap: clocks went forward, so the offset before it is the
		// smaller one.
		first = wall.Add(-time.Duration(minOff) * time.Second)
	}
	return first.In(loc)
}

func sameWall(t, wall time.Time) bool {
	y, mo, d := t.Date()
	wy, wmo, wd := wall.Date()
	return y == wy && mo == wmo && d == wd && t.Hour() == wall.Hour() && t.Minute() == wall.Minute() && t.Second() == wall.Second()
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Layouts ParseTime accepts besides RFC 3339, read in the schedule's zone.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a time as the config and `relay oncall --at` write it:
// RFC 3339 with its own offset ("2026-01-05T10:00:00+08:00"), or a wall
// clock in loc ("2026-01-05T10:00", with optional seconds, or a date for
// midnight) resolved as LocalTime resolves it.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	w, err := parseWall(s, loc)
	if err != nil {
		return time.Time{}, err
	}
	return fromWall(w, loc), nil
}

// parseWall reads s as ParseTime does, and returns the wall clock it names
// in loc (as the fields of a UTC time), before any gap is resolved.
func parseWall(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC), nil
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use \"2006-01-02T15:04\" (in the schedule's time zone) or RFC 3339", s)
}

func fromWall(w time.Time, loc *time.Location) time.Time {
	return LocalTime(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), loc)
}
