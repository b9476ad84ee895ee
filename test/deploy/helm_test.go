package deploy

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestHelmLint(t *testing.T) {
	helm := requireTool(t, "helm")
	files, err := filepath.Glob(repoPath(chartDir + "/ci/*-values.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("want the chart's ci/*-values.yaml files, got %v (%v)", files, err)
	}
	cases := map[string][]string{"default": nil}
	for _, f := range files {
		cases[filepath.Base(f)] = []string{"-f", f}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, "", nil, helm, append([]string{"lint", "--strict", repoPath(chartDir)}, args...)...)
			if err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// The defaults (in dry-run: without it they need a Mind app, see
// TestChartInstallRunsOrSaysWhatToSet) render only what is not opt-in.
func TestDefaultRender(t *testing.T) {
	r := cachedTemplate(t, dryRunValues)
	got := map[string]int{}
	for _, d := range r.docs {
		got[str(d["kind"])]++
	}
	want := map[string]int{"ServiceAccount": 1, "ConfigMap": 1, "PersistentVolumeClaim": 1, "Service": 1, "Deployment": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default render: kinds %v, want %v (Secret, Ingress, ServiceMonitor, PrometheusRule and PDB are opt-in)", got, want)
	}
	dep := r.one(t, "Deployment")
	if s := str(dig(dep, "spec", "strategy", "type")); s != "Recreate" {
		t.Errorf("strategy %q with SQLite, want Recreate", s)
	}
	if n := dig(dep, "spec", "replicas"); n != 1 {
		t.Errorf("replicas %v, want 1", n)
	}
	cfg := r.config(t)
	if p := str(dig(cfg, "store", "path")); !strings.HasPrefix(p, "/var/lib/mind-relay/") {
		t.Errorf("store.path %q is not on the volume mounted at /var/lib/mind-relay", p)
	}
	var mounted bool
	for _, m := range list(r.relayContainer(t)["volumeMounts"]) {
		if str(dig(m, "mountPath")) == "/var/lib/mind-relay" && str(dig(m, "name")) == "data" {
			mounted = true
		}
	}
	if !mounted {
		t.Error("the data volume is not mounted at /var/lib/mind-relay")
	}
}

// The relay's port, the config's listen, the probes and the Service agree.
func TestProbesAndPorts(t *testing.T) {
	for _, rs := range renderSets {
		t.Run(rs.name, func(t *testing.T) {
			r := cachedTemplate(t, rs.values)
			c := r.relayContainer(t)
			var port any
			for _, p := range list(c["ports"]) {
				if str(dig(p, "name")) == "http" {
					port = dig(p, "containerPort")
				}
			}
			if port != 9095 {
				t.Fatalf("container port http = %v, want 9095", port)
			}
			if l := str(dig(r.config(t), "listen")); l != ":9095" {
				t.Errorf("config listen %q, want :9095 (the container port)", l)
			}
			for probe, path := range map[string]string{"livenessProbe": "/-/healthy", "readinessProbe": "/-/ready", "startupProbe": "/-/healthy"} {
				p, ok := c[probe].(obj)
				if !ok {
					t.Errorf("no %s", probe)
					continue
				}
				if got := str(dig(p, "httpGet", "path")); got != path {
					t.Errorf("%s path %q, want %q", probe, got, path)
				}
				if got := str(dig(p, "httpGet", "port")); got != "http" {
					t.Errorf("%s port %q, want the http port", probe, got)
				}
			}
			svc := r.one(t, "Service")
			ports := list(dig(svc, "spec", "ports"))
			if len(ports) != 1 || str(dig(ports[0], "targetPort")) != "http" || dig(ports[0], "port") != 9095 {
				t.Errorf("Service ports %v, want 9095 -> http", ports)
			}
		})
	}
}

func TestSecurityContext(t *testing.T) {
	for _, rs := range renderSets {
		t.Run(rs.name, func(t *testing.T) {
			r := cachedTemplate(t, rs.values)
			pod := dig(r.one(t, "Deployment"), "spec", "template", "spec")
			psc := dig(pod, "securityContext")
			if dig(psc, "runAsNonRoot") != true {
				t.Error("pod runAsNonRoot is not true")
			}
			if uid, ok := dig(psc, "runAsUser").(int); !ok || uid == 0 {
				t.Errorf("pod runAsUser %v, want a fixed non-zero uid", dig(psc, "runAsUser"))
			}
			if s := str(dig(psc, "seccompProfile", "type")); s != "RuntimeDefault" {
				t.Errorf("pod seccompProfile %q, want RuntimeDefault", s)
			}
			if dig(pod, "automountServiceAccountToken") != false {
				t.Error("the service account token is mounted; the relay never calls the API")
			}
			csc := r.relayContainer(t)["securityContext"]
			checks := map[string]any{
				"readOnlyRootFilesystem":   true,
				"allowPrivilegeEscalation": false,
				"runAsNonRoot":             true,
			}
			for k, want := range checks {
				if got := dig(csc, k); got != want {
					t.Errorf("container %s = %v, want %v", k, got, want)
				}
			}
			drop := list(dig(csc, "capabilities", "drop"))
			if len(drop) != 1 || drop[0] != "ALL" {
				t.Errorf("capabilities.drop %v, want [ALL]", drop)
			}
			if s := str(dig(csc, "seccompProfile", "type")); s != "RuntimeDefault" {
				t.Errorf("container seccompProfile %q, want RuntimeDefault", s)
			}
			if res := r.relayContainer(t)["resources"]; dig(res, "requests", "memory") == nil || dig(res, "limits", "memory") == nil {
				t.Errorf("resources %v: want memory requests and limits", res)
			}
		})
	}
}

// fakeSecrets are the secret values of the all-on values file.
func fakeSecrets(t *testing.T) map[string]string {
	t.Helper()
	vals := readYAML(t, allOnValues)
	out := map[string]string{}
	for k, v := range dig(vals, "secrets").(obj) {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "FAKE-SECRET-") {
			out[k] = s
		}
	}
	if len(out) < 10 {
		t.Fatalf("all-on values set %d fake secrets, want every one of secrets.* (FAKE-SECRET-...)", len(out))
	}
	return out
}

func TestNoSecretOutsideTheSecret(t *testing.T) {
	r := cachedTemplate(t, allOnValues)
	secrets := fakeSecrets(t)

	// Every value is in the Secret (else this test proves nothing)...
	sec := r.one(t, "Secret")
	inSecret := map[string]string{}
	for k, v := range dig(sec, "data").(obj) {
		b, err := base64.StdEncoding.DecodeString(str(v))
		if err != nil {
			t.Fatalf("Secret key %s: %v", k, err)
		}
		inSecret[string(b)] = k
	}
	for name, v := range secrets {
		if _, ok := inSecret[v]; !ok {
			t.Errorf("secrets.%s is not in the Secret", name)
		}
	}

	// ...and nowhere else: not in a ConfigMap, an env var, an annotation.
	for _, d := range r.docs {
		if d["kind"] == "Secret" {
			continue
		}
		text := mustYAML(t, d)
		for name, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("secrets.%s appears in %s %s", name, d["kind"], dig(d, "metadata", "name"))
			}
			if strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
				t.Errorf("secrets.%s appears base64-encoded in %s", name, d["kind"])
			}
		}
	}

	// The config names each secret by its *_file, under the mounted dir.
	cfg := r.configYAML(t)
	for key := range dig(sec, "data").(obj) {
		if !strings.Contains(cfg, "_file: /etc/mind-relay/secrets/"+key+"\n") {
			t.Errorf("no *_file key in the config points at the mounted secret %s", key)
		}
	}
	var mounted bool
	for _, m := range list(r.relayContainer(t)["volumeMounts"]) {
		if str(dig(m, "name")) == "secrets" && str(dig(m, "mountPath")) == "/etc/mind-relay/secrets" && dig(m, "readOnly") == true {
			mounted = true
		}
	}
	if !mounted {
		t.Error("the Secret is not mounted read-only at /etc/mind-relay/secrets")
	}
}

