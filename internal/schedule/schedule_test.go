package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	v, err := ParseTime(s, loc)
	require.NoError(t, err)
	return v
}

// dbPrimary is the example: a weekly rotation in Shanghai with a
// Christmas override.
func dbPrimary(t *testing.T, overrides ...Override) *Schedule {
	t.Helper()
	sh := zone(t, "Asia/Shanghai")
	r, err := NewRotation(7*24*time.Hour, "2026-01-05T10:00", sh, []string{"ou_a", "ou_b", "ou_c"})
	require.NoError(t, err)
	s, err := New(Spec{Name: "db-primary", Location: sh, Rotation: r, Overrides: overrides})
	require.NoError(t, err)
	return s
}

func TestOnCallWithOverrides(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	at := func(s string) time.Time { return mustParse(t, s, sh) }
	s := dbPrimary(t,
		Override{Start: at("2026-12-24T00:00"), End: at("2026-12-27T00:00"), OpenID: "ou_d"},
		Override{Start: at("2026-12-26T00:00"), End: at("2026-12-28T00:00"), OpenID: "ou_e"},
		// Overrides work before the rotation starts, too.
		Override{Start: at("2026-01-01T00:00"), End: at("2026-01-02T00:00"), OpenID: "ou_a"},
	)
	for _, tc := range []struct {
		at   string
		want []string
	}{
		{"2025-12-31T23:59", nil},
		{"2026-01-01T00:00", []string{"ou_a"}},
		{"2026-01-02T00:00", nil},
		{"2026-01-05T10:00", []string{"ou_a"}},
		{"2026-12-23T23:59:59", []string{"ou_c"}}, // turn 50 (Dec 21-28): 50 % 3 = 2
		{"2026-12-24T00:00", []string{"ou_d"}},    // the override wins at its start
		{"2026-12-25T12:00", []string{"ou_d"}},
		{"2026-12-26T00:00", []string{"ou_d", "ou_e"}}, // overlapping: both, in listed order
		{"2026-12-27T00:00", []string{"ou_e"}},         // the end is not covered
		{"2026-12-28T00:00", []string{"ou_c"}},
		{"2026-12-28T10:00", []string{"ou_a"}},
	} {
		t.Run(tc.at, func(t *testing.T) {
			require.Equal(t, tc.want, s.OnCall(at(tc.at)))
		})
	}
}

func fmtHandoffs(hs []Handoff) string {
	var b strings.Builder
	for _, h := range hs {
		who := strings.Join(h.OnCall, ",")
		if who == "" {
			who = "nobody"
		}
		b.WriteString(h.At.Format("2006-01-02 15:04 MST") + " " + who + "\n")
	}
	return b.String()
}

func TestHandoffs(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	at := func(s string) time.Time { return mustParse(t, s, sh) }
	xmas := Override{Start: at("2026-12-24T00:00"), End: at("2026-12-27T00:00"), OpenID: "ou_d"}
	single, err := NewRotation(24*time.Hour, "2026-01-05T10:00", sh, []string{"ou_a"})
	require.NoError(t, err)
	solo, err := New(Spec{Name: "solo", Location: sh, Rotation: single, Overrides: []Override{xmas}})
	require.NoError(t, err)
	hidden := Override{Start: at("2026-12-27T00:00"), End: at("2027-01-05T00:00"), OpenID: "ou_a"}

	for _, tc := range []struct {
		name string
		s    *Schedule
		from string
		n    int
		want string
	}{
		{"before the start: the start is the first handoff", dbPrimary(t), "2026-01-01T00:00", 2,
			"2026-01-05 10:00 CST ou_a\n2026-01-12 10:00 CST ou_b\n"},
		{"from a handoff instant: the next one", dbPrimary(t), "2026-01-12T10:00", 1,
			"2026-01-19 10:00 CST ou_c\n"},
		{"an override starts and ends", dbPrimary(t, xmas), "2026-12-22T00:00", 3,
			"2026-12-24 00:00 CST ou_d\n2026-12-27 00:00 CST ou_c\n2026-12-28 10:00 CST ou_a\n"},
		{"one member: only overrides hand off", solo, "2026-06-01T00:00", 3,
			"2026-12-24 00:00 CST ou_d\n2026-12-27 00:00 CST ou_a\n"},
		{"a boundary an override hides is no handoff", dbPrimary(t, hidden), "2026-12-26T00:00", 2,
			"2026-12-27 00:00 CST ou_a\n2027-01-05 00:00 CST ou_b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, fmtHandoffs(tc.s.Handoffs(at(tc.from), tc.n)))
		})
	}
}

