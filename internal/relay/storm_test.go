package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
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

// capture is a fake Mind sender keeping the cards it got, by recipient.
type capture struct {
	mu    sync.Mutex
	cards map[string][]card.Card // "ou_default", "all" → cards in arrival order
}

func (c *capture) Send(_ context.Context, req mind.Request) error {
	var to, content string
	switch req.Endpoint {
	case mind.EndpointRobotMessage:
		var m mind.RobotMessage
		if err := json.Unmarshal(req.Body, &m); err != nil {
			return err
		}
		to, content = strings.Join(m.ReceiveOpenIDs, ","), m.Content
	default:
		var m mind.SendMessage
		if err := json.Unmarshal(req.Body, &m); err != nil {
			return err
		}
		to, content = "all", m.Content
	}
	var cd card.Card
	if err := json.Unmarshal([]byte(content), &cd); err != nil {
		return err
	}
	if err := cd.Validate(); err != nil {
		return &mind.Error{Reason: mind.ReasonRejected, Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cards[to] = append(c.cards[to], cd)
	return nil
}

func (c *capture) titles(to string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, cd := range c.cards[to] {
		out = append(out, cd.Header.Title.Content)
	}
	return out
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, cs := range c.cards {
		n += len(cs)
	}
	return n
}

func stormGroup(name, severity string, i int, status string) *alert.Group {
	labels := template.KV{"alertname": name, "severity": severity, "instance": fmt.Sprintf("host-%d", i)}
	a := alert.Alert{Alert: template.Alert{Status: status, Labels: labels, Fingerprint: fmt.Sprintf("%s-%d", name, i),
		Annotations: template.KV{"summary": fmt.Sprintf("%s on host-%d", name, i)}, StartsAt: time.Unix(1_790_000_000, 0)}}
	if status == alert.StatusResolved {
		a.EndsAt = time.Unix(1_790_000_600, 0)
	}
	return &alert.Group{Source: alert.SourceAlertmanager, Receiver: "am", Status: status,
		GroupKey: fmt.Sprintf("{}:{alertname=%q,instance=\"host-%d\"}", name, i), Alerts: alert.Alerts{a},
		CommonLabels: labels, CommonAnnotations: a.Annotations}
}

// A flood of non-urgent groups becomes one digest card per receiver, with
// the right counts; urgent groups still page alone, and a later card of a
// digested group (its resolution) is still delivered.
func TestFloodBecomesOneDigestPerReceiver(t *testing.T) {
	ctx := context.Background()
	st := state(t)
	r, err := render.New(render.Options{Location: st.Config.Location, AckSecret: []byte(st.Config.Ack.Secret.Value()),
		ExternalURL: "https://relay.example"}, nil, nil)
	require.NoError(t, err)
	st.Renderer = r
	live := NewLive(st)
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	prio := config.PriorityConfig{Label: "severity", Order: config.DefaultPriorityOrder()}
	cards := NewCards(live, db, nil, prometheus.NewRegistry()).WithDigest(prio, 5)
	sender := &capture{cards: map[string][]card.Card{}}
	q := delivery.New(db, sender, delivery.Options{RateLimit: -1, Renderer: cards,
		Digest: store.DigestRule{After: 20, MinPriority: 2}}, prometheus.NewRegistry(), nil)
	rl := New(live, Options{Queue: q, Priority: prio}, prometheus.NewRegistry())

	// Queued before the queue runs, as a flood is when Mind is slow.
	for i := range 25 {
		name := "DiskFull"
		if i%5 == 0 {
			name = "HighLoad"
		}
		_, err := rl.Accept(ctx, stormGroup(name, "info", i, alert.StatusFiring), "") // → default
		require.NoError(t, err)
	}
	for i := range 21 {
		_, err := rl.Accept(ctx, stormGroup("NodeDown", "warning", i, alert.StatusFiring), "") // → everyone
		require.NoError(t, err)
	}
	_, err = rl.Accept(ctx, stormGroup("DatabaseDown", "critical", 0, alert.StatusFiring), "default")
	require.NoError(t, err)
	// Under the threshold: sent alone.
	for i := range 3 {
		_, err := rl.Accept(ctx, stormGroup("Quiet", "info", i, alert.StatusFiring), "payments")
		require.NoError(t, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return sender.count() == 2+1+3 }, 10*time.Second, 10*time.Millisecond)

	def := sender.titles("ou_default")
	require.Len(t, def, 2)
	require.Contains(t, def, "告警汇总：25 个告警组（25 个触发中）")
	require.Contains(t, def, "触发中 · critical · DatabaseDown (1)", "urgent groups are never digested")
	require.Equal(t, []string{"告警汇总：21 个告警组（21 个触发中）"}, sender.titles("all"))
	require.Len(t, sender.titles("ou_pay1,ou_pay2"), 3)

	var digest card.Card
	for _, cd := range sender.cards["ou_default"] {
		if strings.HasPrefix(cd.Header.Title.Content, "告警汇总") {
			digest = cd
		}
	}
	text := ""
	for _, e := range digest.Elements {
		text += e.Content + "\n"
	}
	require.Contains(t, text, "- DiskFull × 20")
	require.Contains(t, text, "- HighLoad × 5")
	require.Contains(t, text, "以下是最紧急的 5 个")
	require.Equal(t, 5, strings.Count(text, "（触发中，1 条）"), "five groups named (max_groups)")
	last := digest.Elements[len(digest.Elements)-1]
	require.Equal(t, card.TagAction, last.Tag)
	require.True(t, strings.HasPrefix(last.Actions[0].URL, "https://relay.example/digest/"), last.Actions[0].URL)

	// Every folded card is accounted for.
	stats, err := q.Stats(ctx)
	require.NoError(t, err)
	require.Zero(t, stats.Pending+stats.Sending)

	// A digested group's resolution still reaches the receiver, alone.
	_, err = rl.Accept(ctx, stormGroup("DiskFull", "info", 1, alert.StatusResolved), "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(sender.titles("ou_default")) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "已恢复 · info · DiskFull (1)", sender.titles("ou_default")[2])
}
