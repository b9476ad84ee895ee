//go:build linux

package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/testutil/fsize"
)

// How to make a store unwritable in a test that may run as root: root
// ignores file modes (chmod 0444 changes nothing), a read-only bind mount or
// a full filesystem need privileges CI may not have. RLIMIT_FSIZE does work
// for root: with the soft limit at 0 every write(2) to a regular file fails
// with EFBIG (SIGXFSZ ignored), which SQLite reports like a full disk. It is
// a real I/O failure under the real store, nothing injected. The limit
// binds the whole process, so the test runs in a child process of its own,
// where no other test, nor the go test log, writes files meanwhile.

func TestCheckWritableFailsWhenWritesFail(t *testing.T) {
	if !fsize.InChild(t) {
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openTest(t, path)
	enqueue(t, s, note("kept", "A"))
	require.NoError(t, s.CheckWritable(ctx))

	restore := fsize.FailWrites(t)
	err := s.CheckWritable(ctx)
	_, enqErr := s.Enqueue(ctx, []Notification{note("refused", "B")})
	_, readErr := s.Get(ctx, "kept")
	restore()
	require.ErrorContains(t, err, "store not writable")
	t.Logf("CheckWritable: %v", err)
	require.ErrorContains(t, enqErr, "enqueue")
	t.Logf("Enqueue: %v", enqErr)
	require.NoError(t, readErr, "reads still work: that is why a read is no readiness check")

	// Writable again, nothing accepted lost, nothing refused half-written.
	require.NoError(t, s.CheckWritable(ctx))
	require.NoError(t, s.Close())
	s = openTest(t, path)
	require.Equal(t, StatePending, state(t, s, "kept").State)
	_, err = s.Get(ctx, "refused")
	require.ErrorIs(t, err, ErrNotFound)
	enqueue(t, s, note("later", "B"))
}
