package mindrelay

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSamplesAreEmbedded(t *testing.T) {
	names := Samples()
	require.Contains(t, names, "alertmanager/am-0.25-group-1.json")
	require.Contains(t, names, "grafana/docs-example-firing.json")
	for _, name := range names {
		b, err := Sample(name)
		require.NoError(t, err)
		require.True(t, json.Valid(b), name)
		onDisk, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		require.Equal(t, onDisk, b, name)
	}
	_, err := Sample("alertmanager/nope.json")
	require.Error(t, err)
}

// A user's clone has nothing beside it: no tracked file may reach outside
// the repository for the team's shared folder.
func TestNoFileReachesOutsideTheRepository(t *testing.T) {
	outside := ".." + "/shared" // split so this file does not match itself
	files := trackedFiles(t)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // deleted in the work tree, or a dangling link
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, outside) {
				t.Errorf("%s:%d refers to %s: copy what it needs into the repository", f, i+1, outside)
			}
		}
	}
}

// trackedFiles lists the repository's files: git's list in a checkout, or
// every file under the module root in an exported tree.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	}
	var files []string
	require.NoError(t, filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "data") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	}))
	return files
}
