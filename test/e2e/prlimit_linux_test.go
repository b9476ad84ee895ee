//go:build linux

package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// limitFileSize sets another process's RLIMIT_FSIZE: at 0 every write to a
// regular file fails with EFBIG, which SQLite reports as a full disk. It
// works as root too, unlike file modes. The returned func restores it.
func limitFileSize(t *testing.T, pid int, limit uint64) (restore func()) {
	t.Helper()
	var old unix.Rlimit
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}, &old))
	return func() {
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &old, nil))
	}
}
