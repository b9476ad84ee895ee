package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func yamlMarshal(v any) ([]byte, error) { return yaml.Marshal(v) }

const (
	chartRules   = "helm/mind-relay/files/prometheus-rules.yml"
	exampleRules = "examples/prometheus-rules.yml"
)

// The relay's metric names (interface.md and the issue that added the
// chart); rules and dashboard may use only these, and the Go/process ones.
var relayMetrics = map[string]bool{
	"mind_relay_webhooks_received_total":                      true,
	"mind_relay_alerts_received_total":                        true,
	"mind_relay_notifications_total":                          true,
	"mind_relay_mind_requests_total":                          true,
	"mind_relay_mind_request_duration_seconds":                true,
	"mind_relay_delivery_retries_total":                       true,
	"mind_relay_queue_depth":                                  true,
	"mind_relay_queue_oldest_age_seconds":                     true,
	"mind_relay_dead_letters":                                 true,
	"mind_relay_delivery_latency_seconds":                     true,
	"mind_relay_store_errors_total":                           true,
	"mind_relay_template_errors_total":                        true,
	"mind_relay_acks_total":                                   true,
	"mind_relay_silences_total":                               true,
	"mind_relay_time_to_ack_seconds":                          true,
	"mind_relay_config_last_reload_successful":                true,
	"mind_relay_config_last_reload_success_timestamp_seconds": true,
}

var metricRef = regexp.MustCompile(`\bmind_relay_[a-z_]+`)

