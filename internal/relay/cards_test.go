package relay

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// withFourth is group-1 with a fourth alert, api-9, that started later.
func withFourth(t *testing.T) *alert.Group {
	t.Helper()
	g := group(t)
	a := g.Alerts[0]
	a.Labels = map[string]string{}
	for k, v := range g.Alerts[0].Labels {
		a.Labels[k] = v
	}
	a.Labels["pod"] = "api-9"
	a.Fingerprint = "0000000000000009"
	a.StartsAt = a.StartsAt.Add(time.Hour)
	g.Alerts = append(g.Alerts, a)
	return g
}

// cardOf is the card a rendered request carries.
func cardOf(t *testing.T, c *Cards, n store.Notification) *card.Card {
	t.Helper()
	var robot struct {
		Content string `json:"content"`
	}
	require.NoError(t, json.Unmarshal(sent(t, c, n).Body, &robot))
	var out card.Card
	require.NoError(t, json.Unmarshal([]byte(robot.Content), &out))
	return &out
}

// ackToken is the token of the card's ack button ("" when it has none).
func ackToken(c *card.Card) string {
	for _, e := range c.Elements {
		for _, b := range e.Actions {
			if b.Value != nil && b.Value["action"] == token.ActionAck {
				s, _ := b.Value["token"].(string)
				return s
			}
		}
	}
	return ""
}

// Issue 11: a card rendered later shows each alert's own state. Card v1
// shows three alerts and is acknowledged; v2 adds a fourth: it pages red,
// with its ack button, the new alert listed first and marked new, the
// three marked acknowledged (an escalation card too). Its token names v2, so a click acks what v2
// showed, all four: rendered again (v3), the card is orange, unmarked.
func TestCardMarksEachAlertsAckState(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

	_, err := f.rl.Accept(ctx, group(t), "default")
	require.NoError(t, err)
	v1 := f.got[0]
	require.Len(t, v1.Alerts, 3)
	ch := incident.Observe(nil, incident.Observation{GroupID: v1.GroupID, Receiver: v1.Receiver, Source: string(alert.SourceAlertmanager),
		NotificationID: v1.ID, Alerts: v1.Alerts, At: t0})
	inc := ch.Next
	inc = incident.Acknowledge(inc, v1.Alerts, incident.Who{Name: "张三", OpenID: "ou_zhang", Via: incident.ViaCard},
		t0.Add(32*time.Minute), nil, false).Next
	require.Equal(t, incident.Acked, inc.State)

	_, err = f.rl.Accept(ctx, withFourth(t), "default")
	require.NoError(t, err)
	v2 := f.got[1]
	require.Len(t, v2.Alerts, 4)
	inc = incident.Observe(inc, incident.Observation{GroupID: v2.GroupID, Receiver: v2.Receiver, Source: string(alert.SourceAlertmanager),
		NotificationID: v2.ID, Alerts: v2.Alerts, At: t0.Add(40 * time.Minute)}).Next
	require.Equal(t, incident.Firing, inc.State, "the fourth alert was never acknowledged")
	f.incs.m[inc.ID] = *inc
	v1.IncidentID, v2.IncidentID = inc.ID, inc.ID

	c := cardOf(t, f.cards, v2)
	require.Equal(t, card.ColorRed, c.Header.Template)
	body := c.Elements[0].Content
	require.Equal(t, 1, strings.Count(body, "新告警 · 未确认"), body)
	require.Equal(t, 3, strings.Count(body, "已确认 · 张三 · 2026-11-22 10:32:00 UTC+8"), body)
	require.Less(t, strings.Index(body, "pod=api-9"), strings.Index(body, "已确认"), "the new alert is listed first")
	tok := ackToken(c)
	require.NotEmpty(t, tok, "the red card can ack its new alert")
	claims, err := token.Verify([]byte("relay-test-ack-secret-0123"), tok, time.Now())
	require.NoError(t, err)
	require.Equal(t, v2.ID, claims.NotificationID, "the token acks what this card shows")

	// An escalation step paging for the new alert marks them alike.
	esc := v2
	esc.Kind, esc.GroupID = store.KindEscalation, v2.GroupID+"/escalation"
	ce := cardOf(t, f.cards, esc)
	require.Equal(t, card.ColorRed, ce.Header.Template)
	require.Equal(t, 1, strings.Count(ce.Elements[0].Content, "新告警 · 未确认"), ce.Elements[0].Content)
	require.Equal(t, 3, strings.Count(ce.Elements[0].Content, "已确认 · 张三 · "))
	require.NotEmpty(t, ackToken(ce))

	// v1, rendered now, shows only what the ack covers: orange, unmarked.
	c1 := cardOf(t, f.cards, v1)
	require.Equal(t, card.ColorOrange, c1.Header.Template)
	require.NotContains(t, c1.Elements[0].Content, "已确认 · ")

	// The click on v2 acks the alerts v2 showed: all four.
	ack := incident.Acknowledge(inc, v2.Alerts, incident.Who{Name: "李四", Via: incident.ViaCard}, t0.Add(45*time.Minute), nil, false)
	require.Equal(t, incident.ResultAcked, ack.Result)
	require.Equal(t, incident.Acked, ack.Next.State)
	f.incs.m[inc.ID] = *ack.Next
	c3 := cardOf(t, f.cards, v2)
	require.Equal(t, card.ColorOrange, c3.Header.Template)
	require.Empty(t, ackToken(c3))
	for _, mark := range []string{"新告警", "未确认", "已确认 · "} {
		require.NotContains(t, c3.Elements[0].Content, mark)
	}
	require.Contains(t, c3.Elements[0].Content, "李四")
}

