package render

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/token"
)

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func buttons(c *card.Card) []card.Button {
	var out []card.Button
	for _, e := range c.Elements {
		out = append(out, e.Actions...)
	}
	return out
}

func ackButton(t *testing.T, c *card.Card) *card.Button {
	t.Helper()
	var found *card.Button
	for _, b := range buttons(c) {
		if b.Type == card.ButtonClick && b.Event == AckEvent {
			require.Nil(t, found, "one ack button")
			found = &b
		}
	}
	return found
}

func labelsOf(c *card.Card) []string {
	var out []string
	for _, b := range buttons(c) {
		out = append(out, b.Text.Content)
	}
	return out
}

// The ack button is a contract with the callback handler (interface.md).
func TestAckButtonContract(t *testing.T) {
	opts := testOptions()
	opts.TokenTTL = 2 * time.Hour
	r, _ := newRenderer(t, opts)
	g := groupFile(t, "am-0.25-group-1.json")
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}, GroupID: "g-1", NotificationID: "n-42"})
	require.NoError(t, err)

	b := ackButton(t, c)
	require.NotNil(t, b)
	require.Equal(t, b, &buttons(c)[0], "the ack button comes first")
	tok, _ := b.Value["token"].(string)
	got, err := json.Marshal(b)
	require.NoError(t, err)
	require.JSONEq(t, `{"tag":"button","type":"click","event":"relay.ack","text":{"content":"确认","tag":"plain_text"},"value":{"card_id":"$card_id","action":"ack","token":"`+tok+`"}}`, string(got))

	claims, err := token.Verify(ackSecret, tok, fixedNow)
	require.NoError(t, err)
	require.Equal(t, token.Claims{
		Version: token.Version, Action: token.ActionAck, GroupID: "g-1", NotificationID: "n-42", Receiver: "db-oncall",
		IssuedAt: fixedNow, ExpiresAt: fixedNow.Add(2 * time.Hour),
	}, claims)
	_, err = token.Verify(ackSecret, tok, fixedNow.Add(2*time.Hour))
	require.ErrorIs(t, err, token.ErrExpired)
}

func TestAckTokenDefaultGroupID(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-firing.json")
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}})
	require.NoError(t, err)
	claims, err := token.Verify(ackSecret, ackButton(t, c).Value["token"].(string), fixedNow)
	require.NoError(t, err)
	require.Equal(t, alert.GroupID(alert.SourceAlertmanager, g.GroupKey, "db-oncall"), claims.GroupID)
	require.Equal(t, fixedNow.Add(DefaultTokenTTL), claims.ExpiresAt)
}

func TestAckURLInTemplates(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.body" }}[网页确认]({{ .AckURL }}) {{ .RelayURL }}{{ end }}`)}
	r, _ := newRenderer(t, opts)
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{})
	require.NoError(t, err)
	tok := ackButton(t, c).Value["token"].(string)
	require.Equal(t, "[网页确认](https://relay.example.com/ack/"+tok+") https://relay.example.com", c.Elements[0].Content)
}

func TestNoAckButton(t *testing.T) {
	noSecret := testOptions()
	noSecret.AckSecret = nil
	for _, tc := range []struct {
		name string
		opts Options
		file string
		ack  *AckInfo
	}{
		{"acks off", noSecret, "am-0.25-firing.json", nil},
		{"resolved", testOptions(), "am-0.25-resolved.json", nil},
		{"already acknowledged", testOptions(), "am-0.25-firing.json", &AckInfo{By: "x", At: fixedNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRenderer(t, tc.opts)
			c, err := r.Render(groupFile(t, tc.file), Input{Ack: tc.ack})
			require.NoError(t, err)
			require.Nil(t, ackButton(t, c))
			require.NotContains(t, labelsOf(c), "网页确认")
			if tc.ack == nil {
				require.NotContains(t, mustJSON(t, c), "token")
			}
		})
	}
}

