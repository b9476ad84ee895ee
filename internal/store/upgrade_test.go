package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A database written by the previous release (schema 2, cards rendered
// before they were queued) is migrated on start, and the rows it had
// queued are claimed with their body intact and no group: sent as they
// are, with their request id.
func TestUpgradeFromSchema2KeepsQueuedRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	old, err := openSQLite(ctx, Options{Path: path}, migrations[:2])
	require.NoError(t, err)
	_, err = old.db.ExecContext(ctx, `INSERT INTO notifications
		(id, group_id, receiver, source, status, endpoint, request_id, body, state,
		 created_at, queued_at, attempts, next_attempt_at, updated_at)
		VALUES ('old-1', 'g', 'r', 'alertmanager', 'firing', '/open-platform/api/robot/send/message', 'req-old-1',
		        '{"receive_open_ids":["ou_a"],"msg_type":"interactive","content":"{}"}', 'pending',
		        ?, ?, 2, 0, ?)`, nanos(t0), nanos(t0), nanos(t0))
	require.NoError(t, err)
	require.NoError(t, old.Close())

	s := openTest(t, path)
	got, err := s.Claim(ctx, t0, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	n := got[0]
	require.Equal(t, "old-1", n.ID)
	require.Equal(t, "req-old-1", n.Request.RequestID)
	require.JSONEq(t, `{"receive_open_ids":["ou_a"],"msg_type":"interactive","content":"{}"}`, string(n.Request.Body))
	require.Empty(t, n.Group, "rendered before it was queued: sent as it is")
	require.Equal(t, 2, n.Attempts)

	// And the old binary's schema refuses a newer database.
	require.NoError(t, s.Close())
	_, err = openSQLite(ctx, Options{Path: path}, migrations[:2])
	require.ErrorContains(t, err, "newer than this binary knows")
}
