package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// withSchedules is minimal plus a receiver on a schedule and the given
// schedules block; the schedules start on line 12.
func withSchedules(receiver, schedules string) string {
	return minimal + receiver + "schedules:\n" + schedules
}

const onSchedule = `  - name: db
    schedule: db-primary
`

func TestSchedulesLoad(t *testing.T) {
	dir := t.TempDir()
	ics, err := os.ReadFile("testdata/oncall.ics")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cal"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cal", "db.ics"), ics, 0o600))
	c, err := Load([]byte(withSchedules(onSchedule+`  - name: both
    open_ids: [ou_x, ou_b]
    schedule: db-primary
`, `  - name: db-primary
    rotation:
      every: 1w
      start: "2026-01-05T10:00"
      members: [ou_a, ou_b, ou_c]
    overrides:
      - {start: "2026-12-24T00:00", end: "2026-12-27T00:00", open_id: ou_d}
  - name: berlin
    time_zone: Europe/Berlin
    ical_file: cal/db.ics
`)), dir)
	require.NoError(t, err)
	require.Equal(t, "Asia/Shanghai", c.Schedules[0].TimeZone, "defaults to the top-level timezone")
	require.Equal(t, filepath.Join(dir, "cal", "db.ics"), c.Schedules[1].ICalFile, "relative to the config's folder")
	require.Len(t, c.OnCall.All(), 2)

	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	week2 := time.Date(2026, 1, 12, 10, 0, 0, 0, sh)
	xmas := time.Date(2026, 12, 25, 0, 0, 0, 0, sh)
	require.Equal(t, []string{"ou_b"}, c.Recipients(c.ReceiverByName("db"), week2))
	require.Equal(t, []string{"ou_a"}, c.Recipients(c.ReceiverByName("db"), week2.Add(-time.Second)))
	require.Equal(t, []string{"ou_d"}, c.Recipients(c.ReceiverByName("db"), xmas), "the override wins")
	require.Equal(t, []string{"ou_x", "ou_b"}, c.Recipients(c.ReceiverByName("both"), week2), "no duplicates, open_ids first")
	require.Equal(t, []string{"ou_a"}, c.Recipients(c.ReceiverByName("default"), xmas), "no schedule: open_ids")
	berlin := c.OnCall.Get("berlin")
	require.Equal(t, "Europe/Berlin", berlin.Location().String())
	require.Equal(t, []string{"ou_a"}, berlin.OnCall(time.Date(2026, 1, 5, 9, 0, 0, 0, berlin.Location())))
	require.Contains(t, c.String(), "schedule: db-primary")

	// No schedules: nil set, recipients are the open_ids.
	c, err = Load([]byte(minimal), dir)
	require.NoError(t, err)
	require.Equal(t, []string{"ou_a"}, c.Recipients(c.Receivers[0], week2))
}