// An acknowledged, firing card offers to withdraw the ack instead: a click
// button whose token's action is "unack"; no ack page link.
func TestUnackButton(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{
		Receiver: &config.Receiver{Name: "db-oncall"}, GroupID: "g-1", NotificationID: "n-1",
		Ack: &AckInfo{By: "值班工程师", At: fixedNow},
	})
	require.NoError(t, err)
	b := buttons(c)[0]
	require.Equal(t, "取消确认", b.Text.Content)
	require.Equal(t, card.ButtonClick, b.Type)
	require.Equal(t, UnackEvent, b.Event)
	require.Equal(t, ActionUnack, b.Value["action"])
	claims, err := token.Verify(ackSecret, b.Value["token"].(string), fixedNow)
	require.NoError(t, err)
	require.Equal(t, ActionUnack, claims.Action)
	require.Equal(t, "g-1", claims.GroupID)
	require.NotContains(t, labelsOf(c), "网页确认")
}

// With external_url, a firing card links to the relay's ack page with the
// same token as its ack button; every card with acks on shows its short id.
func TestAckPageLinkAndShortID(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{GroupID: "0123456789abcdef"})
	require.NoError(t, err)
	tok := ackButton(t, c).Value["token"].(string)
	require.Equal(t, []string{"确认", "网页确认"}, labelsOf(c)[:2])
	require.Equal(t, "https://relay.example.com/ack/"+tok, buttons(c)[1].URL)
	require.Contains(t, c.Elements[0].Content, "编号 012345")
	require.Equal(t, "012345", ShortID("0123456789abcdef"))

	noURL := testOptions()
	noURL.ExternalURL = ""
	r, _ = newRenderer(t, noURL)
	c, err = r.Render(groupFile(t, "am-0.25-firing.json"), Input{})
	require.NoError(t, err)
	require.NotContains(t, labelsOf(c), "网页确认", "no external_url: no link")

	off := testOptions()
	off.AckSecret = nil
	r, _ = newRenderer(t, off)
	c, err = r.Render(groupFile(t, "am-0.25-firing.json"), Input{GroupID: "0123456789abcdef"})
	require.NoError(t, err)
	require.NotContains(t, c.Elements[0].Content, "编号", "acks off: no id to quote")
}

// A silence the ack could not make is said on the card.
func TestSilenceErrorShown(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{Ack: &AckInfo{By: "x", At: fixedNow, SilenceError: "Alertmanager 无法访问"}})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "未能静默：Alertmanager 无法访问")
}

func TestHeaderColours(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	for _, tc := range []struct {
		file   string
		ack    *AckInfo
		colour string
		prefix string
	}{
		{"am-0.25-firing.json", nil, card.ColorRed, "触发中"},
		{"am-0.25-group-2.json", nil, card.ColorRed, "触发中"},
		{"am-0.25-firing.json", &AckInfo{By: "值班工程师", At: fixedNow}, card.ColorOrange, "已确认 by 值班工程师"},
		{"am-0.25-resolved.json", nil, card.ColorGreen, "已恢复"},
		{"am-0.25-resolved.json", &AckInfo{By: "值班工程师", At: fixedNow}, card.ColorGreen, "已恢复"},
	} {
		c, err := r.Render(groupFile(t, tc.file), Input{Ack: tc.ack})
		require.NoError(t, err)
		require.Equal(t, tc.colour, c.Header.Template, tc.file)
		require.True(t, strings.HasPrefix(c.Header.Title.Content, tc.prefix), c.Header.Title.Content)
	}
}

// The sender's group status is not trusted: the card's words and colour
// follow the alerts.
func TestStatusFollowsAlerts(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-resolved.json")
	g.Status = alert.StatusFiring
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	require.Equal(t, card.ColorGreen, c.Header.Template)
	require.True(t, strings.HasPrefix(c.Header.Title.Content, "已恢复"))
}

func TestMixedGroupSections(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	c, err := r.Render(groupFile(t, "am-0.25-group-2.json"), Input{})
	require.NoError(t, err)
	body := c.Elements[0].Content
	firing := strings.Index(body, "**触发中 2 条**")
	resolved := strings.Index(body, "**已恢复 1 条**")
	require.Positive(t, firing)
	require.Greater(t, resolved, firing, "firing first")
	require.Greater(t, strings.Index(body, "api-0 is crash looping"), resolved, "the resolved alert under 已恢复")
	require.Contains(t, body, "恢复 2026-11-22 10:07:34 UTC+8（持续 2秒）")
	require.Equal(t, "触发中 · warning · KubePodCrashLooping (2)", c.Header.Title.Content)
}

