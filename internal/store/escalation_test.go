package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/incident"
)

// A step is taken once: a second update taking it commits nothing, not
// its card nor its timeline line.
func TestEscalationStepTakenOnce(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, card("n1", "g", t0, fa))
	id := incident.ID("g", 1)
	step := EscalationStep{ID: "step-1", IncidentID: id, Policy: "db", Epoch: t0, Round: 0, Step: 1, At: t0.Add(5 * time.Minute)}
	take := func(cardID string) func(incident.Incident) (IncidentUpdate, error) {
		return func(cur incident.Incident) (IncidentUpdate, error) {
			n := note(cardID, "g/escalation")
			n.Kind = KindEscalation
			return IncidentUpdate{
				Change:  incident.Change{Next: cur.Clone(), Events: []incident.Event{{At: t0, Kind: "escalated", Detail: cardID}}},
				Enqueue: []Notification{n}, Steps: []EscalationStep{step},
			}, nil
		}
	}
	_, ch, err := s.UpdateIncident(ctx, id, take("e1"))
	require.NoError(t, err)
	require.Equal(t, 1, ch.Count)
	_, _, err = s.UpdateIncident(ctx, id, take("e2"))
	require.ErrorIs(t, err, ErrStepTaken)
	_, err = s.Get(ctx, "e2")
	require.ErrorIs(t, err, ErrNotFound, "the second attempt's card rolled back with it")
	evs, err := s.Timeline(ctx, id)
	require.NoError(t, err)
	var details []string
	for _, e := range evs {
		if e.Kind == "escalated" {
			details = append(details, e.Detail)
		}
	}
	require.Equal(t, []string{"e1"}, details)
	got, err := s.EscalationSteps(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []EscalationStep{step}, got)
}

func TestRecipientsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	require.NoError(t, s.RecordRecipients(ctx, "i1", []string{"ou_b", "ou_a"}, t0))
	require.NoError(t, s.RecordRecipients(ctx, "i1", []string{"ou_a", "ou_c"}, t0.Add(time.Minute)))
	require.NoError(t, s.RecordRecipients(ctx, "", []string{"ou_x"}, t0), "no incident: nothing to record")
	got, err := s.Recipients(ctx, "i1")
	require.NoError(t, err)
	require.Equal(t, []string{"ou_a", "ou_b", "ou_c"}, got)
	got, err = s.Recipients(ctx, "i2")
	require.NoError(t, err)
	require.Empty(t, got)
}
