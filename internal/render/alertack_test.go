package render

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
)

// partlyAcked is group-1 (three alerts, api-0…api-2, acknowledged) with
// a fourth, new alert api-9 listed first, as the relay orders them, and
// the states the relay gives each.
func partlyAcked(t *testing.T) (*alert.Group, func(*alert.Alert) AlertAck) {
	t.Helper()
	g := groupFile(t, "am-0.25-group-1.json")
	extra := g.Alerts[0]
	extra.Labels = map[string]string{}
	for k, v := range g.Alerts[0].Labels {
		extra.Labels[k] = v
	}
	extra.Labels["pod"] = "api-9"
	extra.Fingerprint = "0000000000000009"
	extra.StartsAt = time.Date(2026, 11, 22, 3, 5, 0, 0, time.UTC)
	extra.Annotations = map[string]string{"summary": "Pod payments/api-9 is crash looping", "description": g.Alerts[0].Annotations["description"]}
	g.Alerts = append(alert.Alerts{extra}, g.Alerts...)
	ack := &AckInfo{By: "张三", ByOpenID: "ou_zhang", At: time.Date(2026, 11, 22, 2, 32, 0, 0, time.UTC)}
	return g, func(a *alert.Alert) AlertAck {
		if a.Labels["pod"] == "api-9" {
			return AlertAck{New: true}
		}
		return AlertAck{Ack: ack}
	}
}

// A card whose ack covers only some of its firing alerts pages red, with
// its ack button, and each alert says its own state: the new one first,
// 新告警 · 未确认; the acknowledged ones who acked them and when.
func TestGoldenPartlyAcked(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g, states := partlyAcked(t)
	c, err := r.Render(g, Input{Receiver: &config.Receiver{Name: "db-oncall"}, NotificationID: "n-2", AlertAck: states})
	require.NoError(t, err)
	require.Equal(t, card.ColorRed, c.Header.Template)
	require.True(t, strings.HasPrefix(c.Header.Title.Content, "触发中"), c.Header.Title.Content)
	require.Contains(t, mustJSON(t, c), AckEvent, "the new alert can be acknowledged")
	body := c.Elements[0].Content
	require.Equal(t, 1, strings.Count(body, "<font color='red'>**新告警 · 未确认**</font>"), body)
	require.Equal(t, 3, strings.Count(body, "<font color='orange'>已确认 · 张三 · 2026-11-22 10:32:00 UTC+8</font>"), body)
	require.Less(t, strings.Index(body, "新告警"), strings.Index(body, "已确认"), "the new alert is listed first")
	require.Less(t, strings.Index(body, "**Pod payments/api-9 is crash looping**"), strings.Index(body, "新告警"), "the mark is under its alert's heading")
	golden(t, "partly-acked", c)
}

// Each state prints its own mark; the zero state (every card whose ack
// covers all or none of its alerts) prints none.
func TestAlertAckMarks(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	at := time.Date(2026, 11, 22, 2, 32, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		state AlertAck
		want  string
	}{
		{"acked", AlertAck{Ack: &AckInfo{By: "张三", At: at}}, "<font color='orange'>已确认 · 张三 · 2026-11-22 10:32:00 UTC+8</font>"},
		{"acked by open_id, no time", AlertAck{Ack: &AckInfo{ByOpenID: "ou_zhang"}}, "<font color='orange'>已确认 · ou\\_zhang</font>"},
		{"acked by a nasty name", AlertAck{Ack: &AckInfo{By: "</font>**x**", At: at}}, "已确认 · ＜/font＞\\*\\*x\\*\\* · "},
		{"new", AlertAck{New: true}, "<font color='red'>**新告警 · 未确认**</font>"},
		{"raised", AlertAck{Raised: true}, "<font color='red'>**级别升高 · 未确认**</font>"},
		{"none", AlertAck{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := groupFile(t, "am-0.25-firing.json")
			c, err := r.Render(g, Input{AlertAck: func(*alert.Alert) AlertAck { return tc.state }})
			require.NoError(t, err)
			body := c.Elements[0].Content
			for _, mark := range []string{"已确认", "未确认"} {
				if !strings.Contains(tc.want, mark) {
					require.NotContains(t, body, mark)
				}
			}
			require.Contains(t, body, tc.want)
			require.Equal(t, strings.Count(body, "<font"), strings.Count(body, "</font>"))
		})
	}
}
