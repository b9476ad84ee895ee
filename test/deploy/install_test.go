package deploy

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// A default install either runs or fails at render time saying which
// value to set; dryRun needs no Mind app; what renders, the relay accepts
// (check-config as the pod runs, --dry-run included) and starts on,
// answering both probes.
func TestChartInstallRunsOrSaysWhatToSet(t *testing.T) {
	relay := buildRelay(t)
	cases := []struct {
		name string
		args []string
		// wantFail: the render fails with exactly this message (helm
		// prints it after "execution error at (...): ").
		wantFail string
	}{
		{
			name:     "defaults",
			wantFail: "config.mind.app_id is empty: set it to your Mind robot's app id (config.mind.app_id in your values file, or --set config.mind.app_id=<app id>), or set dryRun=true to try the relay without a Mind app",
		},
		{
			name:     "defaults with an app id",
			args:     []string{"--set", "config.mind.app_id=robot_x"},
			wantFail: "no Mind app secret: set secrets.existingSecret to a Secret with the key mind-app-secret and list that key in secrets.existingSecretKeys (or set secrets.mindAppSecret); the relay does not start without the app secret (dryRun=true runs without a Mind app)",
		},
		{
			name:     "existing secret without the app secret",
			args:     []string{"--set", "config.mind.app_id=robot_x", "--set", "secrets.existingSecret=relay-secrets", "--set", "secrets.existingSecretKeys={ack-secret}"},
			wantFail: "secrets.existingSecretKeys lacks mind-app-secret: add it, and the key mind-app-secret holding the Mind app secret to the Secret relay-secrets; the relay does not start without the app secret (dryRun=true runs without a Mind app)",
		},
		{name: "dryRun", args: valuesFile(dryRunValues)},
		{name: "dryRun with --set", args: []string{"--set", "dryRun=true"}},
		{name: "app id and secret", args: valuesFile(minimalValues)},
		{name: "app id and existing secret", args: []string{"--set", "config.mind.app_id=robot_x", "--set", "secrets.existingSecret=relay-secrets", "--set", "secrets.existingSecretKeys={mind-app-secret}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := helmTemplate(t, c.args...)
			if c.wantFail != "" {
				if err == nil {
					t.Fatalf("helm template %v rendered; want it to fail with %q", c.args, c.wantFail)
				}
				if !strings.Contains(err.Error(), "execution error at (") || !strings.Contains(err.Error(), "): "+c.wantFail+"\n") {
					t.Fatalf("helm template %v: want the render to fail with\n  %s\ngot:\n%v", c.args, c.wantFail, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			startRendered(t, relay, r)
		})
	}
}

// startRendered lays out what the pod sees, runs check-config on it as the
// pod's args say (--dry-run or not), starts the relay with those args and
// checks its probes. Placeholders stand for an existing Secret's values.
func startRendered(t *testing.T, relay string, r *rendered) (*runningRelay, string) {
	t.Helper()
	path := installRendered(t, r)
	return startInstalled(t, relay, r, path), path
}

func startInstalled(t *testing.T, relay string, r *rendered, path string) *runningRelay {
	t.Helper()
	args := podArgs(t, r)
	if out, err := run(t, "", nil, relay, checkConfigArgs(path, args)...); err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("relay %v: %v\n%s\nconfig:\n%s", checkConfigArgs(path, args), err, out, b)
	}
	rr := startRelay(t, relay, path, args)
	requireProbesPass(t, rr)
	return rr
}

// installDoc is one document's install sequence: the fenced blocks marked
// <!-- install:NAME --> (secret, values, helm).
type installDoc struct {
	rel    string
	blocks map[string]string
}

func readInstallDoc(t *testing.T, rel string) installDoc {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	d := installDoc{rel: rel, blocks: map[string]string{}}
	rest := string(b)
	const open = "<!-- install:"
	for {
		i := strings.Index(rest, open)
		if i < 0 {
			break
		}
		rest = rest[i+len(open):]
		j := strings.Index(rest, " -->\n")
		if j < 0 {
			t.Fatalf("%s: unterminated %s marker", rel, open)
		}
		name := rest[:j]
		rest = rest[j+len(" -->\n"):]
		nl := strings.Index(rest, "\n")
		if !strings.HasPrefix(rest, "```") || nl < 0 {
			t.Fatalf("%s: the install:%s marker is not followed by a fenced block", rel, name)
		}
		rest = rest[nl+1:]
		end := strings.Index(rest, "\n```\n")
		if end < 0 {
			t.Fatalf("%s: the install:%s block is not closed", rel, name)
		}
		if _, dup := d.blocks[name]; dup {
			t.Fatalf("%s: two install:%s blocks", rel, name)
		}
		d.blocks[name] = rest[:end+1]
		rest = rest[end:]
	}
	for _, want := range []string{"secret", "values", "helm"} {
		if d.blocks[want] == "" {
			t.Fatalf("%s: no <!-- install:%s --> block", rel, want)
		}
	}
	return d
}

// shellCalls runs a README's shell block in bash with kubectl and helm
// replaced by functions that record their arguments, so the commands are
// read exactly as a shell reads them ($(openssl rand ...) included).
func shellCalls(t *testing.T, dir, script string) [][]string {
	t.Helper()
	calls := filepath.Join(dir, "calls")
	prelude := `set -eu
__rec() { printf '%d\0' "$#" >>"$CALLS"; for a in "$@"; do printf '%s\0' "$a" >>"$CALLS"; done; }
kubectl() { __rec kubectl "$@"; }
helm() { __rec helm "$@"; }
`
	cmd := exec.Command("bash", "-c", prelude+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CALLS="+calls)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash on the README's commands: %v\n%s\n%s", err, out, script)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatalf("the README's commands ran neither kubectl nor helm: %v", err)
	}
	fields := strings.Split(string(b), "\x00")
	var out [][]string
	for i := 0; i < len(fields)-1; {
		n, err := strconv.Atoi(fields[i])
		if err != nil || i+1+n > len(fields) {
			t.Fatalf("bad call record at %d: %q", i, fields)
		}
		out = append(out, fields[i+1:i+1+n])
		i += 1 + n
	}
	return out
}

// cliArgs splits a kubectl/helm command line into positional arguments
// and flags. Flags not in takesValue or boolean fail the test, so a README
// change the test does not understand is noticed.
func cliArgs(t *testing.T, argv []string, takesValue, boolean []string) (pos []string, flags map[string][]string) {
	t.Helper()
	flags = map[string][]string{}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case slices.Contains(boolean, name):
			flags[name] = append(flags[name], "true")
		case slices.Contains(takesValue, name):
			if !hasVal {
				if i+1 >= len(argv) {
					t.Fatalf("%v: %s without a value", argv, name)
				}
				i++
				val = argv[i]
			}
			flags[name] = append(flags[name], val)
		default:
			t.Fatalf("%v: flag %s is not understood by this test; teach it", argv, name)
		}
	}
	return pos, flags
}

