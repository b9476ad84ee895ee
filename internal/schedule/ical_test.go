package schedule

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCalendarAt(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	cal, err := LoadCalendar("testdata/weekly.ics", berlin)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, at string // at: Berlin wall clock
		want     []string
	}{
		{"all-day event: both in its SUMMARY", "2026-01-01T00:00", []string{"ou_h", "ou_i"}},
		{"all-day event ends at midnight", "2026-01-02T00:00", nil},
		{"before the first shift", "2026-01-05T08:59:59", nil},
		{"attendee, mailto and @domain dropped; the decliner is not on call", "2026-01-05T09:00", []string{"ou_a"}},
		{"a shift's end is the next one's start", "2026-01-12T09:00", []string{"ou_b"}},
		{"INTERVAL=2: a again", "2026-01-19T09:00", []string{"ou_a"}},
		{"EXDATE removes b's shift", "2026-01-28T12:00", nil},
		{"RECURRENCE-ID moves a's shift to ou_c", "2026-02-02T09:00", []string{"ou_c"}},
		{"the exception is shorter than the series", "2026-02-05T09:00", nil},
		{"b, between two exceptions", "2026-02-10T09:00", []string{"ou_b"}},
		{"a cancelled instance (RECURRENCE-ID in UTC)", "2026-02-18T12:00", nil},
		{"second value of an EXDATE list", "2026-03-10T12:00", nil},
		{"before the spring change: b", "2026-03-30T08:59:59", []string{"ou_b"}},
		// Each instance starts at 09:00 local, and lasts DTEND-DTSTART
		// exactly (RFC 5545 3.8.5.3): b's shift, begun in winter, ends
		// at 10:00 CEST, an hour after a's begins. Both are paged then.
		{"after the spring change a starts at 09:00 local; b's exact week overlaps", "2026-03-30T09:00", []string{"ou_b", "ou_a"}},
		{"b's 168 hours end at 10:00 CEST", "2026-03-30T10:00", []string{"ou_a"}},
		{"UNTIL ends b's series", "2026-04-07T12:00", nil},
		{"a recurs forever", "2027-04-12T09:00", []string{"ou_a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cal.At(mustParse(t, tc.at, berlin)))
		})
	}
}

func TestCalendarHandoffs(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	cal, err := LoadCalendar("testdata/weekly.ics", berlin)
	require.NoError(t, err)
	s, err := New(Spec{Name: "cal", Location: berlin, Calendar: cal,
		Overrides: []Override{{Start: mustParse(t, "2026-02-06T00:00", berlin), End: mustParse(t, "2026-02-07T00:00", berlin), OpenID: "ou_d"}}})
	require.NoError(t, err)
	require.Equal(t, strings.Join([]string{
		"2026-01-26 09:00 CET nobody",
		"2026-02-02 09:00 CET ou_c",
		"2026-02-05 09:00 CET nobody",
		"2026-02-06 00:00 CET ou_d",
		"2026-02-07 00:00 CET nobody",
		"2026-02-09 09:00 CET ou_b",
		"2026-02-16 09:00 CET nobody",
		"2026-02-23 09:00 CET ou_b",
		"2026-03-02 09:00 CET ou_a",
		"",
	}, "\n"), fmtHandoffs(s.Handoffs(mustParse(t, "2026-01-25T12:00", berlin), 9)))
	require.Equal(t, "2026-03-30 09:00 CEST ou_b,ou_a\n2026-03-30 10:00 CEST ou_a\n2026-04-06 09:00 CEST nobody\n",
		fmtHandoffs(s.Handoffs(mustParse(t, "2026-03-29T12:00", berlin), 3)))
}