func checksumOf(t *testing.T, r *rendered) string {
	t.Helper()
	c := str(dig(r.one(t, "Deployment"), "spec", "template", "metadata", "annotations", "checksum/config"))
	if len(c) != 64 {
		t.Fatalf("checksum/config annotation %q is not a sha256", c)
	}
	return c
}

func TestChecksumRollsPodsOnConfigChange(t *testing.T) {
	dry := valuesFile(dryRunValues)
	base := checksumOf(t, cachedTemplate(t, dryRunValues))
	if again := checksumOf(t, mustTemplate(t, dry...)); again != base {
		t.Fatalf("checksum differs between two identical renders: %s vs %s", base, again)
	}
	changes := map[string][]string{
		"config value":    {"--set", "config.timezone=UTC"},
		"receivers":       {"--set", "config.receivers[0].name=default", "--set", "config.receivers[0].open_ids[0]=ou_x", "--set", "config.receivers[0].all_subscribers=false"},
		"secret value":    {"--set", "secrets.ackSecret=another-ack-secret-0123456789"},
		"extra template":  {"--set", "extraTemplates.x\\.tmpl=hello"},
		"existing secret": {"--set", "secrets.existingSecret=s", "--set", "secrets.existingSecretKeys={mind-app-secret}"},
	}
	for name, args := range changes {
		t.Run(name, func(t *testing.T) {
			if c := checksumOf(t, mustTemplate(t, append(dry, args...)...)); c == base {
				t.Errorf("%v did not change checksum/config: pods would keep the old config", args)
			}
		})
	}
	t.Run("unrelated value", func(t *testing.T) {
		if c := checksumOf(t, mustTemplate(t, append(dry, "--set", "resources.limits.memory=512Mi")...)); c != base {
			t.Error("a resources change changed checksum/config")
		}
	})
	t.Run("all-on secret", func(t *testing.T) {
		a := checksumOf(t, cachedTemplate(t, allOnValues))
		b := checksumOf(t, mustTemplate(t, append(valuesFile(allOnValues), "--set", "secrets.adminToken=FAKE-SECRET-admin-rotated")...))
		if a == b {
			t.Error("rotating the admin token did not change checksum/config")
		}
	})
}