func oneFlag(t *testing.T, argv []string, flags map[string][]string, names ...string) string {
	t.Helper()
	var vals []string
	for _, n := range names {
		vals = append(vals, flags[n]...)
	}
	if len(vals) != 1 {
		t.Fatalf("%v: want exactly one %v, got %v", argv, names, vals)
	}
	return vals[0]
}

// readmeInstall is what the README's blocks do, as the test reads them.
type readmeInstall struct {
	namespace    string
	secretName   string
	secret       map[string]string // key -> value, as kubectl stores it
	release      string
	chart        string
	valuesFile   string // path of the values block, written out
	helmArgs     []string
	rolloutCheck string // deploy/NAME the README waits for
}

func parseReadmeInstall(t *testing.T, d installDoc) readmeInstall {
	t.Helper()
	dir := t.TempDir()
	var in readmeInstall

	// The values block names its file in its first line: "# my-values.yaml".
	first, _, _ := strings.Cut(d.blocks["values"], "\n")
	name := strings.TrimSpace(strings.TrimPrefix(first, "#"))
	if !strings.HasPrefix(first, "# ") || !strings.HasSuffix(name, ".yaml") {
		t.Fatalf("%s: the values block's first line %q does not name its file (# my-values.yaml)", d.rel, first)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(d.blocks["values"]), 0o644); err != nil {
		t.Fatal(err)
	}

	var namespaces []string
	for _, argv := range shellCalls(t, dir, d.blocks["secret"]+d.blocks["helm"]) {
		switch {
		case argv[0] == "kubectl":
			pos, flags := cliArgs(t, argv[1:], []string{"-n", "--namespace", "--from-literal"}, nil)
			switch {
			case len(pos) == 3 && pos[0] == "create" && pos[1] == "namespace":
				namespaces = append(namespaces, pos[2])
			case len(pos) == 4 && pos[0] == "create" && pos[1] == "secret" && pos[2] == "generic":
				if in.secretName != "" {
					t.Fatalf("%s: two kubectl create secret commands", d.rel)
				}
				in.secretName = pos[3]
				ns := oneFlag(t, argv, flags, "-n", "--namespace")
				if !slices.Contains(namespaces, ns) {
					t.Errorf("%s: the Secret is created in namespace %q, which the commands before it do not create", d.rel, ns)
				}
				in.secret = map[string]string{}
				for _, kv := range flags["--from-literal"] {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || v == "" {
						t.Fatalf("%s: --from-literal=%s has no value", d.rel, kv)
					}
					in.secret[k] = v
				}
			case len(pos) == 3 && pos[0] == "rollout" && pos[1] == "status":
				in.rolloutCheck = pos[2]
			default:
				t.Fatalf("%s: kubectl %v is not understood by this test; teach it", d.rel, argv[1:])
			}
		case argv[0] == "helm" && len(argv) > 1 && argv[1] == "install":
			pos, flags := cliArgs(t, argv[2:], []string{"-n", "--namespace", "-f", "--values", "--set"}, []string{"--create-namespace", "--wait"})
			if len(pos) != 2 {
				t.Fatalf("%s: helm install %v: want RELEASE CHART", d.rel, argv[2:])
			}
			in.release, in.chart = pos[0], pos[1]
			in.namespace = oneFlag(t, argv, flags, "-n", "--namespace")
			f := oneFlag(t, argv, flags, "-f", "--values")
			if f != name {
				t.Fatalf("%s: helm install reads -f %s, but the values block is %s", d.rel, f, name)
			}
			in.valuesFile = filepath.Join(dir, name)
			in.helmArgs = []string{"-f", in.valuesFile}
			for _, s := range flags["--set"] {
				in.helmArgs = append(in.helmArgs, "--set", s)
			}
		default:
			t.Fatalf("%s: %v is not understood by this test; teach it", d.rel, argv)
		}
	}
	if in.secretName == "" || in.release == "" {
		t.Fatalf("%s: the install blocks lack kubectl create secret generic or helm install", d.rel)
	}
	if filepath.Clean(filepath.Join(repoRoot, in.chart)) != repoPath(chartDir) {
		t.Errorf("%s: helm install %s, want the chart at ./%s", d.rel, in.chart, chartDir)
	}
	if !slices.Contains(namespaces, in.namespace) {
		t.Errorf("%s: helm installs into namespace %q, which the commands do not create", d.rel, in.namespace)
	}
	return in
}

