package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "", "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "mind-relay dev (commit unknown, go1.")
}

// Without -ldflags, the commit is what Go stamped into a plain go build
// of a git checkout.
func TestVersionLine(t *testing.T) {
	const rev = "06f75433622af26e368e2a0542f34cbd4cc1d020"
	vcs := func(modified string, main string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: main}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified},
		}}
	}
	tail := fmt.Sprintf(", %s %s/%s)", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	tests := []struct {
		name            string
		version, commit string
		info            *debug.BuildInfo
		want            string
	}{
		{"no build info", "dev", "unknown", nil, "mind-relay dev (commit unknown"},
		{"no vcs stamp (-buildvcs=false)", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "mind-relay dev (commit unknown"},
		{"plain go build, clean", "dev", "unknown", vcs("false", "(devel)"), "mind-relay dev (commit 06f75433622a"},
		{"plain go build, modified", "dev", "unknown", vcs("true", "v0.0.0-20261201233553-06f75433622a+dirty"), "mind-relay dev (commit 06f75433622a-dirty"},
		{"go install of a tag", "dev", "unknown", vcs("false", "v1.2.3"), "mind-relay v1.2.3 (commit 06f75433622a"},
		{"stamped with ldflags", "v1.4.0", "abc1234", vcs("true", "(devel)"), "mind-relay v1.4.0 (commit abc1234"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want+tail, versionLine(tc.version, tc.commit, tc.info))
		})
	}
}

func TestUsage(t *testing.T) {
	code, _, errs := runCmd(t, "")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "relay serve --config FILE")
	code, _, errs = runCmd(t, "", "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `unknown command "frobnicate"`)
	code, _, errs = runCmd(t, "", "check-config")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "--config is required")
}

func TestCheckConfig(t *testing.T) {
	for _, v := range []string{"MIND_APP_SECRET", "RELAY_ACK_SECRET", "AM_TOKEN", "RELAY_ADMIN_TOKEN"} {
		t.Setenv(v, "")
	}
	// Without the app secret the example is good for a dry run only.
	code, out, _ := runCmd(t, "", "check-config", "--config", "../../config.example.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "mind.app_secret (line 20): is required")
	code, out, _ = runCmd(t, "", "check-config", "--dry-run", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "SUCCESS: ../../config.example.yaml is valid for serve --dry-run (3 receivers); the Mind app was not checked")
	require.NotContains(t, out, "app_secret")
	t.Setenv("MIND_APP_SECRET", "example-secret")
	code, out, _ = runCmd(t, "", "check-config", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "SUCCESS")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`
mind: {app_id: ""}
route: {receiver: nobody}
receivers: [{name: r, open_ids: []}]
delivery: {max_age: soon}
`), 0o600))
	code, out, _ = runCmd(t, "", "check-config", "--config", bad)
	require.Equal(t, 1, code)
	require.Contains(t, out, `"soon" is not a duration`)

	require.NoError(t, os.WriteFile(bad, []byte(`
mind: {app_id: ""}
route: {receiver: nobody}
receivers: [{name: r, open_ids: []}]
`), 0o600))
	code, out, _ = runCmd(t, "", "check-config", "--config", bad)
	require.Equal(t, 1, code)
	for _, want := range []string{
		"FAILED",
		"mind.app_id (line 2): is required",
		`route.receiver (line 3): receiver "nobody" is not defined in receivers`,
		"receivers[0].open_ids (line 4): is empty",
	} {
		require.Contains(t, out, want)
	}
}