func TestMaxAlerts(t *testing.T) {
	opts := testOptions()
	opts.MaxAlerts = 2
	r, _ := newRenderer(t, opts)
	g := groupFile(t, "am-0.25-group-1.json")

	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(c.Elements[0].Content, "is crash looping**"))
	require.Contains(t, c.Elements[0].Content, "还有 1 条告警未显示")

	c, err = r.Render(g, Input{Receiver: &config.Receiver{Name: "x", MaxAlerts: 3}})
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(c.Elements[0].Content, "is crash looping**"), "the receiver's max_alerts wins")
	require.NotContains(t, c.Elements[0].Content, "未显示")

	g.TruncatedAlerts = 4
	c, err = r.Render(g, Input{Receiver: &config.Receiver{Name: "x", MaxAlerts: 3}})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "还有 4 条告警未显示", "the sender's truncated alerts count")
}

func TestViewButtons(t *testing.T) {
	r, _ := newRenderer(t, testOptions())

	t.Run("only links a card may open", func(t *testing.T) {
		g := groupFile(t, "am-0.25-firing.json")
		g.ExternalURL = "alertmanager:9093" // no scheme
		g.Alerts[0].GeneratorURL = "javascript:alert(1)"
		g.CommonAnnotations["runbook_url"] = "/relative/runbook"
		c, err := r.Render(g, Input{})
		require.NoError(t, err)
		require.Equal(t, []string{"确认", "网页确认"}, labelsOf(c))
	})

	t.Run("grafana links, capped, in rows of three", func(t *testing.T) {
		g, ok := loadGrafana(t, filepath.Join(sharedTestdata, "grafana", "docs-example-firing.json"))
		require.True(t, ok)
		g.Alerts = g.Alerts[:1]
		g.Alerts[0].DashboardURL = "https://grafana.example.com/d/abc"
		g.Alerts[0].PanelURL = "https://grafana.example.com/d/abc?viewPanel=2"
		c, err := r.Render(g, Input{})
		require.NoError(t, err)
		require.Equal(t, []string{"确认", "网页确认", "告警规则", "处理手册", "仪表盘", "静默", "面板"}, labelsOf(c))
		require.Equal(t, []int{3, 3, 1}, rowSizes(c))
		require.Equal(t, "https://play.grafana.org/alerting/1afz29v7z/edit", buttons(c)[2].URL)

		g.Source = alert.SourceAlertmanager // now the Alertmanager link competes too
		c, err = r.Render(g, Input{})
		require.NoError(t, err)
		require.Len(t, buttons(c), maxButtons)
		require.NotContains(t, labelsOf(c), "面板", "the last kind drops first")
	})

	// A Grafana group of several rules: each alert's rule and silence
	// go with the alert, not the first alert's on a button for all.
	t.Run("grafana group of several rules", func(t *testing.T) {
		g, ok := loadGrafana(t, filepath.Join(sharedTestdata, "grafana", "docs-example-firing.json"))
		require.True(t, ok)
		c, err := r.Render(g, Input{})
		require.NoError(t, err)
		require.Equal(t, []string{"确认", "网页确认", "处理手册"}, labelsOf(c), "the runbook all alerts share stays a button")
		body := c.Elements[0].Content
		us1 := strings.Index(body, "zone us-1**")
		eu1 := strings.Index(body, "zone eu-1**")
		require.Positive(t, us1)
		require.Greater(t, eu1, us1)
		rule1 := strings.Index(body, "[告警规则](https://play.grafana.org/alerting/1afz29v7z/edit)")
		rule2 := strings.Index(body, "[告警规则](https://play.grafana.org/alerting/d1rdpdv7k/edit)")
		silence1 := strings.Index(body, "[静默](https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2")
		silence2 := strings.Index(body, "[静默](https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1")
		require.True(t, us1 < rule1 && rule1 < silence1 && silence1 < eu1, "the first alert's links under it")
		require.True(t, eu1 < rule2 && rule2 < silence2, "the second alert's links under it")

		// A user's label for a kind labels its per-alert links too, and
		// an empty one hides them.
		opts := testOptions()
		opts.Files = []string{writeTemplate(t, `{{ define "mind.button.source" }}Rule{{ end }}{{ define "mind.button.silence" }}{{ "" }}{{ end }}`)}
		r2, _ := newRenderer(t, opts)
		c, err = r2.Render(g, Input{})
		require.NoError(t, err)
		body = c.Elements[0].Content
		require.Contains(t, body, "[Rule](https://play.grafana.org/alerting/d1rdpdv7k/edit)")
		require.NotContains(t, body, "silence/new")
	})
}

