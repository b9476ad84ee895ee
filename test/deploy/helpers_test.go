package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Paths, relative to the repository root.
const (
	chartDir      = "helm/mind-relay"
	allOnValues   = "helm/mind-relay/ci/all-on-values.yaml"
	minimalValues = "helm/mind-relay/ci/minimal-values.yaml"
	dryRunValues  = "helm/mind-relay/ci/dry-run-values.yaml"
	release       = "rel"
	namespace     = "monitoring"
)

var (
	repoRoot string
	workDir  string // removed after the run
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	repoRoot = root
	workDir, err = os.MkdirTemp("", "mind-relay-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

func repoPath(rel string) string { return filepath.Join(repoRoot, filepath.FromSlash(rel)) }

// toolsRequired reports whether a missing tool fails the run instead of
// skipping: in CI, or when asked.
func toolsRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MIND_RELAY_REQUIRE_TOOLS") == "1"
}

var (
	gopathOnce sync.Once
	gopathBin  string
)

// requireTool finds name on PATH or in $(go env GOPATH)/bin, or skips the
// test (fails it in CI).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopathOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
				gopathBin = filepath.Join(dir, "bin")
				break
			}
		}
	})
	if gopathBin != "" {
		p := filepath.Join(gopathBin, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found on PATH or in $(go env GOPATH)/bin; `make tools` installs it", name)
	if toolsRequired() {
		t.Fatalf("%s (required: CI=true or MIND_RELAY_REQUIRE_TOOLS=1)", msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a command from the repository root and returns its combined output.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = repoRoot
	}
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(15 * time.Minute): // a cold build of the relay takes minutes
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s timed out", name)
	}
}

// obj is one decoded Kubernetes manifest.
type obj = map[string]any

// rendered is the output of one `helm template`.
type rendered struct {
	docs []obj
	raw  string
}

// helmTemplate renders the chart with the given extra arguments (-f FILE,
// --set K=V). The error carries helm's output.
func helmTemplate(t *testing.T, args ...string) (*rendered, error) {
	t.Helper()
	return helmTemplateAs(t, release, namespace, args...)
}

// helmTemplateAs is helmTemplate with a release name and namespace of its own.
func helmTemplateAs(t *testing.T, rel, ns string, args ...string) (*rendered, error) {
	t.Helper()
	helm := requireTool(t, "helm")
	full := append([]string{"template", rel, repoPath(chartDir), "--namespace", ns}, args...)
	out, err := exec.Command(helm, full...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(full, " "), err, out)
	}
	r := &rendered{raw: string(out)}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var d obj
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse helm output: %w", err)
		}
		if d != nil {
			r.docs = append(r.docs, d)
		}
	}
	return r, nil
}

func mustTemplate(t *testing.T, args ...string) *rendered {
	t.Helper()
	r, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// valuesFile turns a repository-relative values file into helm's -f flag.
func valuesFile(rel string) []string { return []string{"-f", repoPath(rel)} }

// kinds lists the docs of one kind.
func (r *rendered) kinds(kind string) []obj {
	var out []obj
	for _, d := range r.docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}

// one returns the single doc of a kind, failing the test otherwise.
func (r *rendered) one(t *testing.T, kind string) obj {
	t.Helper()
	ds := r.kinds(kind)
	if len(ds) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(ds))
	}
	return ds[0]
}

// configYAML is the relay config the chart rendered into its ConfigMap.
func (r *rendered) configYAML(t *testing.T) string {
	t.Helper()
	for _, cm := range r.kinds("ConfigMap") {
		if s, ok := dig(cm, "data", "config.yaml").(string); ok {
			return s
		}
	}
	t.Fatal("no ConfigMap with data.config.yaml")
	return ""
}

// config is configYAML decoded.
func (r *rendered) config(t *testing.T) obj {
	t.Helper()
	var c obj
	if err := yaml.Unmarshal([]byte(r.configYAML(t)), &c); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return c
}

// relayContainer is the Deployment's relay container.
func (r *rendered) relayContainer(t *testing.T) obj {
	t.Helper()
	dep := r.one(t, "Deployment")
	for _, c := range list(dig(dep, "spec", "template", "spec", "containers")) {
		if m, ok := c.(obj); ok && m["name"] == "relay" {
			return m
		}
	}
	t.Fatal("no container named relay")
	return nil
}

// dig walks maps by key.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// readYAML decodes a repository file.
func readYAML(t *testing.T, rel string) obj {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	var o obj
	if err := yaml.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return o
}

// Cached renders: most tests look at the same three.
var (
	renderMu    sync.Mutex
	renderCache = map[string]*rendered{}
)

func cachedTemplate(t *testing.T, valuesRel string) *rendered {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if r, ok := renderCache[valuesRel]; ok {
		return r
	}
	var args []string
	if valuesRel != "" {
		args = valuesFile(valuesRel)
	}
	r := mustTemplate(t, args...)
	renderCache[valuesRel] = r
	return r
}

// renderSets are the values files every structural check runs against.
var renderSets = []struct{ name, values string }{
	{"defaults, dry-run", dryRunValues}, // the bare defaults do not render: no Mind app
	{"minimal", minimalValues},
	{"all-on", allOnValues},
}
