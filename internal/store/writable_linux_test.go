//go:build linux

package store

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// How to make a store unwritable in a test that may run as root: root
// ignores file modes (chmod 0444 changes nothing), a read-only bind mount or
// a full filesystem need privileges CI may not have. RLIMIT_FSIZE does work
// for root: with the soft limit at 0 every write(2) to a regular file fails
// with EFBIG (SIGXFSZ ignored), which SQLite reports like a full disk. It is
// a real I/O failure under the real store, nothing injected. The limit
// binds the whole process, so the test runs in a child process of its own,
// where no other test, nor the go test log, writes files meanwhile.

const childEnv = "MIND_RELAY_FSIZE_CHILD"

// inChild reruns the calling test alone in a child process and reports
// whether this already is the child.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+t.Name())
	return false
}

// failWrites makes every file write of this process fail until the
// returned func restores the limit.
func failWrites(t *testing.T) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	signal.Ignore(syscall.SIGXFSZ)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 0, Max: old.Max}))
	return func() {
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		signal.Reset(syscall.SIGXFSZ)
	}
}

func TestCheckWritableFailsWhenWritesFail(t *testing.T) {
	if !inChild(t) {
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openTest(t, path)
	enqueue(t, s, note("kept", "A"))
	require.NoError(t, s.CheckWritable(ctx))

	restore := failWrites(t)
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