// CardAck's states, alert by alert; the zero state on cards an ack
// covers wholly or not at all.
func TestCardAckStates(t *testing.T) {
	g := withFourth(t)
	g.Alerts[2].Status = alert.StatusResolved
	refs := incident.Refs(g.Alerts)
	ackOf := func(rs ...incident.AlertRef) *incident.Incident {
		return &incident.Incident{ID: "i", Alerts: refs, Ack: &incident.Ack{By: "张三", At: time.Now(), Alerts: rs}}
	}
	raised := refs[1]
	raised.Severity--
	for _, tc := range []struct {
		name   string
		inc    *incident.Incident
		acked  bool
		states map[string]render.AlertAck // by pod; nil: no AlertAck
		order  []string
	}{
		{name: "no incident", inc: nil},
		{name: "no ack", inc: &incident.Incident{ID: "i", Alerts: refs}},
		{name: "all firing acked", inc: ackOf(refs[0], refs[1], refs[3]), acked: true},
		{name: "none of the firing acked", inc: ackOf(refs[2])},
		{name: "some acked", inc: ackOf(refs[0], refs[1]),
			states: map[string]render.AlertAck{"api-0": {Ack: &render.AckInfo{}}, "api-1": {Ack: &render.AckInfo{}}, "api-2": {}, "api-9": {New: true}},
			order:  []string{"api-9", "api-0", "api-1", "api-2"}},
		{name: "one acked at a lower severity", inc: ackOf(refs[0], raised),
			states: map[string]render.AlertAck{"api-0": {Ack: &render.AckInfo{}}, "api-1": {Raised: true}, "api-2": {}, "api-9": {New: true}},
			order:  []string{"api-1", "api-9", "api-0", "api-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in render.Input
			got := CardAck(&in, tc.inc, g, refs)
			require.Equal(t, tc.acked, in.Ack != nil)
			if tc.states == nil {
				require.Nil(t, in.AlertAck)
				require.Same(t, g, got)
				return
			}
			require.Nil(t, in.Ack, "partly acknowledged: red")
			var order []string
			for _, a := range got.Alerts {
				order = append(order, a.Labels["pod"])
				st := in.AlertAck(&a)
				want := tc.states[a.Labels["pod"]]
				require.Equal(t, want.Ack != nil, st.Ack != nil, a.Labels["pod"])
				if st.Ack != nil {
					require.Equal(t, "张三", st.Ack.By)
				}
				require.Equal(t, want.New, st.New, a.Labels["pod"])
				require.Equal(t, want.Raised, st.Raised, a.Labels["pod"])
			}
			require.Equal(t, tc.order, order)
			require.Len(t, g.Alerts, 4)
			require.Equal(t, "api-0", g.Alerts[0].Labels["pod"], "the queued group is not reordered")
		})
	}
}
