package deploy

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mindoffice/mind-relay/internal/testutil"
)

// podArgs are the relay container's args, which the image appends to its
// ENTRYPOINT `relay serve --config /etc/mind-relay/config.yaml`.
func podArgs(t *testing.T, r *rendered) []string {
	t.Helper()
	var args []string
	for _, a := range list(r.relayContainer(t)["args"]) {
		args = append(args, str(a))
	}
	return args
}

// checkConfigArgs is the check-config run that matches how the pod serves:
// with --dry-run when the pod serves with it (dry-run needs no Mind app).
func checkConfigArgs(path string, podArgs []string) []string {
	args := []string{"check-config", "--config", path}
	if slices.Contains(podArgs, "--dry-run") {
		args = append(args, "--dry-run")
	}
	return args
}

// runningRelay is a `relay serve` started as the pod starts it.
type runningRelay struct {
	base string // http://127.0.0.1:port
	logs *testutil.SyncBuffer
}

func (rr *runningRelay) do(t *testing.T, method, path string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, rr.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, rr.logs.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startRelay runs `relay serve --config path <podArgs> --listen 127.0.0.1:N`
// — the container's command line, on a free loopback port — waits until it
// answers /-/healthy, and stops it with SIGTERM when the test ends (failing
// the test if it does not stop in time).
func startRelay(t *testing.T, relay, path string, podArgs []string) *runningRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	args := append(append([]string{"serve", "--config", path}, podArgs...), "--listen", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, relay, args...)
	rr := &runningRelay{base: "http://" + addr, logs: &testutil.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = rr.logs, rr.logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		defer cancel()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("relay did not stop within 30s of SIGTERM")
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(rr.base + "/-/healthy")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return rr
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("relay %s exited (%v) before answering /-/healthy:\n%s", strings.Join(args, " "), err, rr.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay %s: no 200 on /-/healthy after 30s (%v):\n%s", strings.Join(args, " "), err, rr.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireProbesPass checks the kubelet's two probes: the process serves
// and the relay is ready (config loaded, store writable).
func requireProbesPass(t *testing.T, rr *runningRelay) {
	t.Helper()
	for _, p := range []string{"/-/healthy", "/-/ready"} {
		if code, body := rr.do(t, http.MethodGet, p, nil, ""); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s\n%s", p, code, body, rr.logs.String())
		}
	}
}