// knownMetric accepts histogram series of known histograms too.
func knownMetric(name string) bool {
	if relayMetrics[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if relayMetrics[strings.TrimSuffix(name, suf)] && strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func TestRulesFileMatchesChart(t *testing.T) {
	a, err := os.ReadFile(repoPath(chartRules))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(repoPath(exampleRules))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("%s and %s differ: edit the chart's copy, then run `make rules`", chartRules, exampleRules)
	}

	// The PrometheusRule the chart renders carries exactly those groups.
	r := mustTemplate(t, "--set", "dryRun=true", "--set", "prometheusRule.enabled=true")
	spec := r.one(t, "PrometheusRule")["spec"]
	want := readYAML(t, exampleRules)
	if !reflect.DeepEqual(normalize(spec), normalize(want)) {
		t.Errorf("the chart's PrometheusRule spec differs from %s:\ngot:\n%s\nwant:\n%s", exampleRules, mustYAML(t, spec), mustYAML(t, want))
	}

	// A renamed chart keeps its rules on the job its ServiceMonitor sets.
	r = mustTemplate(t, "--set", "dryRun=true", "--set", "prometheusRule.enabled=true", "--set", "nameOverride=relay2")
	text := mustYAML(t, r.one(t, "PrometheusRule")["spec"])
	if strings.Contains(text, `job="mind-relay"`) || !strings.Contains(text, `job="relay2"`) {
		t.Error(`nameOverride=relay2: the rules do not select job="relay2"`)
	}

	for _, m := range metricRef.FindAllString(string(a), -1) {
		if !knownMetric(m) {
			t.Errorf("the rules use %s, which the relay does not export", m)
		}
	}
}

// normalize round-trips through YAML so that both sides have the same types.
func normalize(v any) any {
	b, _ := yaml.Marshal(v)
	var out any
	_ = yaml.Unmarshal(b, &out)
	return out
}

func TestPromtool(t *testing.T) {
	promtool := requireTool(t, "promtool")
	t.Run("check rules", func(t *testing.T) {
		if out, err := run(t, "", nil, promtool, "check", "rules", repoPath(exampleRules)); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("test rules", func(t *testing.T) {
		if out, err := run(t, "", nil, promtool, "test", "rules", repoPath("test/deploy/testdata/prometheus-rules.test.yml")); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("check config", func(t *testing.T) {
		if out, err := run(t, "", nil, promtool, "check", "config", repoPath("examples/prometheus.yml")); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("chart PrometheusRule", func(t *testing.T) {
		// With the all-on values' extra labels, as Prometheus would load it.
		spec := cachedTemplate(t, allOnValues).one(t, "PrometheusRule")["spec"]
		f := filepath.Join(t.TempDir(), "rules.yml")
		if err := os.WriteFile(f, []byte(mustYAML(t, spec)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, "", nil, promtool, "check", "rules", f); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

func TestAmtool(t *testing.T) {
	amtool := requireTool(t, "amtool")
	if out, err := run(t, "", nil, amtool, "check-config", repoPath("examples/alertmanager.yml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	am := readYAML(t, "examples/alertmanager.yml")
	var hooks []any
	for _, rcv := range list(am["receivers"]) {
		hooks = append(hooks, list(dig(rcv, "webhook_configs"))...)
	}
	if len(hooks) == 0 {
		t.Fatal("examples/alertmanager.yml has no webhook_configs")
	}
	for _, h := range hooks {
		if !strings.Contains(str(dig(h, "url")), "/webhook/alertmanager") {
			t.Errorf("webhook url %v is not the relay's /webhook/alertmanager", dig(h, "url"))
		}
		if dig(h, "send_resolved") != true {
			t.Errorf("webhook %v: send_resolved is not true", dig(h, "url"))
		}
		if dig(h, "max_alerts") == nil {
			t.Errorf("webhook %v: no max_alerts", dig(h, "url"))
		}
		if dig(h, "http_config", "authorization", "credentials_file") == nil && dig(h, "http_config", "authorization", "credentials") == nil {
			t.Errorf("webhook %v: no bearer credentials", dig(h, "url"))
		}
	}
}

// Grafana's provisioning keys for the webhook integration (the alerting
// library's webhook config): a typo there is silently ignored by Grafana.
func TestGrafanaContactPoint(t *testing.T) {
	cp := readYAML(t, "examples/grafana-contact-point.yaml")
	if cp["apiVersion"] != 1 {
		t.Errorf("apiVersion %v, want 1", cp["apiVersion"])
	}
	points := list(cp["contactPoints"])
	if len(points) != 1 {
		t.Fatalf("want one contact point, got %d", len(points))
	}
	rcvs := list(dig(points[0], "receivers"))
	if len(rcvs) != 1 || dig(rcvs[0], "type") != "webhook" {
		t.Fatalf("want one webhook receiver, got %v", rcvs)
	}
	settings := dig(rcvs[0], "settings").(obj)
	allowed := map[string]bool{"url": true, "httpMethod": true, "maxAlerts": true, "authorization_scheme": true,
		"authorization_credentials": true, "username": true, "password": true, "title": true, "message": true,
		"tlsConfig": true, "hmacConfig": true, "headers": true, "payload": true}
	for k := range settings {
		if !allowed[k] {
			t.Errorf("settings.%s is not a webhook setting Grafana knows", k)
		}
	}
	if !strings.HasSuffix(str(settings["url"]), "/webhook/grafana") || settings["httpMethod"] != "POST" {
		t.Errorf("url %v, httpMethod %v: want the relay's /webhook/grafana with POST", settings["url"], settings["httpMethod"])
	}
	hm, _ := settings["hmacConfig"].(obj)
	for k := range hm {
		if k != "secret" && k != "header" && k != "timestampHeader" {
			t.Errorf("hmacConfig.%s is not an HMAC setting Grafana knows", k)
		}
	}
	if !strings.HasPrefix(str(dig(hm, "secret")), "${") || !strings.HasPrefix(str(settings["authorization_credentials"]), "${") {
		t.Error("the example holds a secret in plain text; use ${VAR}")
	}
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(repoPath("examples/grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricRef.FindAllString(tg.Expr, -1) {
				if !knownMetric(m) {
					t.Errorf("panel %q uses %s, which the relay does not export", p.Title, m)
				}
				used[strings.TrimSuffix(m, "_bucket")] = true
			}
		}
	}
	// What an operator looks at first.
	for _, m := range []string{
		"mind_relay_webhooks_received_total", "mind_relay_notifications_total", "mind_relay_mind_requests_total",
		"mind_relay_mind_request_duration_seconds", "mind_relay_delivery_latency_seconds", "mind_relay_delivery_retries_total",
		"mind_relay_queue_depth", "mind_relay_queue_oldest_age_seconds", "mind_relay_dead_letters",
		"mind_relay_acks_total", "mind_relay_template_errors_total",
	} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	var missing []string
	for m := range relayMetrics {
		if !used[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("metrics without a panel: %v", missing)
	}
}

// Mind's API sends messages and cannot change one once sent: every
// notification is a new card. The examples and the chart must not say the
// relay updates, recolours or turns a card it sent.
func TestExamplesDoNotClaimCardUpdates(t *testing.T) {
	claim := regexp.MustCompile(`(?i)\b(updates?|recolou?rs?|turns?|changes?)\s+(the\s+)?(same\s+|group's\s+)?card\b`)
	var files []string
	for _, dir := range []string{"examples", chartDir} {
		err := filepath.WalkDir(repoPath(dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 10 {
		t.Fatalf("found only %d files under examples/ and %s", len(files), chartDir)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := claim.FindString(line); m != "" {
				rel, _ := filepath.Rel(repoRoot, p)
				t.Errorf("%s:%d says the relay %q; every notification is a new message: %s", rel, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
