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

func TestFold(t *testing.T) {
	ctx := context.Background()
	rule := DigestRule{After: 3, MinPriority: 2}
	of := func(receiver, id, group string, priority int) Notification {
		n := urgent(id, group, priority)
		n.Receiver = receiver
		return n
	}
	tests := []struct {
		name    string
		queue   []Notification
		rule    DigestRule
		digests map[string][]string // receiver → digested ids
		pending []string            // still sent alone
	}{
		{"at the threshold: nothing folded", []Notification{
			of("r", "w1", "A", 3), of("r", "w2", "B", 3), of("r", "w3", "C", 3),
		}, rule, map[string][]string{}, []string{"w1", "w2", "w3"}},
		{"over it: the non-urgent ones of that receiver, urgent ones alone", []Notification{
			of("r", "w1", "A", 3), of("r", "c1", "C", 0), of("r", "w2", "B", 3), of("r", "i1", "I", 4),
			of("r", "u1", "U", 5), of("other", "o1", "A", 3),
		}, rule, map[string][]string{"r": {"w1", "w2", "i1", "u1"}}, []string{"c1", "o1"}},
		{"off", []Notification{
			of("r", "w1", "A", 3), of("r", "w2", "B", 3), of("r", "w3", "C", 3), of("r", "w4", "D", 3),
		}, DigestRule{}, map[string][]string{}, []string{"w1", "w2", "w3", "w4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t)
			enqueue(t, s, tc.queue...)
			ds, err := s.Fold(ctx, t0, tc.rule)
			require.NoError(t, err)
			got := map[string][]string{}
			for _, d := range ds {
				require.Equal(t, KindDigest, d.Notification.Kind)
				data, err := DecodeDigest(d.Notification.Group)
				require.NoError(t, err)
				for _, r := range d.Digested {
					got[d.Notification.Receiver] = append(got[d.Notification.Receiver], r.ID)
					n := state(t, s, r.ID)
					require.Equal(t, StateDigested, n.State)
					require.Equal(t, d.Notification.ID, n.SupersededBy)
				}
				require.Equal(t, got[d.Notification.Receiver], data.IDs)
				dn := state(t, s, d.Notification.ID)
				require.Equal(t, StatePending, dn.State)
				require.Equal(t, 3, dn.Priority, "as urgent as its most urgent card")
			}
			require.Equal(t, tc.digests, got)
			for _, id := range tc.pending {
				require.Equal(t, StatePending, state(t, s, id).State, id)
			}
		})
	}
}

// A group folded into a digest still has its later cards (its
// resolution) sent: its stream is not blocked by the digested card.
func TestFoldKeepsLaterCardsOfTheGroup(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	for i := range 5 {
		enqueue(t, s, urgent(fmt.Sprintf("w%d", i), fmt.Sprintf("G%d", i), 3))
	}
	ds, err := s.Fold(ctx, t0, DigestRule{After: 3, MinPriority: 2})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	resolved := urgent("w0-resolved", "G0", 3)
	resolved.Status = "resolved"
	ch := enqueue(t, s, resolved)
	require.Empty(t, ch.Superseded)
	require.ElementsMatch(t, []string{ds[0].Notification.ID, "w0-resolved"}, claimIDs(t, s, 10))

	// Pruned like delivered cards once old.
	n, err := s.Prune(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 5, n)
}

// A digest still waiting when the flood goes on is merged into the next:
// one digest card per receiver at a time, listing every folded card.
func TestFoldMergesAWaitingDigest(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	rule := DigestRule{After: 2, MinPriority: 1}
	for i := range 3 {
		enqueue(t, s, urgent(fmt.Sprintf("a%d", i), fmt.Sprintf("A%d", i), 3))
	}
	first, err := s.Fold(ctx, t0, rule)
	require.NoError(t, err)
	require.Len(t, first, 1)
	for i := range 3 {
		enqueue(t, s, urgent(fmt.Sprintf("b%d", i), fmt.Sprintf("B%d", i), 2))
	}
	second, err := s.Fold(ctx, t0, rule)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.Len(t, second[0].Digested, 3, "counted once: only the cards folded now")
	require.Equal(t, []Ref{{ID: first[0].Notification.ID, Receiver: "r", GroupID: first[0].Notification.GroupID}}, second[0].Replaced)
	old := state(t, s, first[0].Notification.ID)
	require.Equal(t, StateSuperseded, old.State)
	require.Equal(t, second[0].Notification.ID, old.SupersededBy)
	data, err := DecodeDigest(state(t, s, second[0].Notification.ID).Group)
	require.NoError(t, err)
	require.Equal(t, []string{"a0", "a1", "a2", "b0", "b1", "b2"}, data.IDs)
	require.Equal(t, 2, second[0].Notification.Priority)
	require.Equal(t, []string{second[0].Notification.ID}, claimIDs(t, s, 10))
}

// A receiver's digests are spaced by MinInterval: the next one waits, and
// takes in what is folded meanwhile.
func TestFoldSpacesDigests(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	rule := DigestRule{After: 2, MinPriority: 1, MinInterval: time.Minute}
	flood := func(prefix string) {
		for i := range 3 {
			enqueue(t, s, urgent(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d", prefix, i), 3))
		}
	}
	flood("a")
	first, err := s.Fold(ctx, t0, rule)
	require.NoError(t, err)
	require.Equal(t, t0, first[0].Notification.NextAttemptAt, "the first is due at once")
	require.Equal(t, []string{first[0].Notification.ID}, claimIDs(t, s, 10))
	complete(t, s, delivered(first[0].Notification.ID))

	flood("b")
	second, err := s.Fold(ctx, t0.Add(10*time.Second), rule)
	require.NoError(t, err)
	require.Equal(t, first[0].Notification.CreatedAt.Add(time.Minute), second[0].Notification.NextAttemptAt)
	flood("c")
	third, err := s.Fold(ctx, t0.Add(20*time.Second), rule)
	require.NoError(t, err)
	require.Len(t, third[0].Replaced, 1, "the waiting digest is merged")
	require.Equal(t, first[0].Notification.CreatedAt.Add(time.Minute), third[0].Notification.NextAttemptAt)
	ns, err := s.Claim(ctx, t0.Add(30*time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, ns, "not before its time")
	ns, err = s.Claim(ctx, t0.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	data, err := DecodeDigest(ns[0].Group)
	require.NoError(t, err)
	require.Equal(t, []string{"b0", "b1", "b2", "c0", "c1", "c2"}, data.IDs)
}
