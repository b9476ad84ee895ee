package ack

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// floodGroup is the captured group as another group (its own key).
func floodGroup(t *testing.T, i int) *alert.Group {
	g := group(t, "am-0.25-group-1.json")
	g.GroupKey = fmt.Sprintf("{}:{flood=\"%d\"}", i)
	for j := range g.Alerts {
		g.Alerts[j].Fingerprint = fmt.Sprintf("f%d-%d", i, j)
	}
	return g
}

// The digest page lists every group a digest folded; GET changes nothing;
// POST acks one group, or all of them; a token of another kind, another
// receiver's or an altered one is refused.
func TestDigestPageAcksItsGroups(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	var cards []string
	for i := range 4 {
		cards = append(cards, h.accept(floodGroup(t, i)))
	}
	ds, err := h.db.Fold(ctx, h.now, store.DigestRule{After: 3})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	digestID := ds[0].Notification.ID
	sign := func(action, id, receiver string) string {
		tok, err := token.Sign([]byte("test-ack-secret-0123456789"), token.Claims{Action: action, NotificationID: id,
			Receiver: receiver, IssuedAt: h.now, ExpiresAt: h.now.Add(time.Hour)})
		require.NoError(t, err)
		return tok
	}
	tok := sign(render.ActionDigest, digestID, "oncall")
	states := func() []incident.State {
		var out []incident.State
		for _, id := range cards {
			n, err := h.db.Get(ctx, id)
			require.NoError(t, err)
			inc, err := h.db.Incident(ctx, n.IncidentID)
			require.NoError(t, err)
			out = append(out, inc.State)
		}
		return out
	}
	firing := []incident.State{incident.Firing, incident.Firing, incident.Firing, incident.Firing}

	v, err := h.svc.ViewDigest(ctx, tok)
	require.NoError(t, err)
	require.True(t, v.Known)
	require.Len(t, v.Groups, 4)
	for i, e := range v.Groups {
		require.Equal(t, cards[i], e.CardID)
		require.True(t, e.View.CanAck)
	}
	require.Equal(t, firing, states(), "GET changes nothing")

	refused := []struct {
		name, tok, want string
	}{
		{"an ack token", sign(token.ActionAck, digestID, "oncall"), ResultInvalidToken},
		{"another receiver", sign(render.ActionDigest, digestID, "other"), ResultInvalidToken},
		{"a card that is no digest", sign(render.ActionDigest, cards[0], "oncall"), ResultInvalidToken},
		{"unknown digest", sign(render.ActionDigest, "nope", "oncall"), ResultUnknownGroup},
		{"altered", tok[:len(tok)-2] + "xx", ResultInvalidToken},
	}
	for _, tc := range refused {
		v, err := h.svc.AckDigest(ctx, tc.tok, "", nil)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, v.Result, tc.name)
		require.False(t, v.Known, tc.name)
	}
	require.Equal(t, firing, states(), "refused tokens ack nothing")

	// One group, then the rest; a card the digest does not list is ignored.
	v, err = h.svc.AckDigest(ctx, tok, "张三", []string{cards[1]})
	require.NoError(t, err)
	require.Equal(t, 1, v.Acked)
	require.Equal(t, []incident.State{incident.Firing, incident.Acked, incident.Firing, incident.Firing}, states())
	v, err = h.svc.AckDigest(ctx, tok, "", []string{"not-listed"})
	require.NoError(t, err)
	require.Zero(t, v.Acked)
	v, err = h.svc.AckDigest(ctx, tok, "", nil)
	require.NoError(t, err)
	require.Equal(t, 3, v.Acked)
	require.Equal(t, []incident.State{incident.Acked, incident.Acked, incident.Acked, incident.Acked}, states())
	for _, e := range v.Groups {
		require.False(t, e.View.CanAck)
	}
}