func TestRender(t *testing.T) {
	payload, err := os.ReadFile("../../testdata/alertmanager/am-0.25-group-1.json")
	require.NoError(t, err)
	code, out, errs := runCmd(t, string(payload), "render", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1, "team=payments, severity=warning: the root receiver")
	var line struct {
		Receiver string `json:"receiver"`
		Endpoint string `json:"endpoint"`
		Body     struct {
			ReceiveOpenIDs []string `json:"receive_open_ids"`
			MsgType        string   `json:"msg_type"`
			Content        string   `json:"content"`
		} `json:"body"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
	require.Equal(t, "default", line.Receiver)
	require.Equal(t, "/open-platform/api/robot/send/message", line.Endpoint)
	require.Equal(t, []string{"ou_aaa", "ou_bbb"}, line.Body.ReceiveOpenIDs)
	require.Equal(t, "interactive", line.Body.MsgType)
	require.Contains(t, line.Body.Content, "触发中")

	code, out, _ = runCmd(t, string(payload), "render", "--config", "../../config.example.yaml", "--receiver", "everyone")
	require.Equal(t, 0, code)
	require.Contains(t, out, `"endpoint":"/open-platform/api/open-apis/send_message"`)

	code, _, errs = runCmd(t, "{oops", "render", "--config", "../../config.example.yaml")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "malformed JSON")

	grafana, err := os.ReadFile("../../testdata/grafana/docs-example-firing.json")
	require.NoError(t, err)
	code, out, errs = runCmd(t, string(grafana), "render", "--config", "../../config.example.yaml", "--source", "grafana")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "High memory usage")
}

func TestRenderHTML(t *testing.T) {
	payload, err := os.ReadFile("../../testdata/alertmanager/am-0.25-resolved.json")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "cards.html")
	code, out, errs := runCmd(t, string(payload), "render", "--config", "../../config.example.yaml", "--html", file)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"receiver":"db-oncall"`, "the JSON lines still go to stdout")
	doc, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(doc), `<article class="mind-card" data-header-template="green">`)
	require.Contains(t, string(doc), `<h3 class="mc-title">已恢复 · `)

	// A template that fails: the fallback card is drawn, and stderr says so.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(`{{ define "mind.title" }}
{{ .Nope }}{{ end }}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(`
mind: {app_id: robot_test}
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
templates: {files: ["*.tmpl"]}
`), 0o600))
	code, _, errs = runCmd(t, string(payload), "render", "--config", filepath.Join(dir, "relay.yaml"), "--html", file)
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "receiver r: the fallback card would be sent: ")
	require.Contains(t, errs, "bad.tmpl:2:3: executing \"mind.title\"")
	doc, err = os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(doc), "模板出错，会发送内置的备用卡片")

	// A payload the relay refuses writes no file and fails.
	missing := filepath.Join(t.TempDir(), "none.html")
	code, _, errs = runCmd(t, "{oops", "render", "--config", "../../config.example.yaml", "--html", missing)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "malformed JSON")
	require.NoFileExists(t, missing)
}

func TestDLQReplayMustSayWhat(t *testing.T) {
	for _, v := range []string{"MIND_APP_SECRET", "RELAY_ACK_SECRET", "AM_TOKEN", "RELAY_ADMIN_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("RELAY_STORE_PATH", filepath.Join(t.TempDir(), "relay.db"))
	code, _, errs := runCmd(t, "", "dlq", "replay", "--config", "../../config.example.yaml")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "name the IDs to replay, or --all")
	code, _, errs = runCmd(t, "", "dlq", "replay", "x", "--all", "--config", "../../config.example.yaml")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "not both")
	code, out, errs := runCmd(t, "", "dlq", "replay", "nope", "--config", "../../config.example.yaml")
	require.Equal(t, 1, code, "an unknown ID fails")
	require.Contains(t, errs, "relay: not replayed: nope (no such notification)")
	require.NotContains(t, out, "replayed 0")
	code, out, errs = runCmd(t, "", "dlq", "replay", "--all", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "replayed 0 dead letters")
	code, out, _ = runCmd(t, "", "dlq", "list", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code)
	require.Contains(t, out, "no dead letters")
}

// SIGHUP asks for a reload until serve stops; then the handler is stopped
// (signal.Stop), so that no signal is delivered to a channel nobody reads.
func TestWatchReloadStops(t *testing.T) {
	// guard keeps SIGHUP from ending the test process once the watch is
	// stopped, and says when the second signal has been delivered.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	hup := make(chan os.Signal, 1)
	reload, stop := watchReload(hup)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	select {
	case <-reload:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not ask for a reload")
	}
	<-guard

	stop()
	stop() // twice is harmless
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	select {
	case <-guard:
	case <-time.After(10 * time.Second):
		t.Fatal("the second SIGHUP never came")
	}
	// The signal package delivers to every registered channel in one pass:
	// by the time guard has it, a channel still registered would too.
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, hup, "SIGHUP still delivered after stop")
}
