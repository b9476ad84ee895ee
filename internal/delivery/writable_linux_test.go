//go:build linux

package delivery

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/testutil/fsize"

	"github.com/mindoffice/mind-relay/internal/store"
)

// The store is made unwritable as in internal/store's test (see there):
// RLIMIT_FSIZE at 0 fails every file write with EFBIG, even for root, so it
// runs in a child process of its own.

// When the store cannot write, Submit fails (the webhook answers 5xx and
// the sender retries) and readiness fails; what was accepted before is not
// lost and is delivered once the store writes again.
func TestSubmitFailsWhenTheStoreCannotWrite(t *testing.T) {
	if !fsize.InChild(t) {
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	st := openStore(t, path)
	m := newFakeMind()
	m.down()
	q := start(t, st, m, fast())
	accepted := submit(t, q.Queue, notif("a", 1, "firing"), notif("b", 1, "firing"))
	require.NoError(t, q.CheckWritable(ctx))

	restore := fsize.FailWrites(t)
	submitErr := q.Submit(ctx, []store.Notification{notif("c", 1, "firing")})
	readyErr := q.CheckWritable(ctx)
	time.Sleep(50 * time.Millisecond) // the scheduler meets the failing store too
	restore()

	require.ErrorContains(t, submitErr, "submit 1 notifications: enqueue:")
	t.Logf("Submit: %v", submitErr)
	require.ErrorContains(t, readyErr, "store not writable")
	require.Equal(t, 1.0, testutil.ToFloat64(q.m.storeErrors.WithLabelValues(opEnqueue)))
	require.Equal(t, 1.0, testutil.ToFloat64(q.m.storeErrors.WithLabelValues(opCheckWritable)))

	require.NoError(t, q.CheckWritable(ctx))
	m.up()
	m.waitShown(t, 2, 5*time.Second)
	for _, n := range accepted {
		require.Eventually(t, func() bool {
			got, err := st.Get(ctx, n.ID)
			return err == nil && got.State == store.StateDelivered
		}, 2*time.Second, 5*time.Millisecond)
	}
	shown, _ := m.snapshot()
	require.Len(t, shown, 2, "the refused notification was never accepted")
}
