package render

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind"
)

// hugeURL is a valid http URL of about n bytes.
func hugeURL(prefix string, n int) string {
	return prefix + "?q=" + strings.Repeat("a", n)
}

// requireDeliverable checks what the delivery queue needs of a card: it
// validates, its content and the send body built from it are within
// Mind's limit, every link on it is one a card may open, and it lists
// every alert whose marker is given.
func requireDeliverable(t *testing.T, c *card.Card, markers ...string) {
	t.Helper()
	require.NoError(t, c.Validate())
	content, err := c.JSON()
	require.NoError(t, err)
	require.LessOrEqual(t, len(content), card.MaxCardBytes, "card content")
	req, err := mind.NewCardRequest("r-1", []string{"ou_a"}, false, content)
	require.NoError(t, err)
	require.LessOrEqual(t, len(req.Body), sendBodyLimit, "send body")
	for _, b := range buttons(c) {
		if b.Type == card.ButtonView {
			_, err := url.Parse(b.URL)
			require.NoError(t, err)
			require.LessOrEqual(t, len(b.URL), card.MaxURLBytes)
		}
	}
	body := c.Elements[0].Content
	for _, m := range markers {
		require.Contains(t, body, m, "the card lists this alert")
	}
	require.NotContains(t, body, "（无告警详情）")
}

// sendBodyLimit bounds the request body that carries one card to one
// recipient: the card's content encoded as a JSON string plus the fixed
// fields of seed 000's body.
const sendBodyLimit = card.MaxCardBytes + 256

func TestBoundedURLsAndText(t *testing.T) {
	const big = 30 << 10
	group1 := []string{"api-0 is crash looping", "api-1 is crash looping", "api-2 is crash looping"}
	for _, tc := range []struct {
		name    string
		mutate  func(g *alert.Group)
		markers []string
		gone    []string // button labels that must not be on the card
	}{
		{"30 KB externalURL", func(g *alert.Group) {
			g.ExternalURL = hugeURL("http://alertmanager.example.com:9093/", big)
		}, group1, []string{"查看告警"}},
		{"30 KB common runbook_url", func(g *alert.Group) {
			u := hugeURL("https://runbooks.example.com/x", big)
			g.CommonAnnotations["runbook_url"] = u
			for i := range g.Alerts {
				g.Alerts[i].Annotations["runbook_url"] = u
			}
		}, group1, []string{"处理手册"}},
		{"30 KB generatorURL on the first alert", func(g *alert.Group) {
			g.Alerts[0].GeneratorURL = hugeURL("http://prometheus.example.com:9090/graph", big)
		}, group1, nil},
		{"30 KB generatorURL on every alert", func(g *alert.Group) {
			for i := range g.Alerts {
				g.Alerts[i].GeneratorURL = hugeURL("http://prometheus.example.com:9090/graph", big)
			}
		}, group1, []string{"告警来源"}},
		{"30 KB label value", func(g *alert.Group) {
			g.Alerts[1].Labels["pod"] = strings.Repeat("p", big)
		}, group1, nil},
		{"30 KB annotations", func(g *alert.Group) {
			for i := range g.Alerts {
				g.Alerts[i].Annotations["description"] = strings.Repeat("描", big)
				g.Alerts[i].Annotations["extra"] = strings.Repeat("&<*\\", big/4)
			}
		}, group1, nil},
		{"10k group labels", func(g *alert.Group) {
			for i := range 10000 {
				g.GroupLabels[fmt.Sprintf("l%05d", i)] = "value"
			}
		}, group1, nil},
		{"every URL 30 KB, escapes everywhere", func(g *alert.Group) {
			u := hugeURL("https://x.example.com/&", big)
			g.ExternalURL = u
			g.CommonAnnotations["runbook_url"] = u
			for i := range g.Alerts {
				a := &g.Alerts[i]
				a.GeneratorURL, a.SilenceURL, a.DashboardURL, a.PanelURL, a.ImageURL = u, u, u, u, u
				a.Annotations["runbook_url"] = u
			}
		}, group1, []string{"查看告警", "处理手册", "告警来源", "静默", "仪表盘", "面板"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, reg := newRenderer(t, testOptions())
			g := groupFile(t, "am-0.25-group-1.json")
			tc.mutate(g)
			c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}})
			require.NoError(t, err)
			requireDeliverable(t, c, tc.markers...)
			for _, l := range tc.gone {
				require.NotContains(t, labelsOf(c), l)
			}
			require.NotNil(t, ackButton(t, c), "the ack button is never dropped")
			require.Zero(t, counterValue(t, reg), "bounded pieces need no fallback")
		})
	}
}

// The fallback card is bounded the same way: a broken template and a
// payload whose every piece is huge still give a card that lists alerts.
func TestFallbackBoundedURLs(t *testing.T) {
	opts := testOptions()
	opts.Files = []string{writeTemplate(t, `{{ define "mind.body" }}{{ index .Alerts 99 }}{{ end }}`)}
	r, reg := newRenderer(t, opts)
	g := hugeGroup(40)
	u := hugeURL("https://x.example.com/&\"", 30<<10)
	g.ExternalURL = u
	g.CommonAnnotations = map[string]string{"runbook_url": u, "summary": strings.Repeat("&", 30<<10)}
	for i := range g.Alerts {
		a := &g.Alerts[i]
		a.GeneratorURL, a.SilenceURL, a.DashboardURL, a.PanelURL = u, u, u, u
		a.Annotations["summary"] = fmt.Sprintf("node-%03d %s", i, strings.Repeat("\"&<\\", 10000))
		a.Labels["alertname"] = strings.Repeat("&\"", 10000)
	}
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "x", MaxAlerts: 40}})
	require.NoError(t, err)
	requireDeliverable(t, c, "node-000", "node-001")
	require.Contains(t, c.Elements[0].Content, "模板出错")
	require.NotNil(t, ackButton(t, c))
	require.Equal(t, 1.0, counterValue(t, reg))
}

// Grafana's per-alert links (image, silence, dashboard) that are too long
// are dropped from the card; the alert stays.
func TestBoundedGrafanaLinks(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g, ok := loadGrafana(t, filepath.Join(sharedTestdata, "grafana", "docs-example-firing.json"))
	require.True(t, ok)
	for i := range g.Alerts {
		g.Alerts[i].ImageURL = hugeURL("https://grafana.example.com/img.png", 30<<10)
		g.Alerts[i].SilenceURL = hugeURL("https://grafana.example.com/alerting/silence/new", 30<<10)
	}
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	requireDeliverable(t, c, "zone us-1", "zone eu-1")
	s, err := json.Marshal(c)
	require.NoError(t, err)
	require.NotContains(t, string(s), "img.png", "an image link that does not fit is dropped")
}
