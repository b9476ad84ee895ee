package deploy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/config"
)

var (
	relayOnce sync.Once
	relayBin  string
	relayErr  error
	relayOut  string
)

// buildRelay builds ./cmd/relay once per run.
func buildRelay(t *testing.T) string {
	t.Helper()
	relayOnce.Do(func() {
		relayBin = filepath.Join(workDir, "relay")
		relayOut, relayErr = run(t, "", []string{"CGO_ENABLED=0"}, "go", "build", "-o", relayBin, "./cmd/relay")
	})
	if relayErr != nil {
		t.Fatalf("go build ./cmd/relay: %v\n%s", relayErr, relayOut)
	}
	return relayBin
}

// installRendered lays out what the pod would see — the config, the secret
// files, the templates, the data directory — under a temp dir, with the
// config's paths moved there, and returns the config's path.
func installRendered(t *testing.T, r *rendered) string {
	t.Helper()
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "mind-relay")
	for _, d := range []string{filepath.Join(etc, "secrets"), filepath.Join(etc, "templates"), filepath.Join(root, "var", "lib", "mind-relay")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The secret files: from the chart's Secret, or placeholders for the
	// keys an existing Secret is expected to hold.
	secrets := map[string]string{}
	for _, s := range r.kinds("Secret") {
		for k, v := range dig(s, "data").(obj) {
			b, err := base64.StdEncoding.DecodeString(str(v))
			if err != nil {
				t.Fatal(err)
			}
			secrets[k] = string(b)
		}
	}
	for _, v := range list(dig(r.one(t, "Deployment"), "spec", "template", "spec", "volumes")) {
		if str(dig(v, "name")) != "secrets" {
			continue
		}
		for _, it := range list(dig(v, "secret", "items")) {
			k := str(dig(it, "key"))
			if _, ok := secrets[k]; !ok {
				secrets[k] = "placeholder-value-of-" + k
			}
		}
	}
	for k, v := range secrets {
		if err := os.WriteFile(filepath.Join(etc, "secrets", k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, cm := range r.kinds("ConfigMap") {
		for k, v := range dig(cm, "data").(obj) {
			if strings.HasSuffix(k, ".tmpl") {
				if err := os.WriteFile(filepath.Join(etc, "templates", k), []byte(str(v)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	cfg := r.configYAML(t)
	cfg = strings.ReplaceAll(cfg, "/etc/mind-relay/", filepath.ToSlash(etc)+"/")
	cfg = strings.ReplaceAll(cfg, "/var/lib/mind-relay/", filepath.ToSlash(filepath.Join(root, "var", "lib", "mind-relay"))+"/")
	path := filepath.Join(etc, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The config the chart renders is one the relay accepts.
func TestRenderedConfigPassesCheckConfig(t *testing.T) {
	requireTool(t, "helm")
	relay := buildRelay(t)
	cases := []struct {
		name string
		args []string
	}{
		{"minimal", valuesFile(minimalValues)},
		{"all-on", valuesFile(allOnValues)},
		{"default with the Mind app", []string{"--set", "config.mind.app_id=robot_x", "--set", "secrets.mindAppSecret=x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := installRendered(t, mustTemplate(t, c.args...))
			out, err := run(t, "", nil, relay, "check-config", "--config", path)
			if err != nil {
				b, _ := os.ReadFile(path)
				t.Fatalf("relay check-config: %v\n%s\nconfig:\n%s", err, out, b)
			}
		})
	}
	// The defaults lack only what cannot have a default: the Mind app. The
	// chart refuses them at render time (TestChartInstallRunsOrSaysWhatToSet);
	// the relay refuses the same config: the dry-run defaults' config,
	// checked as a real install would be.
	t.Run("default", func(t *testing.T) {
		path := installRendered(t, cachedTemplate(t, dryRunValues))
		out, err := run(t, "", nil, relay, "check-config", "--config", path)
		if err == nil {
			t.Fatalf("check-config accepted a config without mind.app_id:\n%s", out)
		}
		if !strings.Contains(out, "mind.app_id") {
			t.Errorf("check-config on the defaults did not name mind.app_id:\n%s", out)
		}
	})
	// An app id without its secret is refused too: serve could not start.
	t.Run("default with an app id only", func(t *testing.T) {
		path := installRendered(t, mustTemplate(t, append(valuesFile(dryRunValues), "--set", "config.mind.app_id=robot_x")...))
		out, err := run(t, "", nil, relay, "check-config", "--config", path)
		if err == nil {
			t.Fatalf("check-config accepted a config without mind.app_secret:\n%s", out)
		}
		if !strings.Contains(out, "mind.app_secret") {
			t.Errorf("check-config did not name mind.app_secret:\n%s", out)
		}
	})
}

func TestExampleRelayConfig(t *testing.T) {
	relay := buildRelay(t)
	env := []string{
		"MIND_APP_SECRET=example-app-secret", "MIND_CALLBACK_TOKEN=example-callback",
		"AM_TOKEN=example-am-token", "GRAFANA_WEBHOOK_TOKEN=example-grafana-token",
		"GRAFANA_HMAC_SECRET=example-hmac", "RELAY_ACK_SECRET=example-ack-secret-0123456789",
		"GRAFANA_TOKEN=example-grafana-sa-token", "RELAY_ADMIN_TOKEN=example-admin",
	}
	if out, err := run(t, "", env, relay, "check-config", "--config", repoPath("examples/relay.yml")); err != nil {
		t.Fatalf("relay check-config examples/relay.yml: %v\n%s", err, out)
	}
}

// configKeys lists the YAML keys of a config struct type.
func configKeys(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func yamlName(f reflect.StructField) string { return strings.Split(f.Tag.Get("yaml"), ",")[0] }

// structOf returns the struct type behind pointers and slices, or nil.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}

// The chart's schema for values.config has exactly the relay's keys, so a
// typo fails at install and a new key is not refused.
func TestSchemaMatchesConfig(t *testing.T) {
	b, err := os.ReadFile(repoPath(chartDir + "/values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	resolve := func(node map[string]any) map[string]any {
		for node != nil {
			ref, ok := node["$ref"].(string)
			if !ok {
				return node
			}
			node = schema["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		return node
	}
	var walk func(path string, typ reflect.Type, node map[string]any, depth int)
	walk = func(path string, typ reflect.Type, node map[string]any, depth int) {
		node = resolve(node)
		if it, ok := node["items"].(map[string]any); ok {
			node = resolve(it)
		}
		props, _ := node["properties"].(map[string]any)
		if node["additionalProperties"] != false {
			t.Errorf("schema %s: additionalProperties is not false", path)
		}
		want := map[string]reflect.StructField{}
		for _, f := range configKeys(typ) {
			want[yamlName(f)] = f
		}
		for k := range props {
			if _, ok := want[k]; !ok {
				t.Errorf("schema %s.%s: the relay has no such key", path, k)
			}
		}
		for k, f := range want {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("schema %s: missing key %s (add it to helm/mind-relay/values.schema.json)", path, k)
				continue
			}
			if st := structOf(f.Type); st != nil && depth < 4 && f.Type != reflect.TypeOf(config.Duration(0)) {
				walk(path+"."+k, st, p, depth+1)
			}
		}
	}
	walk("config", reflect.TypeOf(config.Config{}), schema["properties"].(map[string]any)["config"].(map[string]any), 0)
}

// snake turns a Go type name into the CONFIGURATION.md section name:
// HMACConfig -> hmac_config.
func snake(s string) string {
	s = regexp.MustCompile(`([A-Z]+)([A-Z][a-z])`).ReplaceAllString(s, "${1}_${2}")
	s = regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(s, "${1}_${2}")
	return strings.ToLower(s)
}

// CONFIGURATION.md documents every key: each struct of the config has a
// section "### `<type_name>`" (the top level: "## Configuration file")
// whose first yaml block names each of its keys.
func TestConfigurationDocCoversEveryKey(t *testing.T) {
	b, err := os.ReadFile(repoPath("CONFIGURATION.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	block := func(heading string) (string, bool) {
		i := strings.Index(doc, "\n"+heading+"\n")
		if i < 0 {
			return "", false
		}
		rest := doc[i+len(heading)+2:]
		j := strings.Index(rest, "```yaml\n")
		if j < 0 {
			return "", false
		}
		rest = rest[j+len("```yaml\n"):]
		k := strings.Index(rest, "\n```")
		if k < 0 {
			return "", false
		}
		return rest[:k], true
	}
	seen := map[reflect.Type]bool{}
	var check func(typ reflect.Type, heading string)
	check = func(typ reflect.Type, heading string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		text, ok := block(heading)
		if !ok {
			t.Errorf("CONFIGURATION.md: no section %q with a ```yaml block for %s", heading, typ.Name())
			return
		}
		for _, f := range configKeys(typ) {
			name := yamlName(f)
			re := regexp.MustCompile(`(?m)^\s*(\[\s*)?(- )?` + regexp.QuoteMeta(name) + `:`)
			if !re.MatchString(text) {
				t.Errorf("CONFIGURATION.md section %q does not document %s", heading, name)
			}
			if st := structOf(f.Type); st != nil && f.Type != reflect.TypeOf(config.Duration(0)) {
				check(st, fmt.Sprintf("### `<%s>`", snake(st.Name())))
			}
		}
	}
	check(reflect.TypeOf(config.Config{}), "## Configuration file")
	var names []string
	for typ := range seen {
		names = append(names, typ.Name())
	}
	sort.Strings(names)
	t.Logf("sections checked: %v", names)
}

// The defaults CONFIGURATION.md states are the ones the code applies.
func TestConfigurationDocDefaults(t *testing.T) {
	b, err := os.ReadFile(repoPath("CONFIGURATION.md"))
	if err != nil {
		t.Fatal(err)
	}
	// key -> every default the doc states for it ("[ key: <type> | default = X ]").
	stated := map[string][]string{}
	re := regexp.MustCompile(`(?m)^\s*\[\s*([a-z_]+): [^|\n]*\| default = ([^\]\n]*?)\s*\]\s*$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		stated[m[1]] = append(stated[m[1]], strings.Trim(m[2], `"`))
	}
	dur := func(d time.Duration) string { return model.Duration(d).String() }
	want := map[string]string{
		"listen":         config.DefaultListen,
		"timezone":       config.DefaultTimezone,
		"log_level":      config.DefaultLogLevel,
		"base_url":       config.DefaultBaseURL,
		"timeout":        dur(config.DefaultMindTimeout),
		"max_body_bytes": fmt.Sprint(config.DefaultMaxBodyBytes),
		"auth_scheme":    config.DefaultAuthScheme,
		"header":         config.DefaultHMACHeader,
		"max_skew":       dur(config.DefaultHMACMaxSkew),
		"token_ttl":      dur(config.DefaultTokenTTL),
		"duration":       dur(config.DefaultSilence),
		"poll_interval":  dur(config.DefaultPollInterval),
		"workers":        fmt.Sprint(config.DefaultWorkers),
		"rate_limit":     fmt.Sprint(config.DefaultRateLimit),
		"burst":          fmt.Sprint(config.DefaultBurst),
		"min_backoff":    dur(config.DefaultMinBackoff),
		"max_backoff":    dur(config.DefaultMaxBackoff),
		"max_age":        dur(config.DefaultMaxAge),
		"max_alerts":     fmt.Sprint(config.DefaultMaxAlerts),
		"driver":         config.DefaultStoreDriver,
		"path":           config.DefaultStorePath,
		"template":       config.DefaultTemplate,
	}
	for key, def := range want {
		ok := false
		for _, s := range stated[key] {
			if s == def {
				ok = true
			} else if d, err := model.ParseDuration(s); err == nil && d.String() == def {
				ok = true
			}
		}
		if !ok {
			t.Errorf("CONFIGURATION.md states %s defaults %q; the code's default is %q", key, stated[key], def)
		}
	}
}

// README and CONFIGURATION.md say which keys a reload does not apply, and
// say it as the code does: config.RestartKeys is the one list.
func TestReloadDocsMatchRestartKeys(t *testing.T) {
	const marker = "which the relay reads only at start:"
	want := config.RestartKeysDoc()
	for _, doc := range []string{"README.md", "CONFIGURATION.md"} {
		b, err := os.ReadFile(repoPath(doc))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		i := strings.Index(text, marker)
		if i < 0 {
			t.Errorf("%s: no sentence %q listing the keys a reload does not apply (%s)", doc, marker, strings.Join(want, ", "))
			continue
		}
		sentence := text[i+len(marker):]
		if j := regexp.MustCompile(`\.(\s|$)`).FindStringIndex(sentence); j != nil {
			sentence = sentence[:j[0]]
		}
		var got []string
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(sentence, -1) {
			got = append(got, m[1])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s lists %v as read only at start; config.RestartKeys says %v", doc, got, want)
		}
		if strings.Count(text, marker) != 1 {
			t.Errorf("%s: say it once", doc)
		}
	}
}