// The README and the chart README give the same install sequence, and it
// works: the Secret holds every key the values mount and no other, the
// chart renders with exactly those values, and the relay — not in dry-run —
// accepts the config with no warning, starts, answers its probes, and
// takes each secret of the Secret where it belongs.
func TestReadmeInstallWorks(t *testing.T) {
	relay := buildRelay(t)
	docs := []installDoc{readInstallDoc(t, "README.md"), readInstallDoc(t, chartDir+"/README.md")}
	if !reflect.DeepEqual(docs[0].blocks, docs[1].blocks) {
		for name, b := range docs[0].blocks {
			if docs[1].blocks[name] != b {
				t.Errorf("the install:%s block differs between README.md and %s/README.md:\n%s\n---\n%s", name, chartDir, b, docs[1].blocks[name])
			}
		}
		t.FailNow()
	}
	in := parseReadmeInstall(t, docs[0])

	vals := readYAMLAbs(t, in.valuesFile)
	if got := str(dig(vals, "secrets", "existingSecret")); got != in.secretName {
		t.Errorf("the values mount secrets.existingSecret %q; the README creates the Secret %q", got, in.secretName)
	}
	var listed []string
	for _, k := range list(dig(vals, "secrets", "existingSecretKeys")) {
		listed = append(listed, str(k))
	}
	var created []string
	for k := range in.secret {
		created = append(created, k)
	}
	sort.Strings(listed)
	sort.Strings(created)
	if !reflect.DeepEqual(listed, created) {
		t.Errorf("secrets.existingSecretKeys %v, but the README's Secret holds %v: a key not listed is never mounted, a listed key missing stops the pod", listed, created)
	}
	if dryRun, _ := dig(vals, "dryRun").(bool); dryRun {
		t.Fatal("the README's values are a dry run; they must be a real install")
	}

	r, err := helmTemplateAs(t, in.release, in.namespace, in.helmArgs...)
	if err != nil {
		t.Fatal(err)
	}
	dep := r.one(t, "Deployment")
	if want := "deploy/" + str(dig(dep, "metadata", "name")); in.rolloutCheck != want {
		t.Errorf("the README waits for kubectl rollout status %q; the chart's Deployment is %s", in.rolloutCheck, want)
	}
	var items []string
	for _, v := range list(dig(dep, "spec", "template", "spec", "volumes")) {
		if str(dig(v, "name")) != "secrets" {
			continue
		}
		if got := str(dig(v, "secret", "secretName")); got != in.secretName {
			t.Errorf("the pod mounts the Secret %q, the README creates %q", got, in.secretName)
		}
		for _, it := range list(dig(v, "secret", "items")) {
			items = append(items, str(dig(it, "key")))
		}
	}
	sort.Strings(items)
	if !reflect.DeepEqual(items, created) {
		t.Errorf("the pod mounts the keys %v of the Secret, which holds %v", items, created)
	}

	// Mind and browsers reach /mind/callback and /ack/ at external_url.
	cfg := r.config(t)
	ext := str(dig(cfg, "external_url"))
	var hosts []string
	for _, rule := range list(dig(r.one(t, "Ingress"), "spec", "rules")) {
		hosts = append(hosts, str(dig(rule, "host")))
	}
	if len(hosts) != 1 || (ext != "https://"+hosts[0] && ext != "http://"+hosts[0]) {
		t.Errorf("external_url %q is not the address of the Ingress (hosts %v)", ext, hosts)
	}
	for _, d := range docs {
		b, _ := os.ReadFile(repoPath(d.rel))
		if want := ext + "/mind/callback?token=<mind-callback-token>"; !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s does not tell Mind's callback URL %s", d.rel, want)
		}
	}

	// What the pod sees: the config, and the README's Secret as files.
	path := installRendered(t, r)
	for k, v := range in.secret {
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "secrets", k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if args := podArgs(t, r); slices.Contains(args, "--dry-run") {
		t.Fatalf("the README's install runs with %v", args)
	}
	out, err := run(t, "", nil, relay, checkConfigArgs(path, podArgs(t, r))...)
	if err != nil {
		t.Fatalf("relay check-config on the README's install: %v\n%s", err, out)
	}
	if strings.Contains(strings.ToLower(out), "warn") {
		t.Errorf("relay check-config warns on the README's install (a step left out?):\n%s", out)
	}
	rr := startInstalled(t, relay, r, path)

	// Each secret is in force where it belongs: without it a request is
	// refused (401); with it, it gets past auth (400: the body is empty).
	bearer := func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + in.secret[k]} }
	checks := []struct {
		method, path, key string
		with              map[string]string
		wantWith          int
	}{
		{http.MethodPost, "/mind/callback", "mind-callback-token", map[string]string{"X-Relay-Callback-Token": in.secret["mind-callback-token"]}, http.StatusBadRequest},
		{http.MethodPost, "/webhook/alertmanager", "alertmanager-bearer-token", bearer("alertmanager-bearer-token"), http.StatusBadRequest},
		{http.MethodPost, "/webhook/grafana", "grafana-bearer-token", bearer("grafana-bearer-token"), http.StatusBadRequest},
		{http.MethodGet, "/api/v1/dlq", "admin-token", bearer("admin-token"), http.StatusOK},
	}
	for _, c := range checks {
		if code, body := rr.do(t, c.method, c.path, nil, "{}"); code != http.StatusUnauthorized {
			t.Errorf("%s %s without %s: %d %s, want 401", c.method, c.path, c.key, code, body)
		}
		if code, body := rr.do(t, c.method, c.path, c.with, "{}"); code != c.wantWith {
			t.Errorf("%s %s with %s: %d %s, want %d", c.method, c.path, c.key, code, body, c.wantWith)
		}
	}
}

func readYAMLAbs(t *testing.T, path string) obj {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o obj
	if err := yaml.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return o
}
