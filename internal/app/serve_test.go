package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/testutil"
)

// writeConfig writes body as a config file in a fresh folder whose store
// lives beside it, and returns the file's path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.yml")
	require.NoError(t, os.WriteFile(path, []byte("listen: 127.0.0.1:0\nstore: {path: relay.db}\n"+body), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(`{{ define "bad.title" }}{{ .Nope `), 0o600))
	return path
}

const routeAndReceiver = `
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
`

// startServe runs Serve until it listens (it returns nil) or fails (it
// returns the error).
func startServe(t *testing.T, opts ServeOptions) (addr string, logs *testutil.SyncBuffer, reload chan struct{}, stop func() error) {
	t.Helper()
	logs = &testutil.SyncBuffer{}
	reload = make(chan struct{})
	ready := make(chan string, 1)
	opts.Logs, opts.Ready, opts.Reload = logs, ready, reload
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opts) }()
	select {
	case addr = <-ready:
		return addr, logs, reload, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		return "", logs, nil, func() error { return err }
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve neither listened nor failed")
		return "", nil, nil, nil
	}
}

// check-config and serve share one validation: what check-config refuses,
// serve refuses to start on, with the same words; what it passes, serve
// starts on. Dry run or not changes only whether the Mind app is needed.
func TestServeAndCheckConfigAgree(t *testing.T) {
	tests := []struct {
		name   string
		config string
		dryRun bool
		want   []string // the problems; nil: valid
	}{
		{"live with the app", "mind: {app_id: robot_x, app_secret: s3cr3t}" + routeAndReceiver, false, nil},
		{"dry run without the app", routeAndReceiver, true, nil},
		{"dry run with an empty app id", `mind: {app_id: ""}` + routeAndReceiver, true, nil},
		{"live without app_secret", "mind: {app_id: robot_x}" + routeAndReceiver, false,
			[]string{"mind.app_secret (line 3): is required"}},
		{"live without app_id", "mind: {app_secret: s3cr3t}" + routeAndReceiver, false,
			[]string{"mind.app_id (line 3): is required"}},
		{"live without either", routeAndReceiver, false,
			[]string{"mind.app_id: is required", "mind.app_secret: is required"}},
		{"dry run with a bad zone", "timezone: Mars/Olympus" + routeAndReceiver, true,
			[]string{`timezone (line 3): unknown time zone "Mars/Olympus"`}},
		{"missing template set", "mind: {app_id: robot_x, app_secret: s3cr3t}\nroute: {receiver: r}\nreceivers: [{name: r, open_ids: [ou_a], template: nope}]\n", false,
			[]string{`receivers[0].template (line 5): no template set "nope" (define "nope.title" in templates.files)`}},
		{"template set and zone at once", "timezone: Mars/Olympus\nroute: {receiver: r}\nreceivers: [{name: r, open_ids: [ou_a], template: nope}]\n", true,
			[]string{`timezone (line 3): unknown time zone "Mars/Olympus"`, `receivers[0].template (line 5): no template set "nope"`}},
		{"a template that does not parse", "templates: {files: [bad.tmpl]}" + routeAndReceiver, true,
			[]string{"templates.files (line 3): template file " + "BAD" + ": template: " + "BAD" + ":1: unclosed action"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			for i, w := range tc.want {
				tc.want[i] = strings.ReplaceAll(w, "BAD", filepath.Join(filepath.Dir(path), "bad.tmpl"))
			}
			var out bytes.Buffer
			checkErr := CheckConfig(path, tc.dryRun, &out)
			_, _, _, stop := startServe(t, ServeOptions{ConfigFile: path, DryRun: tc.dryRun, ShutdownTimeout: 5 * time.Second})
			serveErr := stop()
			if tc.want == nil {
				require.NoError(t, checkErr, out.String())
				require.Contains(t, out.String(), "SUCCESS")
				require.NoError(t, serveErr, "serve must start on what check-config passes")
				return
			}
			require.Error(t, checkErr)
			require.Error(t, serveErr, "serve must refuse what check-config refuses")
			require.Contains(t, out.String(), "FAILED")
			for _, w := range tc.want {
				require.Contains(t, out.String(), w)
				require.Contains(t, serveErr.Error(), w)
			}
			require.Equal(t, len(tc.want), strings.Count(out.String(), "\n  - "), out.String())
		})
	}
}