func TestOneReplicaWithSQLite(t *testing.T) {
	_, err := helmTemplate(t, "--set", "dryRun=true", "--set", "replicaCount=2")
	if err == nil || !strings.Contains(err.Error(), "more replicas need the PostgreSQL store, which is not available yet") {
		t.Fatalf("replicaCount=2 with sqlite: want a failure saying more replicas need the PostgreSQL store, got %v", err)
	}
	_, err = helmTemplate(t, "--set", "dryRun=true", "--set", "config.store.driver=postgres", "--set", "secrets.storeDSN=postgres://x")
	if err == nil || !strings.Contains(err.Error(), "store.driver=postgres is not available yet") {
		t.Fatalf("postgres: want a failure saying it is not available yet, got %v", err)
	}
}

func TestIngressExposesOnlyCallbackAndAck(t *testing.T) {
	r := cachedTemplate(t, allOnValues)
	ing := r.one(t, "Ingress")
	svc := str(dig(r.one(t, "Service"), "metadata", "name"))
	type route struct{ path, typ string }
	var got []route
	for _, rule := range list(dig(ing, "spec", "rules")) {
		for _, p := range list(dig(rule, "http", "paths")) {
			got = append(got, route{str(dig(p, "path")), str(dig(p, "pathType"))})
			if b := str(dig(p, "backend", "service", "name")); b != svc {
				t.Errorf("path %s goes to service %q, want %q", dig(p, "path"), b, svc)
			}
			if b := str(dig(p, "backend", "service", "port", "name")); b != "http" {
				t.Errorf("path %s goes to port %q, want http", dig(p, "path"), b)
			}
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].path < got[j].path })
	want := []route{{"/ack", "Prefix"}, {"/mind/callback", "Exact"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Ingress routes %v, want only %v: webhooks, metrics, reload and the admin API must stay inside the cluster", got, want)
	}
	if u := str(dig(r.config(t), "external_url")); u != "https://relay.example.com" {
		t.Errorf("external_url %q, want it taken from the Ingress host", u)
	}
}

