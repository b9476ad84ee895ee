package deploy

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mindoffice/mind-relay/internal/testutil"
)

// The relay started as the chart starts it (its config, its secret files,
// its container args) answers the kubelet's probes on the probed paths, and
// Prometheus' scrape.
func TestRelayServesTheChartsProbes(t *testing.T) {
	relay := buildRelay(t)
	r := cachedTemplate(t, allOnValues) // dryRun: true, so no Mind is needed
	path := installRendered(t, r)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	args := []string{"serve", "--config", path}
	for _, a := range list(r.relayContainer(t)["args"]) {
		args = append(args, str(a))
	}
	args = append(args, "--listen", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, relay, args...)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("relay did not stop within 30s of SIGTERM")
		}
	}()

	get := func(p string) (int, string, error) {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := get("/-/healthy")
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("relay serve exited (%v) before answering /-/healthy:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/healthy: %d %v after 30s:\n%s", code, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body, err := get("/-/ready"); err != nil || code != http.StatusOK {
		t.Errorf("/-/ready: %d %v %s\n%s", code, err, body, out.String())
	}
	code, body, err := get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	if !strings.Contains(body, "\nmind_relay_") || !strings.Contains(body, "\ngo_goroutines ") || !strings.Contains(body, "\nprocess_") {
		t.Errorf("/metrics lacks the relay's, Go's or the process' metrics:\n%.2000s", body)
	}
	// Metrics the rules and the dashboard use but a fresh relay does not
	// show yet (a labelled series appears on first use): worth knowing, not
	// a failure.
	var absent []string
	for m := range relayMetrics {
		if !strings.Contains(body, "\n"+m) && !strings.Contains(body, "# TYPE "+m+" ") {
			absent = append(absent, m)
		}
	}
	sort.Strings(absent)
	if len(absent) > 0 {
		t.Logf("not in a fresh relay's /metrics: %v", absent)
	}
}
