package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// urgent is note with a priority (0 most urgent).
func urgent(id, group string, priority int) Notification {
	n := note(id, group)
	n.Priority = priority
	return n
}

func TestClaimMostUrgentFirst(t *testing.T) {
	const warning, critical = 3, 0
	tests := []struct {
		name  string
		setup func(t *testing.T, s Store)
		limit int
		want  []string
	}{
		{"critical behind a backlog is claimed first", func(t *testing.T, s Store) {
			for i := range 50 {
				enqueue(t, s, urgent(fmt.Sprintf("w%02d", i), fmt.Sprintf("W%02d", i), warning))
			}
			enqueue(t, s, urgent("crit", "C", critical))
		}, 3, []string{"crit", "w00", "w01"}},
		{"same urgency: oldest first", func(t *testing.T, s Store) {
			enqueue(t, s, urgent("b", "B", warning), urgent("a", "A", warning))
		}, 2, []string{"b", "a"}},
		{"unknown severities (a larger rank) last", func(t *testing.T, s Store) {
			enqueue(t, s, urgent("unknown", "U", 5), urgent("info", "I", 4), urgent("page", "P", 1))
		}, 3, []string{"page", "info", "unknown"}},
		{"a stream in flight holds its urgent successor back", func(t *testing.T, s Store) {
			enqueue(t, s, urgent("c-firing", "C", critical))
			require.Equal(t, []string{"c-firing"}, claimIDs(t, s, 1))
			enqueue(t, s, urgent("w", "W", warning))
			resolved := urgent("c-resolved", "C", critical)
			resolved.Status = "resolved"
			enqueue(t, s, resolved)
		}, 10, []string{"w"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t)
			tc.setup(t, s)
			require.Equal(t, tc.want, claimIDs(t, s, tc.limit))
		})
	}
}

// A group's resolved card never overtakes its firing card, and keeps the
// group's urgency once the firing card is done.
func TestClaimKeepsStreamOrder(t *testing.T) {
	s := newTest(t)
	enqueue(t, s, urgent("c-firing", "C", 0))
	require.Equal(t, []string{"c-firing"}, claimIDs(t, s, 1))
	for i := range 5 {
		enqueue(t, s, urgent(fmt.Sprintf("w%d", i), fmt.Sprintf("W%d", i), 3))
	}
	resolved := urgent("c-resolved", "C", 0)
	resolved.Status = "resolved"
	enqueue(t, s, resolved)
	require.Equal(t, []string{"w0"}, claimIDs(t, s, 1), "the resolved card waits for its firing card")
	complete(t, s, delivered("c-firing"))
	require.Equal(t, []string{"c-resolved", "w1"}, claimIDs(t, s, 2))
	require.Equal(t, 0, state(t, s, "c-resolved").Priority)
}

func TestEnqueueDeduplicates(t *testing.T) {
	ctx := context.Background()
	keyed := func(id, group, key string, until time.Time) Notification {
		n := note(id, group)
		n.DedupeKey, n.DedupeUntil = key, until
		return n
	}
	now := time.Now()
	tests := []struct {
		name     string
		batches  [][]Notification
		queued   []string
		deduped  []string
		keysLeft int
	}{
		{"the same content within the window is dropped", [][]Notification{
			{keyed("a", "G", "k1", now.Add(time.Minute))},
			{keyed("b", "G", "k1", now.Add(2*time.Minute))},
		}, []string{"a"}, []string{"b"}, 1},
		{"in one batch too", [][]Notification{
			{keyed("a", "G", "k1", now.Add(time.Minute)), keyed("b", "G", "k1", now.Add(time.Minute))},
		}, []string{"a"}, []string{"b"}, 1},
		{"other content is queued", [][]Notification{
			{keyed("a", "G", "k1", now.Add(time.Minute))},
			{keyed("b", "G", "k2", now.Add(time.Minute))},
		}, []string{"a", "b"}, nil, 2},
		{"after the window it is queued again, and the old key pruned", [][]Notification{
			{keyed("a", "G", "k1", now.Add(-time.Second)), keyed("x", "X", "kx", now.Add(-time.Second))},
			{keyed("b", "G", "k1", now.Add(time.Minute))},
		}, []string{"a", "x", "b"}, nil, 1},
		{"no key: never deduplicated", [][]Notification{
			{note("a", "G")}, {note("b", "H")},
		}, []string{"a", "b"}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t)
			var deduped []string
			for _, b := range tc.batches {
				ch, err := s.Enqueue(ctx, b)
				require.NoError(t, err)
				for _, r := range ch.Deduplicated {
					deduped = append(deduped, r.ID)
				}
			}
			require.Equal(t, tc.deduped, deduped)
			for _, id := range tc.queued {
				require.Contains(t, []State{StatePending, StateSuperseded}, state(t, s, id).State, id)
			}
			for _, id := range tc.deduped {
				_, err := s.Get(ctx, id)
				require.ErrorIs(t, err, ErrNotFound, "a duplicate leaves no row")
			}
			var keys int
			require.NoError(t, s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dedupe`).Scan(&keys))
			require.Equal(t, tc.keysLeft, keys)
		})
	}
}
