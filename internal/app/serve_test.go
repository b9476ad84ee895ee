package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	return path
}

const routeAndReceiver = `
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
`

// startServe runs Serve until it listens (it returns nil) or fails (it
// returns the error).
func startServe(t *testing.T, opts ServeOptions) (logs *testutil.SyncBuffer, reload chan struct{}, stop func() error) {
	t.Helper()
	logs = &testutil.SyncBuffer{}
	reload = make(chan struct{})
	ready := make(chan string, 1)
	opts.Logs, opts.Ready, opts.Reload = logs, ready, reload
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opts) }()
	select {
	case <-ready:
		return logs, reload, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		return logs, nil, func() error { return err }
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve neither listened nor failed")
		return nil, nil, nil
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
			[]string{`receivers[0].template: no template set "nope"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			var out bytes.Buffer
			checkErr := CheckConfig(path, tc.dryRun, &out)
			_, _, stop := startServe(t, ServeOptions{ConfigFile: path, DryRun: tc.dryRun, ShutdownTimeout: 5 * time.Second})
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
