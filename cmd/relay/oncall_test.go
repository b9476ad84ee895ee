package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const oncallConfig = `
mind: {app_id: robot_test}
route: {receiver: db}
receivers:
  - {name: db, schedule: db-primary}
  - {name: db-and-lead, open_ids: [ou_lead], schedule: db-primary}
schedules:
  - name: db-primary
    rotation: {every: 1w, start: "2026-01-05T10:00", members: [ou_a, ou_b, ou_c]}
    overrides:
      - {start: "2026-12-24T00:00", end: "2026-12-27T00:00", open_id: ou_d}
  - name: berlin
    time_zone: Europe/Berlin
    ical_file: cal/weekly.ics
`

func writeOncallConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ics, err := os.ReadFile("../../internal/schedule/testdata/weekly.ics")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cal"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cal", "weekly.ics"), ics, 0o600))
	path := filepath.Join(dir, "relay.yml")
	require.NoError(t, os.WriteFile(path, []byte(oncallConfig), 0o600))
	return path
}

func TestOncall(t *testing.T) {
	path := writeOncallConfig(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a wall clock is read in each schedule's zone", []string{"--at", "2026-12-23T12:00"}, `
schedule db-primary (Asia/Shanghai), receivers: db, db-and-lead
  on call at 2026-12-23 12:00 CST: ou_c
  next handoffs:
    2026-12-24 00:00 CST  in 12h      ou_d
    2026-12-27 00:00 CST  in 3d12h    ou_c
    2026-12-28 10:00 CST  in 4d22h    ou_a

schedule berlin (Europe/Berlin), receivers: none
  on call at 2026-12-23 12:00 CET: ou_a
  next handoffs:
    2026-12-28 09:00 CET  in 4d21h    nobody
    2027-01-04 09:00 CET  in 11d21h   ou_a
    2027-01-11 09:00 CET  in 18d21h   nobody
`},
		{"RFC 3339 is one instant for all", []string{"--at", "2026-03-30T07:00:00Z", "--handoffs", "2"}, `
schedule db-primary (Asia/Shanghai), receivers: db, db-and-lead
  on call at 2026-03-30 15:00 CST: ou_a
  next handoffs:
    2026-04-06 10:00 CST  in 6d19h    ou_b
    2026-04-13 10:00 CST  in 13d19h   ou_c

schedule berlin (Europe/Berlin), receivers: none
  on call at 2026-03-30 09:00 CEST: ou_b, ou_a
  next handoffs:
    2026-03-30 10:00 CEST  in 1h       ou_a
    2026-04-06 09:00 CEST  in 1w       nobody
`},
		{"one schedule, before its rotation starts", []string{"--schedule", "db-primary", "--at", "2026-01-01T00:00", "--handoffs", "1"}, `
schedule db-primary (Asia/Shanghai), receivers: db, db-and-lead
  on call at 2026-01-01 00:00 CST: nobody
  next handoffs:
    2026-01-05 10:00 CST  in 4d10h    ou_a
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", append([]string{"oncall", "--config", path}, tc.args...)...)
			require.Equal(t, 0, code, errs)
			require.Equal(t, strings.TrimPrefix(tc.want, "\n"), out)
		})
	}
}

func TestOncallFails(t *testing.T) {
	path := writeOncallConfig(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no config", nil, 2, "relay oncall: --config is required"},
		{"unknown schedule", []string{"--config", path, "--schedule", "web"}, 1, `relay: no schedule "web" in ` + path + " (schedules: db-primary, berlin)"},
		{"bad time", []string{"--config", path, "--at", "tomorrow"}, 1, `relay: --at: "tomorrow" is not a time: use "2006-01-02T15:04" (in the schedule's time zone) or RFC 3339`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCmd(t, "", append([]string{"oncall"}, tc.args...)...)
			require.Equal(t, tc.code, code)
			require.Contains(t, errs, tc.err)
		})
	}
	// Without --at: now.
	code, out, errs := runCmd(t, "", "oncall", "--config", path, "--schedule", "db-primary")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "schedule db-primary (Asia/Shanghai), receivers: db, db-and-lead\n  on call at ")
	require.Contains(t, out, "  next handoffs:\n")
	// A config without schedules says so.
	plain := filepath.Join(t.TempDir(), "plain.yml")
	require.NoError(t, os.WriteFile(plain, []byte("mind: {app_id: x}\nroute: {receiver: r}\nreceivers: [{name: r, open_ids: [ou_a]}]\n"), 0o600))
	code, out, _ = runCmd(t, "", "oncall", "--config", plain)
	require.Equal(t, 0, code)
	require.Equal(t, plain+" has no schedules\n", out)
}
