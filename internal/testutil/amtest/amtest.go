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
	URL  string
	bin  string
	args []string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// Start runs Alertmanager with the given config YAML until the test ends.
func Start(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	return StartAt(t, FreePort(t), configYAML)
}

// StartAt is Start on a given loopback address (from FreePort), for tests
// that must name Alertmanager's URL before it runs.
func StartAt(t testing.TB, addr, configYAML string) *Alertmanager {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	am := &Alertmanager{URL: "http://" + addr, bin: bin, log: &bytes.Buffer{}, args: []string{
		"--config.file=" + cfg,
		"--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--web.external-url=http://" + addr,
		"--cluster.listen-address=", // no gossip: a single instance
		"--log.level=debug",
	}}
	t.Cleanup(func() {
		_ = am.cmd.Process.Kill()
		_ = am.cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", tail(am.log.String(), 4000))
		}
	})
	am.start(t)
	return am
}

func (am *Alertmanager) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(am.bin, am.args...)
	cmd.Stdout, cmd.Stderr = am.log, am.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	am.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alertmanager did not become ready; log:\n%s", tail(am.log.String(), 4000))
}

// Restart stops Alertmanager gracefully (it writes its silences to its
// data directory) and starts it again on the same address: its alerts,
// kept in memory only, are gone until they are posted again.
func (am *Alertmanager) Restart(t testing.TB) {
	t.Helper()
	_ = am.cmd.Process.Signal(os.Interrupt)
	_ = am.cmd.Wait()
	am.start(t)
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
