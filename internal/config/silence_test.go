package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const silenceBase = `
mind: {app_id: robot_test, app_secret: s}
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
ack:
  secret: test-ack-secret-0123456789
`

// check-config warns when ack.silence is on while webhooks need no auth:
// anyone who can post one could put alerts on cards.
func TestSilenceWithoutWebhookAuthWarns(t *testing.T) {
	const warn = "ack.silence is on while webhooks need no auth"
	for _, tc := range []struct {
		name, yaml string
		want       bool
	}{
		{"no silence", "", false},
		{"silence, no auth", "  silence: {alertmanager_url: http://am:9093}\n", true},
		{"silence, one source without auth", "  silence: {alertmanager_url: http://am:9093}\nsources: {alertmanager: {bearer_token: t}}\n", true},
		{"silence, both sources authenticated", "  silence: {alertmanager_url: http://am:9093}\n" +
			"sources: {alertmanager: {bearer_token: t}, grafana: {basic_auth: {username: u, password: p}}}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(silenceBase+tc.yaml), t.TempDir())
			require.NoError(t, err)
			got := strings.Join(c.Warnings(), "\n")
			require.Equal(t, tc.want, strings.Contains(got, warn), got)
		})
	}
}

// The warning for a missing admin.token names everything it turns off, so
// a user who finds /-/reload or /ui/preview answering 404/403 knows why.
func TestAdminTokenWarningNamesWhatIsOff(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no token", "", []string{"admin.token is empty", "/api/v1/*", "/-/reload", "/ui/"}},
		{"token", "admin: {token: t}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(silenceBase+tc.yaml), t.TempDir())
			require.NoError(t, err)
			got := strings.Join(c.Warnings(), "\n")
			if tc.want == nil {
				require.NotContains(t, got, "admin.token")
				return
			}
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}

// allowed_urls are prefixes without credentials, query or fragment; the
// source's credentials are one kind or the other, and stay hidden.
func TestSilenceURLsAndCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, problem string
	}{
		{"allowed", "  silence: {allowed_urls: ['http://am:9093/', 'https://am-b']}\n", ""},
		{"user info", "  silence: {allowed_urls: ['http://u:secretpw@am:9093/']}\n", "ack.silence.allowed_urls[0]"},
		{"fragment", "  silence: {allowed_urls: ['http://am:9093/#']}\n", "ack.silence.allowed_urls[0]"},
		{"not http", "  silence: {allowed_urls: ['am:9093']}\n", "ack.silence.allowed_urls[0]"},
		{"both credentials", "  silence: {alertmanager_url: 'http://am', bearer_token: t, basic_auth: {username: u, password: p}}\n", "mutually exclusive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(silenceBase+tc.yaml), t.TempDir())
			if tc.problem == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.problem)
			require.NotContains(t, err.Error(), "secretpw")
		})
	}
	c, err := Load([]byte(silenceBase+"  silence: {alertmanager_url: 'http://am', basic_auth: {username: u, password: hunter2}, grafana_token: gt}\n"), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "hunter2", c.Ack.Silence.BasicAuth.Password.Value())
	require.NotContains(t, c.String(), "hunter2")
}
