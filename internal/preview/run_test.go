package preview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	mindrelay "github.com/mindoffice/mind-relay"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/testutil"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := mindrelay.Sample(name)
	require.NoError(t, err)
	return b
}

func TestRunRoutesAndRendersAsTheRelay(t *testing.T) {
	st := testState(t, testConfig)
	res, err := run(t, st, Input{Source: alert.SourceAlertmanager, Payload: sample(t, "alertmanager/am-0.25-firing.json")})
	require.NoError(t, err)
	// severity=critical: oncall (continue), then the root's default.
	require.Len(t, res.Routes, 1)
	require.Equal(t, "route.routes[0]", res.Routes[0].Matched[0].Route)
	require.Equal(t, []string{`severity="critical"`}, res.Routes[0].Matched[0].Matchers)
	require.Len(t, res.Cards, 1)
	c := res.Cards[0]
	require.Equal(t, "oncall", c.Receiver)
	require.Equal(t, "loud", c.Set)
	require.Equal(t, "/open-platform/api/robot/send/message", c.Endpoint)
	require.False(t, c.Fallback)
	require.Equal(t, "red", c.Drawing.Color)
	require.Equal(t, "【严重】触发中 · critical · HighCPU (1)", c.Drawing.Title)
	require.Contains(t, string(c.Drawing.HTML), ">我来处理</span>", "the set's ack label")
	var body struct {
		ReceiveOpenIDs []string `json:"receive_open_ids"`
		MsgType        string   `json:"msg_type"`
		Content        string   `json:"content"`
	}
	require.NoError(t, json.Unmarshal(c.Body, &body))
	require.Equal(t, []string{"ou_a", "ou_b"}, body.ReceiveOpenIDs)
	require.Equal(t, "interactive", body.MsgType)
	require.Contains(t, body.Content, `"template":"red"`)
}

func TestRunOptions(t *testing.T) {
	st := testState(t, testConfig)
	firing := sample(t, "alertmanager/am-0.25-firing.json")
	tests := []struct {
		name      string
		in        Input
		receiver  string
		color     string
		title     string
		fallback  bool
		errLine   int
		errColumn int
	}{
		{name: "receiver bypasses routing", in: Input{Receiver: "blue"}, receiver: "blue", color: "red", title: "触发中 · critical · HighCPU (1)"},
		{name: "template set for every receiver", in: Input{Receiver: "blue", Set: "loud"}, receiver: "blue", color: "red", title: "【严重】触发中 · critical · HighCPU (1)"},
		{name: "acknowledged is orange", in: Input{Receiver: "default", Acked: true, AckedBy: "李四"}, receiver: "default", color: "orange", title: "已确认 by 李四 · critical · HighCPU (1)"},
		{name: "edited title", in: Input{Receiver: "default", Templates: `{{ define "mind.title" }}测试 {{ .CommonLabels.team }}{{ end }}`},
			receiver: "default", color: "red", title: "测试 db"},
		{name: "edited set replaces the file's", in: Input{Templates: `{{ define "loud.title" }}换了{{ end }}`},
			receiver: "oncall", color: "red", title: "换了"},
		{name: "execution error: line and column, fallback", in: Input{Receiver: "default", Templates: "{{ define \"mind.title\" }}\n  x {{ .Nope.Deeper }}{{ end }}"},
			receiver: "default", color: "red", title: "触发中 · critical · HighCPU (1)", fallback: true, errLine: 2, errColumn: 13}, // Go points at the chain's last field
		{name: "invalid card: fallback", in: Input{Receiver: "default", Templates: `{{ define "mind.title" }}{{ " " }}{{ end }}`},
			receiver: "default", color: "red", title: "触发中 · critical · HighCPU (1)", fallback: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Source, tt.in.Payload = alert.SourceAlertmanager, firing
			res, err := run(t, st, tt.in)
			require.NoError(t, err)
			require.Nil(t, res.TemplateError)
			require.Len(t, res.Cards, 1)
			c := res.Cards[0]
			require.Equal(t, tt.receiver, c.Receiver)
			require.Equal(t, tt.color, c.Drawing.Color)
			require.Equal(t, tt.fallback, c.Fallback)
			if !tt.fallback {
				require.Equal(t, tt.title, c.Drawing.Title)
				require.Empty(t, c.Errors)
				return
			}
			require.NotEmpty(t, c.Errors)
			if tt.errLine > 0 {
				e := c.Errors[0]
				require.Equal(t, EditedName, e.File)
				require.Equal(t, tt.errLine, e.Line)
				require.Equal(t, tt.errColumn, column(e), e.Msg)
				require.Equal(t, "  x {{ .Nope.Deeper }}{{ end }}", e.Source)
			}
			var doc bytes.Buffer
			require.NoError(t, WriteDocument(&doc, res))
			require.Contains(t, doc.String(), "模板出错，会发送内置的备用卡片")
		})
	}
	// The live renderer never sees the edits.
	res, err := run(t, st, Input{Source: alert.SourceAlertmanager, Payload: firing, Receiver: "default"})
	require.NoError(t, err)
	require.Equal(t, "触发中 · critical · HighCPU (1)", res.Cards[0].Drawing.Title)
}

func TestRunParseErrorOfEditedText(t *testing.T) {
	st := testState(t, testConfig)
	res, err := run(t, st, Input{Source: alert.SourceAlertmanager, Payload: sample(t, "alertmanager/am-0.25-firing.json"),
		Receiver: "default", Templates: "{{ define \"mind.title\" }}\nok\n{{ if }}{{ end }}"})
	require.NoError(t, err)
	require.NotNil(t, res.TemplateError)
	require.Equal(t, EditedName, res.TemplateError.File)
	require.Equal(t, 3, res.TemplateError.Line)
	require.Equal(t, "{{ if }}{{ end }}", res.TemplateError.Source)
	require.Contains(t, res.TemplateError.Msg, "missing value for if")
	require.Len(t, res.Cards, 1, "drawn with the running templates")
	require.Equal(t, "触发中 · critical · HighCPU (1)", res.Cards[0].Drawing.Title)
}

