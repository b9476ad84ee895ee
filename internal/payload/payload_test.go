package payload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
)

func shared(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	require.NoError(t, err)
	return b
}

func TestParseAlertmanagerCaptured(t *testing.T) {
	tests := []struct {
		file            string
		status          string
		alerts, firing  int
		groupKey, first string
	}{
		{"alertmanager/am-0.25-firing.json", "firing", 1, 1, `{}:{alertname="HighCPU"}`, "0716e50b618d405e"},
		{"alertmanager/am-0.25-resolved.json", "resolved", 1, 0, `{}:{alertname="HighCPU"}`, "0716e50b618d405e"},
		{"alertmanager/am-0.25-group-1.json", "firing", 3, 3, `{}:{alertname="KubePodCrashLooping"}`, "fb188447d791c9e6"},
		{"alertmanager/am-0.25-group-2.json", "firing", 3, 2, `{}:{alertname="KubePodCrashLooping"}`, "fb188447d791c9e6"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			g, skipped, err := ParseAlertmanager(shared(t, tc.file))
			require.NoError(t, err)
			require.Empty(t, skipped)
			require.Equal(t, alert.SourceAlertmanager, g.Source)
			require.Equal(t, tc.status, g.Status)
			require.Len(t, g.Alerts, tc.alerts)
			require.Len(t, g.Alerts.Firing(), tc.firing)
			require.Equal(t, tc.groupKey, g.GroupKey)
			require.Equal(t, tc.first, g.Alerts[0].Fingerprint)
			require.NotEmpty(t, g.CommonLabels["alertname"])
		})
	}
}

func TestParseGrafanaCaptured(t *testing.T) {
	g, skipped, err := ParseGrafana(shared(t, "grafana/docs-example-firing.json"))
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.Equal(t, alert.SourceGrafana, g.Source)
	require.Equal(t, "firing", g.Status)
	require.Len(t, g.Alerts, 2)
	require.Equal(t, "[FIRING:2]  (blue)", g.Title)
	require.Equal(t, int64(1), g.OrgID)
	require.Equal(t, "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1", g.Alerts[0].SilenceURL)
	require.InDelta(t, 44.239, g.Alerts[0].Values["B"], 0.001)
	require.Equal(t, "This alert was triggered for zone us-1", g.Alerts[0].Annotations["summary"])
	require.Equal(t, "https://play.grafana.org/", g.ExternalURL)

	g, _, err = ParseGrafana(shared(t, "grafana/alerting-default-firing.json"))
	require.NoError(t, err)
	require.Equal(t, "alertname", g.GroupKey)
	require.Nil(t, g.Alerts[0].Values)
	require.True(t, g.Alerts[0].StartsAt.IsZero(), "left for the renderer to handle")
}

func TestParseGrafanaLegacyIsNamed(t *testing.T) {
	_, _, err := ParseGrafana(shared(t, "grafana/legacy-dashboard-alert.json"))
	var pe *Error
	require.True(t, errors.As(err, &pe))
	require.Contains(t, err.Error(), "legacy")
	require.Contains(t, err.Error(), "ruleName/evalMatches")
}

func TestParseGrafanaAlertmanagerMode(t *testing.T) {
	g, _, err := ParseGrafana(shared(t, "alertmanager/am-0.25-group-1.json"))
	require.NoError(t, err)
	require.Equal(t, alert.SourceGrafana, g.Source)
	require.Len(t, g.Alerts, 3)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) (*alert.Group, []Skipped, error)
		body  string
		want  string
	}{
		{"am empty", ParseAlertmanager, "  ", "request body is empty"},
		{"am syntax", ParseAlertmanager, `{"version":"4",`, "malformed JSON"},
		{"am two values", ParseAlertmanager, `{"version":"4","alerts":[{"labels":{"a":"b"}}]} {}`, "more than one value"},
		{"am type", ParseAlertmanager, `{"version":4}`, `field "version"`},
		{"am no version", ParseAlertmanager, `{"alerts":[]}`, `payload has no "version"`},
		{"am bad version", ParseAlertmanager, `{"version":"1","alerts":[]}`, `payload version "1" is not supported`},
		{"am no alerts", ParseAlertmanager, `{"version":"4"}`, `payload has no "alerts"`},
		{"am all alerts bad", ParseAlertmanager, `{"version":"4","alerts":[{"status":"weird","labels":{"a":"b"}},{"status":"firing"}]}`,
			`no alert in the payload can be read: alerts[0]: status "weird" is not firing or resolved; alerts[1]: alert has no labels`},
		{"am given grafana", ParseAlertmanager, `{"version":"1","alerts":[{"labels":{"a":"b"}}]}`, `version "1" is Grafana's unified-alerting webhook: point the contact point at /webhook/grafana`},
		{"am given captured grafana", ParseAlertmanager, string(shared(t, "grafana/docs-example-firing.json")), "/webhook/grafana"},
		{"grafana bad version", ParseGrafana, `{"version":"2","alerts":[]}`, `payload version "2" is not supported`},
		{"grafana no alerts", ParseGrafana, `{"version":"1"}`, `payload has no "alerts"`},
		{"grafana empty alerts", ParseGrafana, `{"version":"1","alerts":[]}`, `"alerts" is empty`},
		{"grafana values type", ParseGrafana, `{"version":"1","alerts":[{"labels":{"a":"b"},"values":{"B":"x"}}]}`, "cannot be read"},
		{"not an object", ParseGrafana, `[1,2]`, "cannot be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.parse([]byte(tc.body))
			require.Error(t, err)
			var pe *Error
			require.True(t, errors.As(err, &pe), "a payload error (400), got %T", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOneBadAlertDoesNotBlockOthers(t *testing.T) {
	body := `{"version":"4","status":"firing","alerts":[
		{"status":"firing","labels":{"alertname":"A"}},
		{"status":"bogus","labels":{"alertname":"B"}},
		{"labels":{"alertname":"C"},"endsAt":"2001-01-01T00:00:00Z"},
		{"status":"firing","labels":{}}
	]}`
	g, skipped, err := ParseAlertmanager([]byte(body))
	require.NoError(t, err)
	require.Len(t, g.Alerts, 2)
	require.Equal(t, "firing", g.Alerts[0].Status)
	require.Equal(t, "resolved", g.Alerts[1].Status, "no status, ended in the past: resolved")
	require.Len(t, skipped, 2)
	require.Equal(t, 1, skipped[0].Index)
	require.True(t, strings.Contains(skipped[1].Reason, "no labels"))
	require.NotNil(t, g.CommonLabels)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"}}]}`))
	f.Add([]byte(`{"version":"1","alerts":[{"status":"firing","labels":{"a":"b"},"values":{"A":1}}]}`))
	f.Add([]byte(`{"ruleName":"x","evalMatches":[]}`))
	for _, b := range capturedPayloads(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte) (*alert.Group, []Skipped, error){ParseAlertmanager, ParseGrafana} {
			g, _, err := parse(b)
			if err == nil && (g == nil || len(g.Alerts) == 0) {
				t.Fatalf("no error but no alerts for %q", b)
			}
		}
	})
}

func BenchmarkParseAlertmanager(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alertmanager", "am-0.25-group-1.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseAlertmanager(body); err != nil {
			b.Fatal(err)
		}
	}
}