// A typo or a secret in the wrong place fails at install, with a message.
func TestValuesRejected(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"top-level typo":          {[]string{"--set", "replicaCuont=1"}, "replicaCuont"},
		"config typo":             {[]string{"--set", "config.timezon=UTC"}, "timezon"},
		"nested config typo":      {[]string{"--set", "config.delivery.worker=2"}, "worker"},
		"secret in config":        {[]string{"--set", "config.mind.app_secret=hunter2"}, "app_secret"},
		"ack secret in config":    {[]string{"--set", "config.ack.secret=plain-text-ack-secret"}, "secret"},
		"bad duration":            {[]string{"--set", "config.delivery.max_age=1x"}, "max_age"},
		"listen set":              {[]string{"--set", "config.listen=:8080"}, "containerPort"},
		"store off the volume":    {[]string{"--set", "config.store.path=/tmp/relay.db"}, "persistence.mountPath"},
		"both secret sources":     {[]string{"--set", "config.mind.app_secret=${X}", "--set", "secrets.mindAppSecret=y"}, "both set"},
		"silence token alone":     {[]string{"--set", "secrets.grafanaSilenceToken=x"}, "config.ack.silence"},
		"basic auth without user": {[]string{"--set", "secrets.alertmanagerBasicAuthPassword=x"}, "username"},
		"hmac without secret":     {[]string{"--set", "config.sources.grafana.hmac.header=X-Sig"}, "grafanaHMACSecret"},
		"postgres":                {[]string{"--set", "config.store.driver=postgres"}, "not available yet"},
		"unknown secret key":      {[]string{"--set", "secrets.existingSecret=s", "--set", "secrets.existingSecretKeys={mind-app-secert}"}, "existingSecretKeys"},
		"inline with existing":    {[]string{"--set", "secrets.existingSecret=s", "--set", "secrets.existingSecretKeys={mind-app-secret}", "--set", "secrets.adminToken=x"}, "existingSecret"},
		"bad template file name":  {[]string{"--set", "extraTemplates.x\\.txt=hi"}, "extraTemplates"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// On the dry-run defaults, so that each case fails for its own
			// reason, not for the missing Mind app.
			_, err := helmTemplate(t, append(valuesFile(dryRunValues), c.args...)...)
			if err == nil {
				t.Fatalf("%v rendered; want a failure", c.args)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v failed without naming %q:\n%v", c.args, c.want, err)
			}
		})
	}
}

func TestPersistenceOptions(t *testing.T) {
	dry := valuesFile(dryRunValues)
	r := mustTemplate(t, append(dry, "--set", "persistence.enabled=false")...)
	if len(r.kinds("PersistentVolumeClaim")) != 0 {
		t.Error("persistence.enabled=false still renders a PVC")
	}
	if !hasVolume(r.one(t, "Deployment"), "data", "emptyDir") {
		t.Error("persistence.enabled=false: data is not an emptyDir")
	}
	r = mustTemplate(t, append(dry, "--set", "persistence.existingClaim=my-claim")...)
	if len(r.kinds("PersistentVolumeClaim")) != 0 {
		t.Error("existingClaim still renders a PVC")
	}
	for _, v := range list(dig(r.one(t, "Deployment"), "spec", "template", "spec", "volumes")) {
		if str(dig(v, "name")) == "data" && str(dig(v, "persistentVolumeClaim", "claimName")) != "my-claim" {
			t.Errorf("data volume %v does not use my-claim", v)
		}
	}
	notes := renderNotes(t, append(dry, "--set", "persistence.enabled=false")...)
	if !strings.Contains(notes, "WARNING: persistence.enabled=false") || !strings.Contains(notes, "LOSES queued notifications") {
		t.Errorf("NOTES do not warn loudly about the emptyDir store:\n%s", notes)
	}
	if !strings.Contains(notes, "/webhook/alertmanager") || !strings.Contains(notes, "/webhook/grafana") {
		t.Errorf("NOTES do not say how to point Alertmanager and Grafana at the relay:\n%s", notes)
	}
	if strings.Contains(renderNotes(t, dry...), "WARNING: persistence") {
		t.Error("NOTES warn about the emptyDir store with persistence on")
	}
}