func rowSizes(c *card.Card) []int {
	var out []int
	for _, e := range c.Elements {
		if e.Tag == card.TagAction {
			out = append(out, len(e.Actions))
		}
	}
	return out
}

func TestAlertmanagerURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"none", nil, "http://am:9093/#/alerts?receiver=team+%F0%9F%94%A5"},
		{"sorted, alertname first", map[string]string{"team": "db", "alertname": "HighCPU"},
			"http://am:9093/#/alerts?receiver=team+%F0%9F%94%A5&filter=%7Balertname%3D%22HighCPU%22%2Cteam%3D%22db%22%7D"},
		{"quotes escaped, empty skipped, UTF-8 name quoted", map[string]string{"a": `say "hi"\`, "b": "", "服务": "x"},
			`http://am:9093/#/alerts?receiver=team+%F0%9F%94%A5&filter=%7Ba%3D%22say+%5C%22hi%5C%22%5C%5C%22%2C%22%E6%9C%8D%E5%8A%A1%22%3D%22x%22%7D`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, alertmanagerURL("http://am:9093/", "team 🔥", tc.labels))
		})
	}
}

func TestTemplateSets(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `
{{ define "critical.title" }}【严重】{{ template "mind.title" . }}{{ end }}
{{ define "critical.button.ack" }}我来处理{{ end }}
{{ define "quiet.body" }}{{ len .Alerts }} 条告警{{ end }}
`)}
	r, _ := newRenderer(t, opts)
	for name, want := range map[string]bool{"": true, "default": true, "mind": true, "critical": true, "quiet": true, "nope": false, "critical.title": false} {
		require.Equal(t, want, r.HasTemplate(name), name)
	}

	g := groupFile(t, "am-0.25-firing.json")
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db", Template: "critical"}})
	require.NoError(t, err)
	require.Equal(t, "【严重】触发中 · critical · HighCPU (1)", c.Header.Title.Content)
	require.Contains(t, c.Elements[0].Content, "**CPU 高于 90%**", "the default body")
	require.Equal(t, "我来处理", ackButton(t, c).Text.Content)

	c, err = r.Render(g, Input{Receiver: &config.Receiver{Name: "db", Template: "quiet"}})
	require.NoError(t, err)
	require.Equal(t, "触发中 · critical · HighCPU (1)", c.Header.Title.Content, "the default title")
	require.Equal(t, "1 条告警", c.Elements[0].Content)
	require.Equal(t, "确认", ackButton(t, c).Text.Content)

	c, err = r.Render(g, Input{Receiver: &config.Receiver{Name: "db"}})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "**CPU 高于 90%**")
}

