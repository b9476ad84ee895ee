// Package amtest starts a real Alertmanager (Debian's
// prometheus-alertmanager) on a free loopback port for tests, and talks to
// its API v2.
package amtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary finds the Alertmanager binary. When it is missing the test is
// skipped, or fails where MIND_RELAY_REQUIRE_TOOLS=1 or CI=true, so CI can
// never pass by skipping.
func Binary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("ALERTMANAGER_BIN"), "prometheus-alertmanager", "alertmanager"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "Alertmanager (apt-get install prometheus-alertmanager, or scripts/deps.sh)")
	return ""
}

// Missing skips the test for want of a tool, or fails it where tools are
// required.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("MIND_RELAY_REQUIRE_TOOLS") == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("%s is required here but missing", what)
	}
	t.Skipf("%s is missing", what)
}

// FreePort returns a free loopback address.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Alertmanager is a running Alertmanager.
type Alertmanager struct {
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// Start runs Alertmanager with the given config YAML until the test ends.
func Start(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreePort(t)
	var log bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.external-url=http://"+addr,
		"--cluster.listen-address=", // no gossip: a single instance
		"--log.level=debug",
	)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	am := &Alertmanager{URL: "http://" + addr, cmd: cmd, log: &log}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", tail(log.String(), 4000))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alertmanager did not become ready; log:\n%s", tail(log.String(), 4000))
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Alert is an alert as posted to /api/v2/alerts.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitempty"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Post sends alerts to Alertmanager's API, as Prometheus does.
func (am *Alertmanager) Post(t testing.TB, alerts ...Alert) {
	t.Helper()
	b, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("post alerts: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alerts: HTTP %d", resp.StatusCode)
	}
}

// Silence is a silence as Alertmanager's API v2 lists it.
type Silence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual *bool  `json:"isEqual"`
	} `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

// Silences lists Alertmanager's silences.
func (am *Alertmanager) Silences(ctx context.Context) ([]Silence, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, am.URL+"/api/v2/silences", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list silences: HTTP %d", resp.StatusCode)
	}
	var out []Silence
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Log returns what Alertmanager logged so far.
func (am *Alertmanager) Log() string { return am.log.String() }

// WebhookConfig returns an Alertmanager config that sends every alert,
// grouped by alertname, to url with a bearer token, quickly (1s group wait
// and interval) and with resolved notifications.
func WebhookConfig(url, token string) string {
	var auth string
	if token != "" {
		auth = fmt.Sprintf("\n        http_config:\n          authorization:\n            credentials: %q", token)
	}
	return strings.TrimSpace(fmt.Sprintf(`
route:
  receiver: relay
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: %q
        send_resolved: true
        max_alerts: 0%s
`, url, auth)) + "\n"
}
