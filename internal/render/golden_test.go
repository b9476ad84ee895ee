package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden cards under testdata/")

// sharedTestdata holds the captured payloads every package of the project uses (testdata/ at the repository root).
const sharedTestdata = "../../testdata"

var (
	shanghai  = mustLoc("Asia/Shanghai")
	fixedNow  = time.Date(2026, 11, 22, 3, 12, 0, 0, time.UTC)
	ackSecret = []byte("test-ack-secret-0123456789abcdef")
)

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func testOptions() Options {
	return Options{
		Location:    shanghai,
		ExternalURL: "https://relay.example.com/",
		AckSecret:   ackSecret,
		Now:         func() time.Time { return fixedNow },
	}
}

func newRenderer(t testing.TB, opts Options) (*Renderer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := New(opts, reg, nil)
	require.NoError(t, err)
	return r, reg
}

// loadAlertmanager reads an Alertmanager webhook payload as ingest does.
func loadAlertmanager(t testing.TB, path string) *alert.Group {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m webhook.Message
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotNil(t, m.Data, path)
	g := alert.FromTemplateData(alert.SourceAlertmanager, m.Data, m.GroupKey, m.TruncatedAlerts)
	g.Received(fixedNow)
	return g
}

// loadGrafana reads a Grafana unified-alerting payload (version "1") with
// its extra alert fields; ok is false for other payloads (legacy alerts).
func loadGrafana(t testing.TB, path string) (g *alert.Group, ok bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var head struct {
		Version string `json:"version"`
	}
	require.NoError(t, json.Unmarshal(b, &head))
	if head.Version != "1" {
		return nil, false
	}
	g = new(alert.Group)
	require.NoError(t, json.Unmarshal(b, g))
	g.Source = alert.SourceGrafana
	g.Received(fixedNow)
	return g, true
}

// golden compares c, pretty-printed, with testdata/<name>.golden.json, or
// rewrites that file under -update.
func golden(t *testing.T, name string, c *card.Card) {
	t.Helper()
	require.NoError(t, c.Validate())
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(c))

	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/render -update to create it")
	require.Equal(t, string(want), buf.String(), "golden %s differs; if the change is intended, run with -update and review the diff", path)
}

func caseName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".json")
}

func TestGoldenPayloads(t *testing.T) {
	r, reg := newRenderer(t, testOptions())
	rcv := &config.Receiver{Name: "db-oncall"}

	amFiles, err := filepath.Glob(filepath.Join(sharedTestdata, "alertmanager", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, amFiles, "testdata/ not found")
	for _, path := range amFiles {
		t.Run("alertmanager/"+caseName(path), func(t *testing.T) {
			g := loadAlertmanager(t, path)
			c, err := r.Render(g, Input{Receiver: rcv, NotificationID: "n-1"})
			require.NoError(t, err)
			golden(t, "alertmanager-"+caseName(path), c)
		})
	}

	gfFiles, err := filepath.Glob(filepath.Join(sharedTestdata, "grafana", "*.json"))
	require.NoError(t, err)
	seen := 0
	for _, path := range gfFiles {
		t.Run("grafana/"+caseName(path), func(t *testing.T) {
			g, ok := loadGrafana(t, path)
			if !ok {
				t.Skip("not a unified-alerting payload")
			}
			seen++
			c, err := r.Render(g, Input{Receiver: rcv, NotificationID: "n-1"})
			require.NoError(t, err)
			golden(t, "grafana-"+caseName(path), c)
		})
	}
	require.NotZero(t, seen)
	require.Zero(t, counterValue(t, reg), "no real payload may need the fallback")
}

func counterValue(t testing.TB, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "mind_relay_template_errors_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("mind_relay_template_errors_total not registered")
	return 0
}

func groupFile(t testing.TB, name string) *alert.Group {
	return loadAlertmanager(t, filepath.Join(sharedTestdata, "alertmanager", name))
}

func TestGoldenAckedFiring(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-group-1.json")
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}, Ack: &AckInfo{
		By:            "值班工程师",
		ByOpenID:      "ou_ccc",
		At:            time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC),
		SilencedUntil: time.Date(2026, 11, 22, 4, 30, 0, 0, time.UTC),
		SilenceURL:    "http://alertmanager.example.com:9093/#/silences/7f3c",
	}})
	require.NoError(t, err)
	require.Equal(t, card.ColorOrange, c.Header.Template)
	require.True(t, strings.HasPrefix(c.Header.Title.Content, "已确认 by 值班工程师"), c.Header.Title.Content)
	require.NotContains(t, mustJSON(t, c), AckEvent, "an acknowledged card offers no second ack")
	require.Contains(t, c.Elements[0].Content, "值班工程师")
	require.Contains(t, c.Elements[0].Content, "2026-11-22 10:30:00 UTC+8")
	require.Contains(t, c.Elements[0].Content, "静默至 2026-11-22 12:30:00 UTC+8")
	golden(t, "acked-firing", c)
}