// renderNotes renders NOTES.txt, which `helm template` leaves out, through
// a copy of the chart with one more template that includes it.
func renderNotes(t *testing.T, args ...string) string {
	t.Helper()
	helm := requireTool(t, "helm")
	dir := filepath.Join(t.TempDir(), "mind-relay")
	if err := os.CopyFS(dir, os.DirFS(repoPath(chartDir))); err != nil {
		t.Fatal(err)
	}
	probe := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include (print $.Template.BasePath \"/NOTES.txt\") . | quote }}\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", nil, helm, append([]string{"template", release, dir, "--show-only", "templates/zz-notes.yaml"}, args...)...)
	if err != nil {
		t.Fatalf("render NOTES: %v\n%s", err, out)
	}
	var cm obj
	if err := yaml.Unmarshal([]byte(out), &cm); err != nil {
		t.Fatal(err)
	}
	return str(dig(cm, "data", "notes"))
}

func hasVolume(dep obj, name, kind string) bool {
	for _, v := range list(dig(dep, "spec", "template", "spec", "volumes")) {
		if str(dig(v, "name")) == name && dig(v, kind) != nil {
			return true
		}
	}
	return false
}

func TestOptionalResources(t *testing.T) {
	r := cachedTemplate(t, allOnValues)
	for _, k := range []string{"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "Ingress", "Secret"} {
		if len(r.kinds(k)) != 1 {
			t.Errorf("all-on: want one %s, got %d", k, len(r.kinds(k)))
		}
	}
	sm := r.one(t, "ServiceMonitor")
	ep := list(dig(sm, "spec", "endpoints"))
	if len(ep) != 1 || str(dig(ep[0], "port")) != "http" || str(dig(ep[0], "path")) != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want port http path /metrics", ep)
	}
	if j := str(dig(sm, "spec", "jobLabel")); j != "app.kubernetes.io/name" {
		t.Errorf("ServiceMonitor jobLabel %q: the rules expect job=mind-relay from app.kubernetes.io/name", j)
	}
	svcLabels := dig(r.one(t, "Service"), "metadata", "labels")
	if str(dig(svcLabels, "app.kubernetes.io/name")) != "mind-relay" {
		t.Error("the Service lacks app.kubernetes.io/name=mind-relay, the ServiceMonitor's job label")
	}
	sel := dig(sm, "spec", "selector", "matchLabels").(obj)
	for k, v := range sel {
		if dig(svcLabels, k) != v {
			t.Errorf("ServiceMonitor selects %s=%v, which the Service does not carry", k, v)
		}
	}
	pdbSel := dig(r.one(t, "PodDisruptionBudget"), "spec", "selector", "matchLabels")
	podLabels := dig(r.one(t, "Deployment"), "spec", "template", "metadata", "labels")
	for k, v := range pdbSel.(obj) {
		if dig(podLabels, k) != v {
			t.Errorf("PDB selects %s=%v, which the pods do not carry", k, v)
		}
	}
	if !hasVolume(r.one(t, "Deployment"), "templates", "configMap") {
		t.Error("extraTemplates are not mounted")
	}
	files := list(dig(r.config(t), "templates", "files"))
	if len(files) != 1 || files[0] != "/etc/mind-relay/templates/*.tmpl" {
		t.Errorf("templates.files %v, want the mounted templates", files)
	}
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yamlMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
