package ack

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/chat"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/store"
)

const withSchedule = `schedules:
  - name: db
    time_zone: UTC
    rotation: {every: 1d, start: "2026-01-05T00:00", members: [ou_a, ou_c]}
mentions:
  users: {alice: ou_a}
`

// Whoever got an incident's card (a schedule or an escalation sent it to
// them) may act on it from chat; nobody else beyond the receiver's own.
func TestChatAccessFollowsWhoGotTheCard(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	g := group(t, "am-0.25-firing.json")
	card := h.accept(g)
	n, err := h.db.Get(ctx, card)
	require.NoError(t, err)
	l := loop{s: h.svc}

	open, err := l.Open(ctx, "ou_z")
	require.NoError(t, err)
	require.Empty(t, open, "not a recipient")

	require.NoError(t, h.db.RecordRecipients(ctx, n.IncidentID, []string{"ou_z"}, h.now))
	open, err = l.Open(ctx, "ou_z")
	require.NoError(t, err)
	require.Len(t, open, 1, "got a card of it: may ack it")

	answer, err := chat.Answer(ctx, l, "ou_z", "Zed", chat.ParseCommand("ack "+gid(g)[:6]))
	require.NoError(t, err)
	require.Contains(t, answer, "已确认")
	inc, err := h.db.Incident(ctx, n.IncidentID)
	require.NoError(t, err)
	require.Equal(t, incident.Acked, inc.State)
	require.Equal(t, "ou_z", inc.Ack.OpenID)
}

func TestLoopOnCall(t *testing.T) {
	h := newHarness(t, withSchedule)
	h.now = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	l := loop{s: h.svc}
	got, ok := l.OnCall("")
	require.True(t, ok)
	require.Len(t, got, 1)
	require.Equal(t, "db", got[0].Schedule)
	require.Equal(t, []string{"alice（ou_a）"}, got[0].Now)
	require.Equal(t, chat.Handoff{At: time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC), OnCall: []string{"ou_c"}}, got[0].Next[0])
	require.Len(t, got[0].Next, 3)
	_, ok = l.OnCall("nope")
	require.False(t, ok)
}

func TestReached(t *testing.T) {
	e1, e2 := time.Unix(100, 0), time.Unix(200, 0)
	tests := []struct {
		name        string
		steps       []store.EscalationStep
		step, round int
	}{
		{"none", nil, 0, 0},
		{"the last step of the period", []store.EscalationStep{{Epoch: e1, Step: 1}, {Epoch: e1, Step: 2}}, 2, 0},
		{"a later round", []store.EscalationStep{{Epoch: e1, Step: 2}, {Epoch: e1, Round: 1, Step: 1}}, 1, 1},
		{"a new period after an unack starts over", []store.EscalationStep{{Epoch: e1, Step: 2}, {Epoch: e2, Step: 1}}, 1, 0},
		{"reminders do not count", []store.EscalationStep{{Epoch: e1, Step: 1}, {Epoch: e2}}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := reached(tt.steps)
			require.Equal(t, tt.step, s)
			require.Equal(t, tt.round, r)
		})
	}
}