func TestRunStops(t *testing.T) {
	st := testState(t, testConfig)
	firing := sample(t, "alertmanager/am-0.25-firing.json")
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"unknown receiver", Input{Source: alert.SourceAlertmanager, Payload: firing, Receiver: "nobody"}, `unknown receiver "nobody"`},
		{"unknown set", Input{Source: alert.SourceAlertmanager, Payload: firing, Set: "nope"}, `no template set "nope"`},
		{"malformed payload", Input{Source: alert.SourceAlertmanager, Payload: []byte("{oops")}, "malformed JSON"},
		{"unknown source", Input{Source: "zabbix", Payload: firing}, `unknown source "zabbix"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, st, tt.in)
			require.ErrorContains(t, err, tt.want)
			require.Contains(t, res.Error, tt.want)
			require.Empty(t, res.Cards)
		})
	}
}

// XSS attempts in a payload's labels and annotations and in edited
// template text: the whole page stays inert.
func TestPageIsInert(t *testing.T) {
	st := testState(t, testConfig)
	evil := `<script>alert(1)</script><img src=x onerror=alert(1)>"'><a href="javascript:alert(1)">x</a>`
	var p map[string]any
	require.NoError(t, json.Unmarshal(sample(t, "alertmanager/am-0.25-firing.json"), &p))
	a := p["alerts"].([]any)[0].(map[string]any)
	a["labels"].(map[string]any)["instance"] = evil
	a["labels"].(map[string]any)["severity"] = evil
	a["annotations"].(map[string]any)["summary"] = evil
	a["annotations"].(map[string]any)["description"] = "[点我](javascript:alert(1)) " + evil
	a["annotations"].(map[string]any)["runbook_url"] = "javascript:alert(1)"
	a["generatorURL"] = "javascript:alert(1)"
	p["commonLabels"] = map[string]any{"alertname": evil}
	payload, err := json.Marshal(p)
	require.NoError(t, err)

	templates := []string{
		// Raw HTML and links straight from the template, past mdEscape.
		`{{ define "mind.body" }}<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) <font color='red" onmouseover="alert(1)'>x</font> {{ .CommonLabels.alertname }}{{ end }}` +
			`{{ define "mind.title" }}<script>alert(1)</script>{{ end }}{{ define "mind.button.alertmanager" }}<img src=x onerror=alert(1)>{{ end }}`,
		// A template that fails, with script in its text: the error and the
		// source line are shown.
		"{{ define \"mind.title\" }}\n<script>alert(1)</script>{{ .Nope.X }}{{ end }}",
		// One that does not parse.
		"<script>alert(1)</script>{{ if }}",
	}
	for i, tpl := range templates {
		in := Input{Source: alert.SourceAlertmanager, Payload: payload, Templates: tpl}
		res, err := run(t, st, in)
		require.NoError(t, err, "template %d", i)
		require.NotEmpty(t, res.Cards)
		page := NewPage(st, Form{Payload: string(payload), Templates: tpl})
		page.Result = res
		var buf bytes.Buffer
		require.NoError(t, WritePage(&buf, page))
		testutil.RequireInertHTML(t, buf.String())
		require.Contains(t, buf.String(), "&lt;script&gt;alert(1)&lt;/script&gt;", "shown as text")
		buf.Reset()
		require.NoError(t, WriteDocument(&buf, res))
		testutil.RequireInertHTML(t, buf.String())
	}
}

func TestFormInput(t *testing.T) {
	in, err := Form{Sample: "grafana/docs-example-firing.json", Source: "alertmanager"}.Input()
	require.NoError(t, err)
	require.Equal(t, alert.SourceGrafana, in.Source, "a sample's folder names its source")
	require.True(t, bytes.HasPrefix(bytes.TrimSpace(in.Payload), []byte("{")))

	in, err = Form{Payload: "{}", Source: "grafana", Sample: "alertmanager/am-0.25-firing.json"}.Input()
	require.NoError(t, err)
	require.Equal(t, alert.SourceGrafana, in.Source, "pasted: the form's source")
	require.Equal(t, "{}", string(in.Payload), "pasted wins over the sample")

	in, err = Form{Payload: " \n ", Source: "grafana", Sample: "alertmanager/am-0.25-firing.json"}.Input()
	require.NoError(t, err)
	require.Equal(t, alert.SourceAlertmanager, in.Source, "blank: the sample")

	_, err = Form{Sample: "../../etc/passwd"}.Input()
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "sample"))
}

func TestColumn(t *testing.T) {
	tests := []struct {
		name string
		te   TemplateError
		want int
	}{
		{"ascii", TemplateError{Line: 2, Column: 4, Source: "  x {{ .A }}"}, 5},
		{"characters, not bytes", TemplateError{Line: 2, Column: 9, Source: "  标题 {{ .A }}"}, 6},
		{"at the start", TemplateError{Line: 1, Column: 0, Source: "{{ .A }}"}, 1},
		{"line not known: no column", TemplateError{File: "/etc/relay/a.tmpl", Line: 2, Column: 17}, 0},
		{"no location", TemplateError{Msg: "header.title.content is empty"}, 0},
		{"offset past the line", TemplateError{Line: 1, Column: 40, Source: "short"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, column(tt.te))
		})
	}
}