func TestGoldenResolvedWithAck(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-resolved.json")
	g.Alerts[0].EndsAt = time.Date(2026, 11, 22, 3, 11, 27, 0, time.UTC)
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}, Ack: &AckInfo{
		ByOpenID: "ou_ccc", // no nickname known: the open_id stands in
		At:       time.Date(2026, 11, 22, 2, 20, 0, 0, time.UTC),
	}})
	require.NoError(t, err)
	require.Equal(t, card.ColorGreen, c.Header.Template)
	require.True(t, strings.HasPrefix(c.Header.Title.Content, "已恢复"))
	body := c.Elements[0].Content
	require.Contains(t, body, "ou\\_ccc")
	require.Contains(t, body, "触发后 13分35秒", "time to ack")
	require.Contains(t, body, "告警共持续 1小时5分", "how long it fired")
	golden(t, "resolved-with-ack", c)
}

func TestGoldenNastyLabels(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-firing.json")
	nasty := "a \"quoted\" \\back\\slash\nnew line </font><font color='red'>x</font> <at user_id='all'>所有人</at> **bold** [link](javascript:alert(1)) 表情😀 \u202e"
	g.Alerts[0].Labels["instance"] = nasty
	g.Alerts[0].Annotations["summary"] = "# heading\n- list\n" + nasty
	g.Alerts[0].Annotations["description"] = nasty
	delete(g.CommonLabels, "instance")
	c, err := r.Render(g, Input{})
	require.NoError(t, err)

	s, err := c.JSON()
	require.NoError(t, err)
	require.True(t, json.Valid([]byte(s)))
	body := c.Elements[0].Content
	require.Equal(t, strings.Count(body, "<font"), strings.Count(body, "</font>"), "user text opens or closes no tag")
	require.NotContains(t, body, "<at")
	require.Contains(t, body, "＜/font＞")
	require.Contains(t, body, `\*\*bold\*\*`)
	require.Contains(t, body, `\[link\]`)
	require.Contains(t, body, "\\# heading")
	require.Contains(t, body, "表情😀")
	golden(t, "nasty-labels", c)
}

func mustJSON(t testing.TB, c *card.Card) string {
	t.Helper()
	s, err := c.JSON()
	require.NoError(t, err)
	return s
}

// hugeGroup is n firing alerts, each with many long labels.
func hugeGroup(n int) *alert.Group {
	g := &alert.Group{
		Source:       alert.SourceAlertmanager,
		Receiver:     "relay",
		Status:       alert.StatusFiring,
		GroupLabels:  map[string]string{"alertname": "DiskFull"},
		CommonLabels: map[string]string{"alertname": "DiskFull", "severity": "critical"},
		ExternalURL:  "http://alertmanager.example.com:9093",
		GroupKey:     `{}:{alertname="DiskFull"}`,
	}
	long := strings.Repeat("很长的标签值-long-label-value-", 20)
	for i := range n {
		a := alert.Alert{}
		a.Status = alert.StatusFiring
		a.Labels = map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": fmt.Sprintf("node-%03d:9100", i)}
		for j := range 20 {
			a.Labels[fmt.Sprintf("label_%02d", j)] = long
		}
		a.Annotations = map[string]string{
			"summary":     fmt.Sprintf("node-%03d 磁盘将满 %s", i, long),
			"description": strings.Repeat("磁盘使用率超过 95%。", 100),
		}
		a.StartsAt = fixedNow.Add(-time.Duration(i) * time.Minute)
		a.GeneratorURL = "http://prometheus:9090/graph?g0.expr=disk"
		g.Alerts = append(g.Alerts, a)
	}
	return g
}

