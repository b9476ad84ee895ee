// Package mindrelay holds what the whole module shares as data: the captured
// webhook bodies under testdata/, which tests, benchmarks, the preview page and
// `relay render` use. They are embedded so that a binary and a fresh clone need
// nothing beside the repository.
package mindrelay

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed testdata/alertmanager/*.json testdata/grafana/*.json
var samples embed.FS

// Sample returns the captured body at name, a path under testdata/ such as
// "alertmanager/am-0.25-group-1.json".
func Sample(name string) ([]byte, error) {
	b, err := samples.ReadFile("testdata/" + name)
	if err != nil {
		return nil, fmt.Errorf("sample %q: %w", name, err)
	}
	return b, nil
}

// Samples lists the captured bodies, as names Sample accepts, sorted.
func Samples() []string {
	var names []string
	_ = fs.WalkDir(samples, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p[len("testdata/"):])
		}
		return nil
	})
	sort.Strings(names)
	return names
}
