package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Golden compares got with the file at path, rewriting it first when
// update is set (the tests' -update flag).
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "rewrite it with go test -update")
	require.Equal(t, string(want), string(got))
}

// HTMLMain is the <main> element of a page, what differs between pages
// that share a layout: goldens of many pages keep only it, and one golden
// of a whole page guards the shared head and styles.
func HTMLMain(page []byte) []byte {
	s := string(page)
	from, to := strings.Index(s, "<main"), strings.LastIndex(s, "</main>")
	if from < 0 || to < from {
		return page
	}
	return []byte(s[from:to+len("</main>")] + "\n")
}
