package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The snapshot rides on Enqueue's commit: the latest notification of a
// group wins, an older one that commits later does not overwrite it, and a
// duplicate (skipped) notification writes nothing.
func TestSnapshotWrittenByEnqueue(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	acks, ok := AcksOf(s)
	require.True(t, ok)

	_, err := acks.Snapshot(ctx, "g")
	require.ErrorIs(t, err, ErrNoSnapshot)

	n1 := note("n1", "g")
	n1.Snapshot = []byte(`{"v":1}`)
	n2 := note("n2", "g")
	n2.CreatedAt = t0.Add(time.Minute)
	n2.Snapshot = []byte(`{"v":2}`)
	plain := note("n3", "other") // no snapshot: none written
	enqueue(t, s, n1, n2, plain)

	sn, err := acks.Snapshot(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, `{"v":2}`, string(sn.Data))
	require.Equal(t, "n2", sn.NotificationID)
	require.Equal(t, "r", sn.Receiver)
	require.Equal(t, "firing", sn.Status)
	_, err = acks.Snapshot(ctx, "other")
	require.ErrorIs(t, err, ErrNoSnapshot)

	late := note("n0", "g") // accepted before n2, committed after it
	late.Snapshot = []byte(`{"v":0}`)
	enqueue(t, s, late)
	dup := n1 // already queued: skipped, so its snapshot is too
	dup.CreatedAt = t0.Add(time.Hour)
	dup.Snapshot = []byte(`{"v":"dup"}`)
	enqueue(t, s, dup)
	sn, err = acks.Snapshot(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, `{"v":2}`, string(sn.Data))

	list, err := acks.Snapshots(ctx, "firing", time.Time{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = acks.Snapshots(ctx, "resolved", time.Time{})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestAckRecords(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	acks, _ := AcksOf(s)
	require.Error(t, acks.PutAck(ctx, AckRecord{}))

	require.NoError(t, acks.PutAck(ctx, AckRecord{GroupID: "a", State: AckActive, Data: []byte(`{}`), UpdatedAt: t0}))
	require.NoError(t, acks.PutAck(ctx, AckRecord{GroupID: "b", State: "unacked", Data: []byte(`{}`), UpdatedAt: t0}))
	require.NoError(t, acks.PutAck(ctx, AckRecord{GroupID: "c", State: "resolved", Data: []byte(`{"x":1}`), UpdatedAt: t0.Add(time.Hour)}))
	// Replacing a record keeps one row per group.
	require.NoError(t, acks.PutAck(ctx, AckRecord{GroupID: "c", State: "resolved", Data: []byte(`{"x":2}`), UpdatedAt: t0.Add(2 * time.Hour)}))

	got, err := acks.Acks(ctx, t0.Add(time.Minute))
	require.NoError(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.GroupID+"="+string(r.Data))
	}
	require.Equal(t, []string{"a={}", `c={"x":2}`}, ids, "active ones and recent ones")

	for i := range 3 {
		n := note(fmt.Sprint("s", i), []string{"a", "b", "c"}[i])
		n.Snapshot = []byte(`{}`)
		enqueue(t, s, n)
	}
	// Prune: "b" (ended long ago) goes, "a" (active) stays with its
	// snapshot, the snapshots of b and c go.
	n, err := acks.PruneAcks(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	got, err = acks.Acks(ctx, time.Time{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = acks.Snapshot(ctx, "a")
	require.NoError(t, err)
	_, err = acks.Snapshot(ctx, "b")
	require.ErrorIs(t, err, ErrNoSnapshot)
}

// BenchmarkEnqueueWithSnapshot is BenchmarkEnqueue with the ack loop's
// snapshot (a 3-alert group, ~3 KiB) riding on the same commit.
func BenchmarkEnqueueWithSnapshot(b *testing.B) {
	s, err := openSQLite(context.Background(), Options{Path: b.TempDir() + "/relay.db"}, migrations)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	snap := make([]byte, 3<<10)
	for i := range snap {
		snap[i] = 'x'
	}
	b.ResetTimer()
	for i := range b.N {
		n := note(fmt.Sprint(i), fmt.Sprint(i%50))
		n.Snapshot = snap
		if _, err := s.Enqueue(context.Background(), []Notification{n}); err != nil {
			b.Fatal(err)
		}
	}
}
