package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLocalTime(t *testing.T) {
	berlin, ny := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	for _, tc := range []struct {
		name string
		loc  *time.Location
		y    int
		mo   time.Month
		d, h int
		mi   int
		want string // RFC 3339 with the offset chosen
	}{
		{"plain winter", berlin, 2026, 1, 5, 10, 0, "2026-01-05T10:00:00+01:00"},
		{"plain summer", berlin, 2026, 7, 5, 10, 0, "2026-07-05T10:00:00+02:00"},
		{"skipped hour: offset before the gap", berlin, 2026, 3, 29, 2, 30, "2026-03-29T03:30:00+02:00"},
		{"last minute before the gap", berlin, 2026, 3, 29, 1, 59, "2026-03-29T01:59:00+01:00"},
		{"first wall minute after the gap", berlin, 2026, 3, 29, 3, 0, "2026-03-29T03:00:00+02:00"},
		{"repeated hour: first occurrence", berlin, 2026, 10, 25, 2, 30, "2026-10-25T02:30:00+02:00"},
		{"after the repeated hour", berlin, 2026, 10, 25, 3, 0, "2026-10-25T03:00:00+01:00"},
		{"RFC 5545's gap example", ny, 2007, 3, 11, 2, 30, "2007-03-11T03:30:00-04:00"},
		{"RFC 5545's repeat example", ny, 2007, 11, 4, 1, 30, "2007-11-04T01:30:00-04:00"},
		{"day overflow normalises", berlin, 2026, 1, 32, 0, 0, "2026-02-01T00:00:00+01:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := LocalTime(tc.y, tc.mo, tc.d, tc.h, tc.mi, 0, tc.loc)
			require.Equal(t, tc.want, got.Format(time.RFC3339))
			require.Equal(t, tc.loc, got.Location())
		})
	}
}

func TestParseTime(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "2026-01-05T10:00", want: "2026-01-05T02:00:00Z"},
		{in: "2026-01-05T10:00:30", want: "2026-01-05T02:00:30Z"},
		{in: "2026-01-05 10:00", want: "2026-01-05T02:00:00Z"},
		{in: "2026-01-05", want: "2026-01-04T16:00:00Z"},
		{in: "2026-01-05T10:00:00Z", want: "2026-01-05T10:00:00Z"},
		{in: "2026-01-05T10:00:00+01:00", want: "2026-01-05T09:00:00Z"},
		{in: "next monday", err: `"next monday" is not a time: use "2006-01-02T15:04" (in the schedule's time zone) or RFC 3339`},
		{in: "2026-13-05T10:00", err: `"2026-13-05T10:00" is not a time`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in, sh)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.UTC().Format(time.RFC3339))
			require.Equal(t, sh, got.Location())
		})
	}
}

