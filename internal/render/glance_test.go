package render

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
)

var (
	anyTime   = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	zonedTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?`)
)

// What an on-call engineer needs at a glance, checked on every captured
// payload: the severity in the title, every time with its zone, no
// summary said twice, at most three buttons a row.
func TestEveryPayloadAtAGlance(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	var groups []*alert.Group
	var names []string
	am, err := filepath.Glob(filepath.Join(sharedTestdata, "alertmanager", "*.json"))
	require.NoError(t, err)
	for _, p := range am {
		groups, names = append(groups, loadAlertmanager(t, p)), append(names, p)
	}
	gf, err := filepath.Glob(filepath.Join(sharedTestdata, "grafana", "*.json"))
	require.NoError(t, err)
	for _, p := range gf {
		if g, ok := loadGrafana(t, p); ok {
			groups, names = append(groups, g), append(names, p)
		}
	}
	require.GreaterOrEqual(t, len(groups), 6)
	for i, g := range groups {
		t.Run(caseName(names[i]), func(t *testing.T) {
			c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}})
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			if sev := groupSeverity(g); sev != "" {
				require.Contains(t, c.Header.Title.Content, " · "+sev+" · ")
			}
			body := c.Elements[0].Content
			require.Equal(t, len(anyTime.FindAllString(body, -1)), len(zonedTime.FindAllString(body, -1)), "every time says its zone:\n%s", body)
			for _, a := range g.Alerts {
				if s := a.Annotations["summary"]; s != "" {
					require.LessOrEqual(t, strings.Count(body, s), 1, "summary %q said twice:\n%s", s, body)
				}
			}
			for _, e := range c.Elements[1:] {
				require.LessOrEqual(t, len(e.Actions), card.MaxButtonsPerRow)
			}
		})
	}
}

// A summary all listed alerts share is said once, at the top; each alert
// is headed by what sets it apart.
func TestCommonSummaryOnce(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-group-1.json")
	for i := range g.Alerts {
		g.Alerts[i].Annotations["summary"] = "支付服务 Pod 反复重启"
	}
	g.CommonAnnotations["summary"] = "支付服务 Pod 反复重启"
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	body := c.Elements[0].Content
	require.Equal(t, 1, strings.Count(body, "支付服务 Pod 反复重启"), body)
	require.Contains(t, body, "**摘要** 支付服务 Pod 反复重启")
	for _, pod := range []string{"api-0", "api-1", "api-2"} {
		require.Contains(t, body, "**pod="+pod+"**\n", "headed by its own labels")
		require.Equal(t, 1, strings.Count(body, "pod="+pod), "its labels said once")
	}

	// One alert: its summary heads it, and the top does not repeat it.
	c, err = r.Render(groupFile(t, "am-0.25-firing.json"), Input{})
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(c.Elements[0].Content, "CPU 高于 90%"))
	require.Contains(t, c.Elements[0].Content, "**CPU 高于 90%**")

	// Alerts sharing a summary and every label: headed by the name.
	g = groupFile(t, "am-0.25-group-1.json")
	for i := range g.Alerts {
		g.Alerts[i].Labels = map[string]string{"alertname": "Same"}
		g.Alerts[i].Annotations = map[string]string{"message": "一样的消息"}
	}
	g.CommonLabels = map[string]string{"alertname": "Same"}
	g.CommonAnnotations = map[string]string{"message": "一样的消息"}
	c, err = r.Render(g, Input{})
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(c.Elements[0].Content, "**Same**"), c.Elements[0].Content)
	require.Zero(t, strings.Count(c.Elements[0].Content, "一样的消息"), "message stands in for summary: not an extra line")
}

func TestSeverityInTitle(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	for _, tc := range []struct {
		name     string
		severity []string // per alert of group-2 (api-0 resolved, api-1 and api-2 firing)
		common   string
		want     string
	}{
		{"common", []string{"warning", "warning", "warning"}, "warning", "触发中 · warning · KubePodCrashLooping (2)"},
		{"the worst firing one", []string{"critical", "info", "P1"}, "", "触发中 · P1 · KubePodCrashLooping (2)"},
		{"not a resolved one", []string{"critical", "warning", "info"}, "", "触发中 · warning · KubePodCrashLooping (2)"},
		{"unknown words count", []string{"", "sev3", ""}, "", "触发中 · sev3 · KubePodCrashLooping (2)"},
		{"none", []string{"", "", ""}, "", "触发中 · KubePodCrashLooping (2)"},
		{"cut and one line", []string{"", "very\nlong severity value that goes on", ""}, "", "触发中 · very long severity … · KubePodCrashLooping (2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := groupFile(t, "am-0.25-group-2.json")
			for i, s := range tc.severity {
				g.Alerts[i].Labels["severity"] = s
			}
			if tc.common == "" {
				delete(g.CommonLabels, "severity")
			} else {
				g.CommonLabels["severity"] = tc.common
			}
			c, err := r.Render(g, Input{})
			require.NoError(t, err)
			require.Equal(t, tc.want, c.Header.Title.Content)
		})
	}
}

// Annotations other than summary and description are shown, bounded.
func TestExtraAnnotations(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := groupFile(t, "am-0.25-firing.json")
	g.Alerts[0].Annotations["impact"] = "结账失败率升高"
	g.Alerts[0].Annotations["dashboard"] = "https://grafana.example.com/d/cpu"
	g.Alerts[0].Annotations["__dashboardUid__"] = "abc"
	g.Alerts[0].Annotations["runbook_url"] = "https://runbooks.example.com/cpu"
	g.Alerts[0].Annotations["long"] = strings.Repeat("长", 1000)
	c, err := r.Render(g, Input{})
	require.NoError(t, err)
	body := c.Elements[0].Content
	require.Contains(t, body, "impact: 结账失败率升高\n")
	require.Contains(t, body, "dashboard: https://grafana.example.com/d/cpu\n")
	require.Contains(t, body, "long: "+strings.Repeat("长", annotationValueRunes-1)+"…\n")
	require.NotContains(t, body, "dashboardUid")
	require.NotContains(t, body, "runbook_url", "the runbook is a button")
	require.Less(t, strings.Index(body, "dashboard:"), strings.Index(body, "impact:"), "sorted")

	for i := range 12 {
		g.Alerts[0].Annotations[fmt.Sprintf("x%02d", i)] = "v"
	}
	c, err = r.Render(g, Input{})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "另有 10 条注释未显示")
	require.Equal(t, maxAnnotations, strings.Count(c.Elements[0].Content, ": "), "at most five shown")

	// Shared by all listed alerts: once at the top, not per alert.
	g = groupFile(t, "am-0.25-group-1.json")
	for i := range g.Alerts {
		g.Alerts[i].Annotations["impact"] = "结账失败"
		g.Alerts[i].Annotations["owner"] = fmt.Sprintf("owner-%d", i)
	}
	g.CommonAnnotations["impact"] = "结账失败"
	c, err = r.Render(g, Input{})
	require.NoError(t, err)
	body = c.Elements[0].Content
	require.Equal(t, 1, strings.Count(body, "impact: 结账失败"), body)
	require.Less(t, strings.Index(body, "impact:"), strings.Index(body, "api-0"), "at the top")
	for i := range 3 {
		require.Contains(t, body, fmt.Sprintf("owner: owner-%d", i))
	}
}

// Text from a payload can open no tag, mention nobody, make no link and
// start no markdown block, wherever it shows on the card.
func TestPayloadTextInjectsNothing(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	hostile := []string{
		"<at user_id='all'>所有人</at>",
		"&lt;at user_id='all'&gt;所有人&lt;/at&gt;",
		"&#60;at user_id='all'&#62;",
		"</font><font color='red'>假的</font>",
		"[官方处理手册](https://evil.example.com/)",
		"![x](https://evil.example.com/p.png)",
		"<https://evil.example.com/>",
		"[a]: https://evil.example.com/",
		"\n# 标题\n> 引用\n- 列表\n1. 列表\n```\ncode\n```",
		"**粗体** __下划__ ~~删除~~ `代码` | 表 |",
		"\u202eevil\u202c \x00\x1b[31m",
	}
	text := strings.Join(hostile, " ")
	g := groupFile(t, "am-0.25-group-1.json")
	for i := range g.Alerts {
		a := &g.Alerts[i]
		a.Labels["pod"] = fmt.Sprintf("api-%d %s", i, text)
		a.Labels[text] = text
		a.Annotations["summary"] = text
		a.Annotations["description"] = text + fmt.Sprint(i)
		a.Annotations[hostile[0]] = text
		a.Annotations["extra"] = text
	}
	g.CommonLabels["severity"] = hostile[0]
	g.CommonAnnotations["summary"] = text
	for i := range g.Alerts {
		g.Alerts[i].Labels["severity"] = hostile[0]
	}
	c, err := r.Render(g, Input{Ack: &AckInfo{By: text, At: fixedNow, SilenceError: text}})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	body := c.Elements[0].Content

	require.NotContains(t, body, "<at")
	require.NotRegexp(t, `[^\\]&(lt|#60);`, body, "an entity is escaped: \\&lt;")
	require.Contains(t, body, `\&lt;at`)
	require.Contains(t, body, `\&#60;at`)
	require.NotRegexp(t, `[^\\]\]\(`, body, "no ]( that is not escaped")
	require.NotRegexp(t, `(?m)^(#|>|-|\d+\.|`+"```"+`)`, body, "no block starts")
	require.NotContains(t, body, "\u202e")
	require.NotContains(t, body, "\x1b")
	require.Equal(t, strings.Count(body, "<font"), strings.Count(body, "</font>"), "user text opens or closes no tag")
	for _, m := range regexp.MustCompile(`<font[^>]*>`).FindAllString(body, -1) {
		require.Regexp(t, `^<font color='(red|orange|green|#808080)'>$`, m, "only the template's own tags")
	}
	require.NotContains(t, c.Header.Title.Content, "\n")
}

// The zone the card names is the configured one.
func TestCardTimesInConfiguredZone(t *testing.T) {
	opts := testOptions()
	opts.Location = mustLoc("America/New_York")
	r, _ := newRenderer(t, opts)
	c, err := r.Render(groupFile(t, "am-0.25-firing.json"), Input{Ack: &AckInfo{By: "x", At: fixedNow}})
	require.NoError(t, err)
	require.Contains(t, c.Elements[0].Content, "开始 2026-11-21 21:06:24 UTC-5（")
	require.Contains(t, c.Elements[0].Content, "确认时间 2026-11-21 22:12:00 UTC-5")
}