// Users' Alertmanager snippets work unchanged.
func TestAlertmanagerVocabulary(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.body" -}}
status={{ .Status }} receiver={{ .Receiver }} sender={{ .Group.Receiver }} url={{ .ExternalURL }}
firing={{ len .Alerts.Firing }} resolved={{ len .Alerts.Resolved }}
group={{ range .GroupLabels.SortedPairs }}{{ .Name }}:{{ .Value }} {{ end }}
rest={{ .CommonLabels.Remove .GroupLabels.Names }}
{{ range .Alerts.Firing }}{{ .Labels.pod }}@{{ .StartsAt | localtime | date "15:04" }} since={{ since .StartsAt | duration }} {{ end }}
{{ range .Shown }}{{ .Fingerprint }} {{ end }}omitted={{ .Omitted }}
now={{ now | fmtTime }} {{ "Hi" | toUpper }} {{ humanizeDuration 3600 }} {{ .Receiver | urlquery }}
{{- end }}`)}
	r, _ := newRenderer(t, opts)
	c, err := r.Render(groupFile(t, "am-0.25-group-2.json"), Input{Receiver: &config.Receiver{Name: "db oncall"}})
	require.NoError(t, err)
	require.Equal(t, strings.Join([]string{
		"status=firing receiver=db oncall sender=relay url=http://alertmanager.example.com:9093",
		"firing=2 resolved=1",
		"group=alertname:KubePodCrashLooping",
		"rest=namespace=payments, severity=warning, team=payments",
		"api-1@10:07 since=1小时4分 api-2@10:07 since=1小时4分",
		"3984ba60fe4077e1 f6b7d4a84fefd184 fb188447d791c9e6 omitted=0",
		"now=2026-11-22 11:12:00 UTC+8 HI 1h 0m 0s db+oncall",
	}, "\n"), c.Elements[0].Content)
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	require.NoError(t, writeFile(bad, `{{ define "mind.title" }}{{ .Status {{ end }}`))
	unknownFunc := filepath.Join(dir, "func.tmpl")
	require.NoError(t, writeFile(unknownFunc, `{{ define "mind.title" }}{{ nosuchfunc }}{{ end }}`))

	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"parse error names the file", []string{bad}, "template file " + bad + ":"},
		{"unknown function", []string{unknownFunc}, `function "nosuchfunc" not defined`},
		{"glob matching nothing", []string{filepath.Join(dir, "*.nothing")}, "no file matches"},
		{"bad glob", []string{"[x"}, "syntax error in pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Files = tc.files
			_, err := New(opts, prometheus.NewRegistry(), nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func writeFile(path, text string) error {
	return os.WriteFile(path, []byte(text), 0o644)
}

// A reload builds a second renderer on the same registry: it must not panic
// or fail, and both count into one series.
func TestNewTwiceOnOneRegistry(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.body" }}{{ index .Alerts 99 }}{{ end }}`)}
	reg := prometheus.NewRegistry()
	r1, err := New(opts, reg, nil)
	require.NoError(t, err)
	r2, err := New(opts, reg, nil)
	require.NoError(t, err)
	g := groupFile(t, "am-0.25-firing.json")
	for _, r := range []*Renderer{r1, r2} {
		_, err := r.Render(g, Input{})
		require.NoError(t, err)
	}
	require.Equal(t, 2.0, counterValue(t, reg))

	_, err = New(Options{}, nil, nil)
	require.NoError(t, err, "a nil registerer is allowed (tests, tools)")
}

func TestInvalidCardsFallBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		tmpl string
	}{
		{"title too long", `{{ define "mind.title" }}{{ printf "%0300d" 0 }}{{ end }}`},
		{"empty body", `{{ define "mind.body" }}{{ " " }}{{ end }}`},
		{"missing helper", `{{ define "mind.body" }}{{ template "mind.nope" . }}{{ end }}`},
		{"button label errors", `{{ define "mind.button.ack" }}{{ .Nope.Nope }}{{ end }}`},
		{"endless output", `{{ define "mind.body" }}{{ range .Alerts }}{{ range $.Alerts }}{{ printf "%0500d" 0 }}{{ end }}{{ end }}{{ end }}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Files = []string{writeTemplate(t, tc.tmpl)}
			r, reg := newRenderer(t, opts)
			c, err := r.Render(hugeGroup(30), Input{})
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			require.Contains(t, c.Elements[0].Content, "模板出错")
			require.Contains(t, c.Elements[0].Content, "还有 20 条告警未显示", "the fallback lists up to max_alerts")
			require.NotNil(t, ackButton(t, c))
			require.Equal(t, 1.0, counterValue(t, reg))
		})
	}
}

// The fallback itself stays within Mind's limits whatever the payload.
func TestFallbackBounded(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.title" }}{{ "" }}{{ end }}`)}
	r, _ := newRenderer(t, opts)
	g := hugeGroup(500)
	for i := range g.Alerts {
		g.Alerts[i].Labels["alertname"] = strings.Repeat("名", 5000)
		g.Alerts[i].Annotations["summary"] = strings.Repeat("<b>*", 5000)
	}
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "x", MaxAlerts: 500}, Ack: &AckInfo{By: strings.Repeat("人", 500), At: fixedNow}})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Contains(t, c.Elements[0].Content, "还有 480 条告警未显示")
}

