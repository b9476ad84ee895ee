package silence

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
)

// A payload's externalURL is used only under a configured prefix, compared
// after normalisation; anything that could aim the relay elsewhere fails.
func TestPolicyAllowsOnlyConfiguredPrefixes(t *testing.T) {
	p := NewPolicy(&config.SilenceConfig{AllowedURLs: []string{
		"http://AM.internal:80/alertmanager/", "https://am-b.internal", "http://[::1]:9093/x",
	}})
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://am.internal/alertmanager", true},
		{"http://am.internal/alertmanager/", true},
		{"HTTP://AM.INTERNAL:80/alertmanager/sub", true},
		{"http://am.internal/alertmanager/./sub/../", true},
		{"http://am.internal/alertmanager-evil", false}, // a prefix of the string, not of the path
		{"http://am.internal/alertmanager/../admin", false},
		{"http://am.internal:8080/alertmanager", false},
		{"https://am.internal/alertmanager", false},
		{"https://am-b.internal:443/anything", true},
		{"https://am-b.internal.attacker.example/", false},
		{"https://user:pw@am-b.internal/", false},
		{"https://am-b.internal/?x=1", false},
		{"https://am-b.internal/#", false}, // a fragment would swallow the API path
		{"https://am-b.internal#/silences", false},
		{"ftp://am-b.internal/", false},
		{"//am-b.internal/", false},
		{"http://[::1]:9093/x/y", true},
		{"", false},
	} {
		require.Equal(t, tc.want, p.Allowed(tc.url), tc.url)
	}
}

func TestPolicyResolve(t *testing.T) {
	sc := &config.SilenceConfig{AlertmanagerURL: "http://am:9093", BearerToken: "am-secret",
		GrafanaURL: "https://grafana", GrafanaToken: "gt", AllowedURLs: []string{"http://ok:9093"}}
	for _, tc := range []struct {
		name     string
		sc       *config.SilenceConfig
		kind     string
		external string
		root     string
		auth     Auth
		why      string
	}{
		{"configured wins over the payload", sc, KindAlertmanager, "http://attacker", "http://am:9093", Auth{BearerToken: "am-secret"}, ""},
		{"grafana configured", sc, KindGrafana, "http://attacker", "https://grafana", Auth{BearerToken: "gt"}, ""},
		{"allowed, no credentials", &config.SilenceConfig{AllowedURLs: []string{"http://ok:9093"}}, KindAlertmanager, "http://ok:9093/", "http://ok:9093", Auth{}, ""},
		{"not allowed", &config.SilenceConfig{AllowedURLs: []string{"http://ok:9093"}}, KindAlertmanager, "http://attacker:9093", "", Auth{}, NotListed},
		{"nothing configured", &config.SilenceConfig{}, KindAlertmanager, "http://attacker:9093", "", Auth{}, NotListed},
		{"no URL at all", &config.SilenceConfig{}, KindAlertmanager, "", "", Auth{}, NoURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why, ok := NewPolicy(tc.sc).Resolve(tc.kind, tc.external)
			require.Equal(t, tc.why == "", ok)
			require.Equal(t, tc.why, why)
			require.Equal(t, tc.root, got.Root)
			require.Equal(t, tc.auth, got.Auth)
		})
	}
	// A root from an earlier Resolve is called again only while the config
	// still allows it.
	_, ok := NewPolicy(&config.SilenceConfig{}).Target(KindAlertmanager, "http://ok:9093")
	require.False(t, ok)
	tg, ok := NewPolicy(sc).Target(KindAlertmanager, "http://am:9093")
	require.True(t, ok)
	require.Equal(t, "am-secret", tg.Auth.BearerToken)
}

// Credentials never reach a card: a configured URL's user info is sent as
// basic auth and left out of links; configured auth keys are sent too.
func TestSourceLinksCarryNoUserinfo(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, _ := r.BasicAuth()
		got = append(got, u+":"+pw+"|"+r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{"silenceID":"s-1"}`))
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	for _, tc := range []struct {
		name string
		root string
		auth Auth
		want string
	}{
		{"user info", withUser, Auth{}, "alice:s3cret|Basic YWxpY2U6czNjcmV0"},
		{"basic_auth", srv.URL, Auth{Username: "bob", Password: "pw"}, "bob:pw|Basic Ym9iOnB3"},
		{"bearer_token", withUser, Auth{BearerToken: "tok"}, ":|Bearer tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			src, err := NewSource(KindAlertmanager, tc.root, tc.auth, srv.Client())
			require.NoError(t, err)
			_, err = src.PutSilence(context.Background(), Silence{})
			require.NoError(t, err)
			require.Equal(t, []string{tc.want}, got)
			link := src.SilenceLink("s-1")
			require.Equal(t, srv.URL+"/#/silences/s-1", link)
			require.NotContains(t, link, "s3cret")
			require.NotContains(t, link, "alice")
		})
	}
}