func TestHandoffsUntil(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	at := func(s string) time.Time { return mustParse(t, s, sh) }
	s := dbPrimary(t)
	require.Equal(t, "2026-01-12 10:00 CST ou_b\n2026-01-19 10:00 CST ou_c\n",
		fmtHandoffs(s.HandoffsUntil(at("2026-01-05T10:00"), at("2026-01-19T10:00"))), "end included")
	require.Empty(t, s.HandoffsUntil(at("2026-01-05T10:00"), at("2026-01-12T09:59")))
}

func TestNewRefuses(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	r, err := NewRotation(time.Hour, "2026-01-05T10:00", sh, []string{"ou_a"})
	require.NoError(t, err)
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, sh)
	for _, tc := range []struct {
		name string
		spec Spec
		err  string
	}{
		{"no name", Spec{Location: sh, Rotation: r}, "a schedule needs a name"},
		{"no zone", Spec{Name: "x", Rotation: r}, `schedule "x": no time zone`},
		{"neither", Spec{Name: "x", Location: sh}, `schedule "x": needs a rotation or a calendar, not both`},
		{"both", Spec{Name: "x", Location: sh, Rotation: r, Calendar: &Calendar{}}, `schedule "x": needs a rotation or a calendar, not both`},
		{"override backwards", Spec{Name: "x", Location: sh, Rotation: r, Overrides: []Override{{Start: now, End: now, OpenID: "ou_a"}}}, `schedule "x": override 0 ends before it starts`},
		{"override to nobody", Spec{Name: "x", Location: sh, Rotation: r, Overrides: []Override{{Start: now, End: now.Add(time.Hour)}}}, `schedule "x": override 0 names nobody`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec)
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestSetRecipients(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	set, err := NewSet(dbPrimary(t))
	require.NoError(t, err)
	_, err = NewSet(dbPrimary(t), dbPrimary(t))
	require.EqualError(t, err, `schedule "db-primary" is defined twice`)

	weekTwo := mustParse(t, "2026-01-13T00:00", sh) // ou_b's turn
	for _, tc := range []struct {
		name     string
		set      *Set
		openIDs  []string
		schedule string
		want     []string
	}{
		{"open_ids only", set, []string{"ou_x", "ou_y"}, "", []string{"ou_x", "ou_y"}},
		{"schedule only", set, nil, "db-primary", []string{"ou_b"}},
		{"both, the on-call member last", set, []string{"ou_x"}, "db-primary", []string{"ou_x", "ou_b"}},
		{"no duplicates, order kept", set, []string{"ou_b", "ou_x", "ou_b"}, "db-primary", []string{"ou_b", "ou_x"}},
		{"unknown schedule adds nobody", set, []string{"ou_x"}, "nope", []string{"ou_x"}},
		{"nil set", nil, []string{"ou_x"}, "db-primary", []string{"ou_x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.set.Recipients(tc.openIDs, tc.schedule, weekTwo))
		})
	}
	// Before the rotation starts nobody is on call: an empty list, for the
	// caller to handle.
	require.Empty(t, set.Recipients(nil, "db-primary", mustParse(t, "2025-01-01T00:00", sh)))
	require.Equal(t, []string{"db-primary"}, []string{set.All()[0].Name()})
}
