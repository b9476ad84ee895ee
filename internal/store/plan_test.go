package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Claim must stop at limit rows: ordering by due time walks the state
// index and stops, where ordering by seq sorted every due row first (200ms
// a claim with 1,000 queued under -race, which starved the storm test).
func TestClaimDoesNotSortTheQueue(t *testing.T) {
	s := newTest(t)
	var ns []Notification
	for i := range 1000 {
		ns = append(ns, note(fmt.Sprint(i), fmt.Sprint(i)))
	}
	enqueue(t, s, ns...)
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN SELECT n.seq FROM notifications n
		WHERE n.next_attempt_at <= ?1 AND `+claimable+` ORDER BY n.next_attempt_at, n.seq LIMIT ?2`, 1, 4)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.NotContains(t, strings.Join(plan, "\n"), "TEMP B-TREE")
	require.Contains(t, plan[0], "USING INDEX notifications_state")

	begin := time.Now()
	got, err := s.Claim(context.Background(), time.Now(), 4)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, "0", got[0].ID)
	t.Logf("claim of 4 among 1,000: %s", time.Since(begin))
}