func TestSchedulesBad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.ics"), []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"), 0o600))
	rotation := func(lines string) string {
		return "  - name: db-primary\n    rotation:\n" + lines
	}
	good := "      every: 1w\n      start: \"2026-01-05T10:00\"\n      members: [ou_a]\n"
	tests := []struct {
		name, yaml string
		want       string // the whole error
	}{
		{"unknown schedule in a receiver", withSchedules(`  - name: db
    schedule: nope
`, rotation(good)),
			`receivers[1].schedule (line 10): schedule "nope" is not defined in schedules`},
		{"schedule and all_subscribers", withSchedules(`  - name: db
    schedule: db-primary
    all_subscribers: true
`, rotation(good)),
			`receivers[1].schedule (line 10): set schedule or all_subscribers, not both`},
		{"schedules but none named", minimal + "  - {name: db, schedule: db}\n",
			`receivers[1].schedule (line 9): schedule "db" is not defined in schedules`},
		{"empty members", withSchedules(onSchedule, rotation("      every: 1w\n      start: \"2026-01-05T10:00\"\n      members: []\n")),
			`schedules[0].rotation.members (line 16): is empty: list the open_ids who take turns`},
		{"no rotation fields", withSchedules(onSchedule, rotation("      members: [ou_a, ' ou_b', '']\n")),
			"schedules[0].rotation.every (line 13): must be positive: a period such as 1d, 1w or 12h\n" +
				`schedules[0].rotation.start (line 13): is required: the first handoff, such as "2026-01-05T10:00" in the schedule's time_zone` + "\n" +
				`schedules[0].rotation.members[1] (line 14): " ou_b" is not an open_id` + "\n" +
				"schedules[0].rotation.members[2] (line 14): is required: an open_id"},
		{"zero every", withSchedules(onSchedule, rotation(strings.Replace(good, "1w", "0d", 1))),
			"schedules[0].rotation.every (line 14): must be positive: a period such as 1d, 1w or 12h"},
		{"negative every", withSchedules(onSchedule, rotation(strings.Replace(good, "1w", "-1d", 1))),
			`schedules[0].rotation.every (line 14): "-1d" is not a duration (e.g. 30s, 5m, 2h, 1d)`},
		{"bad start", withSchedules(onSchedule, rotation(strings.Replace(good, "2026-01-05T10:00", "Monday 10am", 1))),
			`schedules[0].rotation.start (line 15): "Monday 10am" is not a time: use "2006-01-02T15:04" (in the schedule's time zone) or RFC 3339`},
		{"override ends before it starts", withSchedules(onSchedule, rotation(good)+`    overrides:
      - {start: "2026-12-27T00:00", end: "2026-12-24T00:00", open_id: ou_d}
      - {start: "2026-12-27T00:00", end: "2026-12-27T00:00", open_id: ou_d}
      - {start: "", end: "later"}
`),
			"schedules[0].overrides[0].end (line 18): must be after start (2026-12-27T00:00)\n" +
				"schedules[0].overrides[1].end (line 19): must be after start (2026-12-27T00:00)\n" +
				`schedules[0].overrides[2].start (line 20): is required: a time such as "2026-12-24T00:00" in the schedule's time_zone` + "\n" +
				`schedules[0].overrides[2].end (line 20): "later" is not a time: use "2006-01-02T15:04" (in the schedule's time zone) or RFC 3339` + "\n" +
				"schedules[0].overrides[2].open_id (line 20): is required: an open_id"},
		{"unknown time zone", withSchedules(onSchedule, "  - name: db-primary\n    time_zone: Europe/Atlantis\n    rotation:\n"+good),
			`schedules[0].time_zone (line 13): unknown time zone "Europe/Atlantis" (use an IANA name such as Asia/Shanghai)`},
		{"neither rotation nor ical", withSchedules(onSchedule, "  - name: db-primary\n"),
			`schedules[0] (line 12): needs a rotation or an ical_file`},
		{"both rotation and ical", withSchedules(onSchedule, rotation(good)+"    ical_file: bad.ics\n"),
			`schedules[0] (line 12): set rotation or ical_file, not both`},
		{"unreadable iCal file", withSchedules(onSchedule, "  - name: db-primary\n    ical_file: missing.ics\n"),
			"schedules[0].ical_file (line 13): cannot read iCal file: open " + filepath.Join(dir, "missing.ics") + ": no such file or directory"},
		{"unparseable iCal file", withSchedules(onSchedule, "  - name: db-primary\n    ical_file: bad.ics\n"),
			"schedules[0].ical_file (line 13): cannot parse iCal file: " + filepath.Join(dir, "bad.ics") + ": no VEVENT in the calendar: nobody would ever be on call"},
		{"duplicate and nameless", withSchedules(onSchedule, rotation(good)+rotation(good)+"  - rotation:\n"+good),
			"schedules[1].name (line 17): schedule \"db-primary\" is defined twice\n" +
				"schedules[2].name (line 22): is required"},
		{"empty entry", withSchedules(onSchedule, rotation(good)+"  -\n"), "schedules[1] (line 17): is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), dir)
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
		})
	}
}

func TestScheduleWarnings(t *testing.T) {
	dir := t.TempDir()
	ics, err := os.ReadFile("testdata/oncall.ics")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db.ics"), ics, 0o600))
	c, err := Load([]byte(withSchedules(`  - {name: db, schedule: db-primary}
  - {name: cal, schedule: cal}
  - {name: cal-with-fallback, schedule: cal, open_ids: [ou_lead]}
`, `  - name: db-primary
    rotation: {every: 1w, start: "2026-01-05T10:00", members: [ou_a, ou_b]}
  - name: cal
    time_zone: Europe/Berlin
    ical_file: db.ics
`)), dir)
	require.NoError(t, err)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		now  time.Time
		want []string
	}{
		{"before the rotation starts; the calendar gap after its new-year shift", time.Date(2026, 1, 1, 12, 0, 0, 0, sh), []string{
			`receivers[1] (db) lists no open_ids and nobody is on call on schedule "db-primary" from 2026-01-01 12:00 CST: its cards would reach nobody then (add open_ids as a fallback, or fill the gap)`,
			`receivers[2] (cal) lists no open_ids and nobody is on call on schedule "cal" from 2026-01-02 00:00 CET: its cards would reach nobody then (add open_ids as a fallback, or fill the gap)`,
		}},
		{"a calendar gap ahead", time.Date(2026, 1, 20, 0, 0, 0, 0, sh), []string{
			`receivers[2] (cal) lists no open_ids and nobody is on call on schedule "cal" from 2026-01-26 09:00 CET: its cards would reach nobody then (add open_ids as a fallback, or fill the gap)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, c.scheduleWarnings(tc.now))
		})
	}
}