func TestCalendarRefuses(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	event := func(lines ...string) string {
		return strings.Join(append(append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "BEGIN:VEVENT", "UID:e1", "DTSTAMP:20260101T000000Z"}, lines...), "END:VEVENT", "END:VCALENDAR", ""), "\r\n")
	}
	for _, tc := range []struct {
		name, ics, err string
	}{
		{"not iCal", "hello\r\n", "parse iCal: "},
		{"trailing garbage", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\nBEGIN:VCAL", "parse iCal: the file ends inside a component (cut short?)"},
		{"no events", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n", "no VEVENT in the calendar: nobody would ever be on call"},
		{"nobody named", event("DTSTART:20260105T010000Z", "DTEND:20260105T020000Z"), "event e1: names nobody: put open_ids in ATTENDEE or SUMMARY"},
		{"no length", event("DTSTART:20260105T010000Z", "SUMMARY:ou_a"), "event e1: ends when it starts (no DTEND or DURATION?): a shift must last"},
		{"bad rule", event("DTSTART:20260105T010000Z", "DTEND:20260105T020000Z", "RRULE:FREQ=SOMETIMES", "SUMMARY:ou_a"), "event e1: RRULE: "},
		{"unknown TZID", event("DTSTART;TZID=Mars/Olympus:20260105T010000", "DTEND:20260105T020000Z", "SUMMARY:ou_a"), "event e1: DTSTART: unknown time zone Mars/Olympus"},
		{"bad EXDATE", event("DTSTART:20260105T010000Z", "DTEND:20260105T020000Z", "RRULE:FREQ=DAILY", "EXDATE:tomorrow", "SUMMARY:ou_a"), "event e1: EXDATE: "},
		{"this and future", event("RECURRENCE-ID;RANGE=THISANDFUTURE:20260105T010000Z", "DTSTART:20260105T010000Z", "DTEND:20260105T020000Z", "SUMMARY:ou_a"), "event e1: RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: split the series instead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCalendar(strings.NewReader(tc.ics), berlin)
			require.ErrorContains(t, err, tc.err)
		})
	}
	_, err := LoadCalendar("testdata/truncated.ics", berlin)
	require.ErrorContains(t, err, "testdata/truncated.ics: parse iCal: the file ends inside a component (cut short?)")
	_, err = LoadCalendar("testdata/missing.ics", berlin)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestCalendarSummaryList(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	for _, summary := range []string{`ou_a,ou_b ou_c`, `ou_a\, ou_b\;ou_c`, `ou_a ou_b ou_a ou_c`} {
		t.Run(summary, func(t *testing.T) {
			ics := strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "BEGIN:VEVENT", "UID:e1", "DTSTAMP:20260101T000000Z",
				"DTSTART:20260105T010000Z", "DURATION:PT1H", "SUMMARY:" + summary, "END:VEVENT", "END:VCALENDAR", ""}, "\r\n")
			cal, err := ParseCalendar(strings.NewReader(ics), berlin)
			require.NoError(t, err)
			require.Equal(t, []string{"ou_a", "ou_b", "ou_c"}, cal.At(utc("2026-01-05T01:59:59Z")))
			require.Empty(t, cal.At(utc("2026-01-05T02:00:00Z")))
		})
	}
}

// Starts are expanded once at load up to a horizon; past it, asks iterate
// the RRULE. Both must give the same answers.
func TestCalendarExpansionMatchesIteration(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	for _, file := range []string{"testdata/weekly.ics"} {
		t.Run(file, func(t *testing.T) {
			expanded, err := LoadCalendar(file, berlin)
			require.NoError(t, err)
			iterated, err := LoadCalendar(file, berlin)
			require.NoError(t, err)
			for _, s := range iterated.series {
				s.starts, s.until, s.done = nil, time.Time{}, false
			}
			for at := utc("2025-12-31T00:00:00Z"); at.Before(utc("2027-03-01T00:00:00Z")); at = at.Add(7*time.Hour + 13*time.Minute) {
				require.Equal(t, iterated.At(at), expanded.At(at), at)
				a, okA := iterated.nextEdge(at)
				b, okB := expanded.nextEdge(at)
				require.Equal(t, okA, okB, at)
				require.True(t, a.Equal(b), "%s: %s != %s", at, a, b)
			}
		})
	}
}

