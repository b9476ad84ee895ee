package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	require.Contains(t, out, "SUCCESS")
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
	code, out, errs := runCmd(t, "", "dlq", "replay", "--all", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "replayed 0 dead letters")
	code, out, _ = runCmd(t, "", "dlq", "list", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code)
	require.Contains(t, out, "no dead letters")
}
