//go:build linux

// Package fsize makes file writes fail for real in tests, even as root:
// with RLIMIT_FSIZE at 0 every write(2) to a regular file fails with EFBIG
// (SIGXFSZ ignored), which SQLite reports like a full disk. File modes do
// not stop root, and a read-only mount or a full filesystem needs
// privileges CI may not have.
package fsize

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const childEnv = "MIND_RELAY_FSIZE_CHILD"

// InChild reruns the calling test alone in a child process, where the
// limit binds no other test nor go test's own log, and reports whether this
// already is the child. Use it as `if !fsize.InChild(t) { return }`.
func InChild(t *testing.T) bool {
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

// FailWrites makes every file write of this process fail until the
// returned func restores the limit.
func FailWrites(t *testing.T) (restore func()) {
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

// Limit sets another process's RLIMIT_FSIZE (0: every file write fails);
// the returned func restores it.
func Limit(t testing.TB, pid int, limit uint64) (restore func()) {
	t.Helper()
	var old unix.Rlimit
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}, &old))
	return func() {
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &old, nil))
	}
}