func TestCalendarTooManyShifts(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	ics := func(rule string) string {
		return strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "BEGIN:VEVENT", "UID:e1", "DTSTAMP:20260101T000000Z",
			"DTSTART:20260105T010000Z", "DURATION:PT1M", rule, "SUMMARY:ou_a", "END:VEVENT", "END:VCALENDAR", ""}, "\r\n")
	}
	_, err := ParseCalendar(strings.NewReader(ics("RRULE:FREQ=MINUTELY")), berlin)
	require.ErrorContains(t, err, "more than 200000 shifts before ")
	require.ErrorContains(t, err, ": is an RRULE too frequent for on-call shifts?")
	cal, err := ParseCalendar(strings.NewReader(ics("RRULE:FREQ=MINUTELY;COUNT=10")), berlin)
	require.NoError(t, err)
	require.Equal(t, []string{"ou_a"}, cal.At(utc("2026-01-05T01:09:00Z")))
	require.Empty(t, cal.At(utc("2026-01-05T01:10:00Z")))
}

// How long each instance lasts across Berlin's spring change (2026-03-29).
func TestCalendarShiftLength(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	cal := func(lines ...string) *Calendar {
		ics := strings.Join(append(append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "BEGIN:VEVENT", "UID:e1", "DTSTAMP:20260101T000000Z", "SUMMARY:ou_a"}, lines...), "END:VEVENT", "END:VCALENDAR", ""), "\r\n")
		c, err := ParseCalendar(strings.NewReader(ics), berlin)
		require.NoError(t, err)
		return c
	}
	at := func(s string) time.Time { return mustParse(t, s, berlin) }
	for _, tc := range []struct {
		name   string
		cal    *Calendar
		lastIn string // the last second of the instance begun 2026-03-23
		out    string // the first second after
	}{
		{"DTEND: exact, the winter week's 168h end at 10:00 CEST",
			cal("DTSTART;TZID=Europe/Berlin:20260316T090000", "DTEND;TZID=Europe/Berlin:20260323T090000", "RRULE:FREQ=WEEKLY;COUNT=2"),
			"2026-03-30T09:59:59", "2026-03-30T10:00"},
		{"DURATION:P1W: nominal, ends at 09:00 CEST",
			cal("DTSTART;TZID=Europe/Berlin:20260316T090000", "DURATION:P1W", "RRULE:FREQ=WEEKLY;COUNT=2"),
			"2026-03-30T08:59:59", "2026-03-30T09:00"},
		{"DURATION:PT168H: exact",
			cal("DTSTART;TZID=Europe/Berlin:20260316T090000", "DURATION:PT168H", "RRULE:FREQ=WEEKLY;COUNT=2"),
			"2026-03-30T09:59:59", "2026-03-30T10:00"},
		{"DURATION:P6DT24H: six nominal days, then 24 exact hours",
			cal("DTSTART;TZID=Europe/Berlin:20260316T090000", "DURATION:P6DT24H", "RRULE:FREQ=WEEKLY;COUNT=2"),
			"2026-03-30T08:59:59", "2026-03-30T09:00"},
		{"DTEND of a single event is its end",
			cal("DTSTART;TZID=Europe/Berlin:20260323T090000", "DTEND;TZID=Europe/Berlin:20260330T090000"),
			"2026-03-30T08:59:59", "2026-03-30T09:00"},
		{"all-day, begun in winter: whole days, ending at midnight CEST",
			cal("DTSTART;VALUE=DATE:20260309", "DTEND;VALUE=DATE:20260316", "RRULE:FREQ=WEEKLY;INTERVAL=2"),
			"2026-03-29T23:59:59", "2026-03-30T00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, []string{"ou_a"}, tc.cal.At(at(tc.lastIn)))
			require.Empty(t, tc.cal.At(at(tc.out)))
			e, ok := tc.cal.nextEdge(at(tc.lastIn))
			require.True(t, ok)
			require.True(t, e.Equal(at(tc.out)), e)
		})
	}
}