func TestRotationAt(t *testing.T) {
	sh, berlin := zone(t, "Asia/Shanghai"), zone(t, "Europe/Berlin")
	weekly, err := NewRotation(7*24*time.Hour, "2026-01-05T10:00", sh, []string{"ou_a", "ou_b", "ou_c"})
	require.NoError(t, err)
	halfDay, err := NewRotation(12*time.Hour, "2026-03-28T20:00", berlin, []string{"ou_a", "ou_b"})
	require.NoError(t, err)
	// A daily 02:30 handoff in Berlin across both changes of 2026.
	springDaily, err := NewRotation(24*time.Hour, "2026-03-27T02:30", berlin, []string{"ou_a", "ou_b"})
	require.NoError(t, err)
	autumnDaily, err := NewRotation(24*time.Hour, "2026-10-24T02:30", berlin, []string{"ou_a", "ou_b"})
	require.NoError(t, err)
	// A start in the gap itself: the first turn begins at 03:30 CEST, the
	// next ones at 02:30 again.
	gapStart, err := NewRotation(24*time.Hour, "2026-03-29T02:30", berlin, []string{"ou_a", "ou_b"})
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		r    *Rotation
		at   string // UTC
		want string // "" for nobody
	}{
		{"a second before the start", weekly, "2026-01-05T01:59:59Z", ""},
		{"exactly at the start", weekly, "2026-01-05T02:00:00Z", "ou_a"},
		{"a second before the first handoff", weekly, "2026-01-12T01:59:59Z", "ou_a"},
		{"exactly at the first handoff", weekly, "2026-01-12T02:00:00Z", "ou_b"},
		{"third turn", weekly, "2026-01-19T02:00:00Z", "ou_c"},
		{"wraps to the first member", weekly, "2026-01-26T02:00:00Z", "ou_a"},
		{"47th turn, within the week", weekly, "2026-12-01T23:00:00Z", "ou_c"},
		{"exact 12h period: before the change", halfDay, "2026-03-29T06:59:59Z", "ou_a"},
		{"exact 12h period moves the wall clock to 09:00 CEST", halfDay, "2026-03-29T07:00:00Z", "ou_b"},
		{"spring: day before, 02:30 CET", springDaily, "2026-03-28T01:30:00Z", "ou_b"},
		{"spring: 02:30 does not exist, handoff at 03:30 CEST", springDaily, "2026-03-29T01:29:59Z", "ou_b"},
		{"spring: handoff at 03:30 CEST = 01:30Z", springDaily, "2026-03-29T01:30:00Z", "ou_a"},
		{"spring: next day 02:30 CEST, a 23h shift", springDaily, "2026-03-30T00:29:59Z", "ou_a"},
		{"spring: next day handoff", springDaily, "2026-03-30T00:30:00Z", "ou_b"},
		{"autumn: 02:30 happens twice, handoff at the first", autumnDaily, "2026-10-25T00:30:00Z", "ou_b"},
		{"autumn: not at the second", autumnDaily, "2026-10-25T01:30:00Z", "ou_b"},
		{"autumn: 25h shift ends at 02:30 CET", autumnDaily, "2026-10-26T01:29:59Z", "ou_b"},
		{"autumn: next handoff", autumnDaily, "2026-10-26T01:30:00Z", "ou_a"},
		{"start in the gap: before it", gapStart, "2026-03-29T01:29:59Z", ""},
		{"start in the gap: 03:30 CEST", gapStart, "2026-03-29T01:30:00Z", "ou_a"},
		{"start in the gap: next day back at 02:30", gapStart, "2026-03-30T00:30:00Z", "ou_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.r.At(utc(tc.at))
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRotationNext(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	r, err := NewRotation(24*time.Hour, "2026-03-27T02:30", berlin, []string{"ou_a", "ou_b"})
	require.NoError(t, err)
	var got []string
	x := utc("2026-03-26T12:00:00Z") // before the start: the start comes first
	for range 5 {
		x = r.Next(x)
		got = append(got, x.In(berlin).Format("2006-01-02 15:04 MST"))
	}
	require.Equal(t, []string{
		"2026-03-27 02:30 CET",
		"2026-03-28 02:30 CET",
		"2026-03-29 03:30 CEST",
		"2026-03-30 02:30 CEST",
		"2026-03-31 02:30 CEST",
	}, got)
	// At a handoff instant, the next one is a period later.
	require.Equal(t, "2026-03-31 02:30 CEST", r.Next(utc("2026-03-30T00:30:00Z")).In(berlin).Format("2006-01-02 15:04 MST"))
}

func TestNewRotationRefuses(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	for _, tc := range []struct {
		name    string
		every   time.Duration
		start   string
		members []string
		err     string
	}{
		{"zero period", 0, "2026-01-05T10:00", []string{"ou_a"}, "rotation period 0s is not positive"},
		{"negative period", -time.Hour, "2026-01-05T10:00", []string{"ou_a"}, "rotation period -1h0m0s is not positive"},
		{"no members", time.Hour, "2026-01-05T10:00", nil, "a rotation needs members"},
		{"bad start", time.Hour, "soon", []string{"ou_a"}, `"soon" is not a time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRotation(tc.every, tc.start, sh, tc.members)
			require.ErrorContains(t, err, tc.err)
		})
	}
}