func TestGoldenHugeGroup(t *testing.T) {
	r, reg := newRenderer(t, testOptions())
	g := hugeGroup(500)
	g.TruncatedAlerts = 7
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	require.LessOrEqual(t, len(mustJSON(t, c)), card.MaxCardBytes)
	body := c.Elements[0].Content
	shown := strings.Count(body, "**node-")
	require.Positive(t, shown)
	require.LessOrEqual(t, shown, DefaultMaxAlerts)
	require.Contains(t, body, fmt.Sprintf("还有 %d 条告警未显示", 507-shown), "the rest, and the 7 the sender truncated")
	require.Equal(t, "触发中 · critical · DiskFull (500)", c.Header.Title.Content)
	require.Zero(t, counterValue(t, reg))
	golden(t, "huge-group", c)
}

// A receiver that asks for every alert gets as many as fit, not a fallback.
func TestHugeGroupShrinksToFit(t *testing.T) {
	r, reg := newRenderer(t, testOptions())
	c, err := r.Render(hugeGroup(500), Input{Receiver: &config.Receiver{Name: "all", MaxAlerts: 1000}})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.LessOrEqual(t, len(mustJSON(t, c)), card.MaxCardBytes)
	require.Contains(t, c.Elements[0].Content, "条告警未显示")
	require.NotContains(t, c.Elements[0].Content, "模板出错")
	require.Zero(t, counterValue(t, reg))
}

func writeTemplate(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "custom.tmpl")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestGoldenUserOverride(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `
{{ define "mind.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} @ {{ .Receiver }}{{ end }}
{{ define "mind.button.runbook" }}Runbook{{ end }}
{{ define "mind.button.alertmanager" }}{{ "" }}{{ end }}
`)}
	r, reg := newRenderer(t, opts)
	c, err := r.Render(groupFile(t, "am-0.25-group-1.json"), Input{Receiver: &config.Receiver{Name: "db-oncall"}})
	require.NoError(t, err)
	require.Equal(t, "[FIRING] KubePodCrashLooping @ db-oncall", c.Header.Title.Content)
	require.Contains(t, mustJSON(t, c), `"Runbook"`)
	require.NotContains(t, mustJSON(t, c), "查看告警", "an empty label hides its button")
	require.Zero(t, counterValue(t, reg))
	golden(t, "user-override", c)
}

func TestGoldenTemplateErrorFallback(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.body" }}{{ index .Alerts 99 }}{{ end }}`)}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	r, err := New(opts, reg, slogTo(&logs))
	require.NoError(t, err)

	c, err := r.Render(groupFile(t, "am-0.25-group-1.json"), Input{Receiver: &config.Receiver{Name: "db-oncall"}})
	require.NoError(t, err, "a broken template never drops the alert")
	require.Equal(t, card.ColorRed, c.Header.Template)
	require.Equal(t, "触发中 · warning · KubePodCrashLooping (3)", c.Header.Title.Content)
	require.Contains(t, mustJSON(t, c), AckEvent, "the fallback keeps the ack button")
	require.Contains(t, c.Elements[0].Content, "Pod payments/api-1 is crash looping")
	require.Equal(t, 1.0, counterValue(t, reg))
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "index out of range")
	require.Contains(t, logs.String(), "receiver=db-oncall")
	golden(t, "fallback-template-error", c)
}

func TestEmptyTitleFallsBack(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.title" }}  {{ "\n" }} {{ end }}`)}
	r, reg := newRenderer(t, opts)
	g := groupFile(t, "am-0.25-resolved.json")
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	require.Equal(t, card.ColorGreen, c.Header.Template)
	require.Equal(t, "已恢复 · critical · HighCPU (1)", c.Header.Title.Content)
	require.Contains(t, c.Elements[0].Content, "模板出错")
	require.Equal(t, 1.0, counterValue(t, reg))
}