func TestAckWithoutTime(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{Ack: &AckInfo{By: "值班工程师"}})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "**已由 值班工程师 确认**")
	require.NotContains(t, c.Elements[0].Content, "确认时间")
}

func TestRenderNilGroup(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	_, err := r.Render(nil, Input{})
	require.Error(t, err)
}

func TestEmptyGroupStillRenders(t *testing.T) {
	r, reg := newRenderer(t, testOptions())
	c, err := r.Render(&alert.Group{Source: alert.SourceAlertmanager, Status: alert.StatusFiring}, Input{})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, "触发中 · 告警 (0)", c.Header.Title.Content)
	require.Equal(t, "（无告警详情）\n<font color='#808080'>编号 "+ShortID(alert.GroupID(alert.SourceAlertmanager, (&alert.Group{}).Key(), ""))+"</font>", c.Elements[0].Content)
	require.Zero(t, counterValue(t, reg))
}

func TestLocation(t *testing.T) {
	opts := testOptions()
	opts.Location = time.UTC
	r, _ := newRenderer(t, opts)
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "开始 2026-11-22 02:06:24 UTC（")

	opts.Location = nil
	r, err = New(opts, nil, nil)
	require.NoError(t, err)
	require.Equal(t, time.Local, r.opts.Location)
}

func TestConcurrentRender(t *testing.T) {
	r, reg := newRenderer(t, testOptions())
	groups := []*alert.Group{
		groupFile(t, "am-0.25-firing.json"),
		groupFile(t, "am-0.25-group-2.json"),
		groupFile(t, "am-0.25-resolved.json"),
	}
	want := make([]string, len(groups))
	for i, g := range groups {
		c, err := r.Render(g, Input{})
		require.NoError(t, err)
		want[i] = mustJSON(t, c)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				k := (w + i) % len(groups)
				c, err := r.Render(groups[k], Input{})
				if err != nil || mustJSON(t, c) != want[k] {
					t.Errorf("concurrent render %d differs: %v", k, err)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, counterValue(t, reg))
}

func BenchmarkRender(b *testing.B) {
	reg := prometheus.NewRegistry()
	r, err := New(testOptions(), reg, nil)
	require.NoError(b, err)
	g := groupFile(b, "am-0.25-group-1.json")
	in := Input{Receiver: &config.Receiver{Name: "db-oncall"}, NotificationID: "n-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(g, in); err != nil {
			b.Fatal(err)
		}
	}
}

// A Grafana group of several rules: per-alert links in the body.
func BenchmarkRenderGrafanaRules(b *testing.B) {
	r, err := New(testOptions(), prometheus.NewRegistry(), nil)
	require.NoError(b, err)
	g, ok := loadGrafana(b, filepath.Join(sharedTestdata, "grafana", "docs-example-firing.json"))
	require.True(b, ok)
	in := Input{Receiver: &config.Receiver{Name: "db-oncall"}, NotificationID: "n-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(g, in); err != nil {
			b.Fatal(err)
		}
	}
}

// 500 alerts of long text: the card lists fewer until it fits.
func BenchmarkRenderHugeGroup(b *testing.B) {
	r, err := New(testOptions(), prometheus.NewRegistry(), nil)
	require.NoError(b, err)
	g := hugeGroup(500)
	in := Input{Receiver: &config.Receiver{Name: "all", MaxAlerts: 1000}, NotificationID: "n-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(g, in); err != nil {
			b.Fatal(err)
		}
	}
}
