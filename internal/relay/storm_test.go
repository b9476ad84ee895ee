package relay

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

func alertOf(fp, status string, labels template.KV) alert.Alert {
	return alert.Alert{Alert: template.Alert{Fingerprint: fp, Status: status, Labels: labels,
		StartsAt: time.Unix(1_790_000_000, 0)}}
}

func TestPriority(t *testing.T) {
	p := config.PriorityConfig{Label: "severity", Order: config.DefaultPriorityOrder()}
	tests := []struct {
		name string
		g    alert.Group
		want int
	}{
		{"critical", alert.Group{Alerts: alert.Alerts{alertOf("a", "firing", template.KV{"severity": "critical"})}}, 0},
		{"the most urgent alert decides", alert.Group{Alerts: alert.Alerts{
			alertOf("a", "firing", template.KV{"severity": "info"}),
			alertOf("b", "firing", template.KV{"severity": "ERROR"}),
		}}, 2},
		{"a resolved critical group stays critical", alert.Group{Status: "resolved", Alerts: alert.Alerts{
			alertOf("a", "resolved", template.KV{"severity": "critical"}),
		}}, 0},
		{"unknown severity last", alert.Group{Alerts: alert.Alerts{alertOf("a", "firing", template.KV{"severity": "sev9"})}}, 5},
		{"no label last", alert.Group{Alerts: alert.Alerts{alertOf("a", "firing", template.KV{"alertname": "X"})}}, 5},
		{"common labels when no alert has it", alert.Group{CommonLabels: template.KV{"severity": "warning"}}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Priority(p, &tc.g))
		})
	}
}

func TestContentKey(t *testing.T) {
	base := func() *alert.Group {
		return &alert.Group{Source: alert.SourceAlertmanager, Receiver: "am", Status: "firing", GroupKey: "{}:{a=\"b\"}",
			Alerts: alert.Alerts{alertOf("f1", "firing", template.KV{"x": "1"}), alertOf("f2", "firing", template.KV{"x": "2"})}}
	}
	key := ContentKey(base(), "payments")
	tests := []struct {
		name   string
		change func(g *alert.Group) string
		same   bool
	}{
		{"identical", func(g *alert.Group) string { return ContentKey(g, "payments") }, true},
		{"alerts reordered", func(g *alert.Group) string {
			g.Alerts[0], g.Alerts[1] = g.Alerts[1], g.Alerts[0]
			return ContentKey(g, "payments")
		}, true},
		{"annotations differ (not content)", func(g *alert.Group) string {
			g.Alerts[0].Annotations = template.KV{"summary": "other"}
			return ContentKey(g, "payments")
		}, true},
		{"other relay receiver", func(g *alert.Group) string { return ContentKey(g, "default") }, false},
		{"other sender receiver", func(g *alert.Group) string { g.Receiver = "am2"; return ContentKey(g, "payments") }, false},
		{"other group", func(g *alert.Group) string { g.GroupKey = "other"; return ContentKey(g, "payments") }, false},
		{"group resolved", func(g *alert.Group) string { g.Status = "resolved"; return ContentKey(g, "payments") }, false},
		{"an alert resolved", func(g *alert.Group) string {
			g.Alerts[1].Status, g.Alerts[1].EndsAt = "resolved", time.Unix(1_790_000_600, 0)
			return ContentKey(g, "payments")
		}, false},
		{"an alert restarted", func(g *alert.Group) string {
			g.Alerts[0].StartsAt = g.Alerts[0].StartsAt.Add(time.Minute)
			return ContentKey(g, "payments")
		}, false},
		{"an alert more", func(g *alert.Group) string {
			g.Alerts = append(g.Alerts, alertOf("f3", "firing", nil))
			return ContentKey(g, "payments")
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.same, tc.change(base()) == key)
		})
	}
}

func TestAcceptSetsPriorityAndDedupeKey(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	prio := config.PriorityConfig{Label: "severity", Order: config.DefaultPriorityOrder()}
	tests := []struct {
		name    string
		opts    Options
		wantKey bool
		want    int
	}{
		{"dedupe on", Options{Now: func() time.Time { return now }, Priority: prio, DedupeWindow: 5 * time.Minute}, true, 3},
		{"dedupe off", Options{Now: func() time.Time { return now }, Priority: prio}, false, 3},
		{"no priority config: all alike", Options{Now: func() time.Time { return now }}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			g := group(t) // severity: warning
			_, err := f.rl.Accept(context.Background(), g, "")
			require.NoError(t, err)
			require.Equal(t, 2, len(f.got))
			for _, n := range f.got {
				require.Equal(t, tc.want, n.Priority)
				if tc.wantKey {
					require.Equal(t, ContentKey(g, n.Receiver), n.DedupeKey)
					require.Equal(t, now.Add(5*time.Minute), n.DedupeUntil)
				} else {
					require.Empty(t, n.DedupeKey)
				}
			}
		})
	}
}