// postReload asks the relay at addr to reload, as an admin.
func postReload(t *testing.T, addr, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/-/reload", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// sighup delivers one reload signal and waits until its log line is out.
func sighup(t *testing.T, reload chan<- struct{}, logs *testutil.SyncBuffer) string {
	t.Helper()
	before := len(logs.String())
	reload <- struct{}{}
	require.Eventually(t, func() bool { return strings.Contains(logs.String()[before:], "config reload") }, 10*time.Second, 10*time.Millisecond)
	return logs.String()[before:]
}

// configFile renders a config from its top-level keys: base's, with
// over's replacing them.
func configFile(base, over map[string]string) string {
	keys := map[string]string{}
	for k, v := range base {
		keys[k] = v
	}
	for k, v := range over {
		keys[k] = v
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", k, keys[k])
	}
	return b.String()
}

// A reload says what it did: the keys the relay reads only at start are
// listed, in the HTTP answer and in the SIGHUP log, as not applied,
// restart needed; every other change goes live.
func TestReloadSaysWhatItDid(t *testing.T) {
	base := map[string]string{
		"listen":    "127.0.0.1:0",
		"store":     "{path: relay.db}",
		"mind":      "{app_id: robot_x, app_secret: s3cr3t}",
		"admin":     "{token: admin-token-1}",
		"route":     "{receiver: r}",
		"receivers": "[{name: r, open_ids: [ou_a]}]",
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{"nothing changed", nil, []string{}},
		{"live keys", map[string]string{"timezone": "Asia/Tokyo", "templates": "{max_alerts: 3}", "receivers": "[{name: r, open_ids: [ou_b]}]"}, []string{}},
		{"the defaults written out", map[string]string{"log_level": "info", "delivery": "{workers: 4}"}, []string{}},
		{"listen", map[string]string{"listen": "127.0.0.1:1"}, []string{"listen"}},
		{"log level", map[string]string{"log_level": "debug"}, []string{"log_level"}},
		{"delivery", map[string]string{"delivery": "{workers: 9, rate_limit: 3}"}, []string{"delivery.workers", "delivery.rate_limit"}},
		{"store", map[string]string{"store": "{path: other.db}"}, []string{"store.path"}},
		{"live and restart keys together", map[string]string{"timezone": "UTC", "delivery": "{max_age: 1h}"}, []string{"delivery.max_age"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.yml")
			require.NoError(t, os.WriteFile(path, []byte(configFile(base, nil)), 0o600))
			addr, logs, reload, stop := startServe(t, ServeOptions{ConfigFile: path, ShutdownTimeout: 5 * time.Second})
			require.NotEmpty(t, addr, logs.String())
			defer func() { require.NoError(t, stop()) }()
			require.NoError(t, os.WriteFile(path, []byte(configFile(base, tc.change)), 0o600))

			code, body := postReload(t, addr, "admin-token-1")
			require.Equal(t, http.StatusOK, code, body)
			require.Equal(t, "reloaded", body["status"])
			got := []string{}
			for _, k := range body["not_applied"].([]any) {
				got = append(got, k.(string))
			}
			require.Equal(t, tc.want, got)
			if len(tc.want) == 0 {
				require.NotContains(t, body, "note")
			} else {
				require.Equal(t, "not applied, restart needed: "+strings.Join(tc.want, ", "), body["note"])
			}

			// SIGHUP logs the same; a second reload still says it, since
			// the relay still runs with what it started with.
			out := sighup(t, reload, logs)
			if len(tc.want) == 0 {
				require.Contains(t, out, `"msg":"config reloaded"`)
				require.NotContains(t, out, "restart_needed")
			} else {
				want, err := json.Marshal(tc.want)
				require.NoError(t, err)
				require.Contains(t, out, `"msg":"config reloaded; some changes are not applied, restart needed"`)
				require.Contains(t, out, `"restart_needed":`+string(want))
			}
		})
	}
}

// A value of the wrong type under a secret key, or under a section that
// holds one, is never printed, not even its first characters: not by
// check-config, not in the reload answer, not in the logs.
func TestSecretsNeverEchoed(t *testing.T) {
	const secret = "Zq9xW7vK3-top-secret"
	const prefix = "Zq9x" // not even the first characters
	base := map[string]string{
		"listen":    "127.0.0.1:0",
		"store":     "{path: relay.db}",
		"mind":      "{app_id: robot_x, app_secret: s3cr3t}",
		"admin":     "{token: admin-token-1}",
		"route":     "{receiver: r}",
		"receivers": "[{name: r, open_ids: [ou_a]}]",
	}
	tests := []struct {
		name string
		over map[string]string
		key  string // the key the problem must name
	}{
		{"hmac as a string", map[string]string{"sources": `{grafana: {hmac: "` + secret + `"}}`}, "sources.grafana.hmac"},
		{"basic_auth as a string", map[string]string{"sources": `{alertmanager: {basic_auth: "u:` + secret + `"}}`}, "sources.alertmanager.basic_auth"},
		{"app_secret as a list", map[string]string{"mind": `{app_id: robot_x, app_secret: [` + secret + `]}`}, "mind.app_secret"},
		{"password as a mapping", map[string]string{"sources": `{grafana: {basic_auth: {username: u, password: {p: ` + secret + `}}}}`}, "sources.grafana.basic_auth.password"},
		{"ack secret as a list", map[string]string{"ack": `{secret: [` + secret + `]}`}, "ack.secret"},
		{"silence as a string", map[string]string{"ack": `{secret: 0123456789abcdef0, silence: "` + secret + `"}`}, "ack.silence"},
		{"admin as a string", map[string]string{"admin": `"` + secret + `"`}, "admin"},
		{"dsn as a number list", map[string]string{"store": `{path: relay.db, dsn: [` + secret + `]}`}, "store.dsn"},
		{"a secret as a misspelt key's value", map[string]string{"mind": `{app_id: robot_x, app_secrt: "` + secret + `"}`}, "mind.app_secrt"},
		{"password in a URL", map[string]string{"ack": `{secret: 0123456789abcdef0, silence: {alertmanager_url: "http://am:` + secret + `@a b:9093"}}`}, "ack.silence.alertmanager_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.yml")
			bad := configFile(base, tc.over)
			require.Contains(t, bad, secret)
			require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))

			for _, dryRun := range []bool{false, true} {
				var out bytes.Buffer
				require.Error(t, CheckConfig(path, dryRun, &out))
				require.Contains(t, out.String(), tc.key)
				require.NotContains(t, out.String(), prefix, "check-config")
			}
			_, logs, _, stop := startServe(t, ServeOptions{ConfigFile: path, ShutdownTimeout: 5 * time.Second})
			err := stop()
			require.Error(t, err)
			require.NotContains(t, err.Error(), prefix, "serve's error")
			require.NotContains(t, logs.String(), prefix, "serve's logs")

			// A relay running on a good file is asked to reload the bad one.
			require.NoError(t, os.WriteFile(path, []byte(configFile(base, nil)), 0o600))
			addr, logs, reload, stop := startServe(t, ServeOptions{ConfigFile: path, ShutdownTimeout: 5 * time.Second})
			require.NotEmpty(t, addr, logs.String())
			defer func() { require.NoError(t, stop()) }()
			require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
			code, body := postReload(t, addr, "admin-token-1")
			require.Equal(t, http.StatusBadRequest, code)
			answer, err := json.Marshal(body)
			require.NoError(t, err)
			require.Contains(t, string(answer), tc.key)
			require.NotContains(t, string(answer), prefix, "reload answer")
			out := sighup(t, reload, logs)
			require.Contains(t, out, "config reload failed")
			require.NotContains(t, logs.String(), prefix, "logs")
		})
	}
}
