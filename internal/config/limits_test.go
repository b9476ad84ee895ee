package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The webhook bounds (sources.max_in_flight, sources.<source>.max_alerts):
// defaults, and every problem named with its key and line.
func TestWebhookBounds(t *testing.T) {
	c, err := Load([]byte(minimal), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, 32, c.Sources.MaxInFlight)
	require.Equal(t, 1000, c.Sources.Alertmanager.MaxAlerts)
	require.Equal(t, 1000, c.Sources.Grafana.MaxAlerts)

	c, err = Load([]byte(minimal+"sources: {max_in_flight: 4, grafana: {max_alerts: 50}}\n"), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, 4, c.Sources.MaxInFlight)
	require.Equal(t, 1000, c.Sources.Alertmanager.MaxAlerts)
	require.Equal(t, 50, c.Sources.Grafana.MaxAlerts)

	for _, tc := range []struct {
		yaml string
		want string
	}{
		{"sources:\n  max_in_flight: -1\n", "sources.max_in_flight (line 10): must be at least 1"},
		{"sources:\n  alertmanager:\n    max_alerts: -5\n", "sources.alertmanager.max_alerts (line 11): must be at least 1"},
		{"sources:\n  grafana:\n    max_alerts: -1\n", "sources.grafana.max_alerts (line 11): must be at least 1"},
	} {
		_, err := Load([]byte(minimal+tc.yaml), t.TempDir())
		require.EqualError(t, err, tc.want)
	}
}
