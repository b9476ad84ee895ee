package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every key of RestartKeys is a key of the config.
func TestRestartKeysExist(t *testing.T) {
	for _, k := range RestartKeys {
		_, ok := fieldByPath(reflect.ValueOf(Config{}), k)
		require.True(t, ok, "config.RestartKeys names %q, which the config does not have", k)
	}
	require.Equal(t, []string{"listen", "log_level", "delivery.*", "store.*"}, RestartKeysDoc())
}

func TestNotApplied(t *testing.T) {
	load := func(extra string) *Config {
		t.Helper()
		c, err := Load([]byte(minimal+extra), "/etc/relay")
		require.NoError(t, err)
		return c
	}
	started := load("store: {path: a.db}\n")
	tests := []struct {
		name, extra string
		want        []string
	}{
		{"same", "store: {path: a.db}\n", nil},
		{"same path written otherwise", "store: {path: /etc/relay/a.db}\n", nil},
		{"live keys only", "store: {path: a.db}\ntimezone: UTC\nadmin: {token: x}\n", nil},
		{"several", "store: {path: b.db}\nlisten: ':1'\nlog_level: warn\ndelivery: {burst: 3, min_backoff: 2s}\n",
			[]string{"listen", "log_level", "delivery.burst", "delivery.min_backoff", "store.path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, NotApplied(started, load(tc.extra)))
		})
	}
	// Only the key of a secret, never its value.
	a := &Config{Store: StoreConfig{Driver: "postgres", DSN: "postgres://u:old-pass@db/x"}}
	b := &Config{Store: StoreConfig{Driver: "postgres", DSN: "postgres://u:new-pass@db/x"}}
	got := NotApplied(a, b)
	require.Equal(t, []string{"store.dsn"}, got)
	require.NotContains(t, strings.Join(got, " "), "pass")
}
