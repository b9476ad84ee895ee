package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil"
	"github.com/mindoffice/mind-relay/internal/testutil/amtest"
	"github.com/mindoffice/mind-relay/internal/testutil/fsize"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// relayBinary builds cmd/relay once for the package's tests.
func relayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mind-relay-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "relay")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/relay").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// binRelay is the relay binary running as a child process.
type binRelay struct {
	t    *testing.T
	bin  string
	cfg  string
	addr string
	cmd  *exec.Cmd
	logs *testutil.SyncBuffer
}

func newBinRelay(t *testing.T, fake *mindtest.Server, cfg string) *binRelay {
	t.Helper()
	dir := t.TempDir()
	cfg = strings.NewReplacer("%MIND%", fake.URL, "%DIR%", dir).Replace(cfg)
	path := filepath.Join(dir, "relay.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	r := &binRelay{t: t, bin: relayBinary(t), cfg: path, addr: amtest.FreePort(t), logs: &testutil.SyncBuffer{}}
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("relay logs:\n%s", tail(r.logs.String(), 8000))
		}
	})
	return r
}

func (r *binRelay) URL() string { return "http://" + r.addr }

// start runs the binary and waits until it is ready.
func (r *binRelay) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "serve", "--config", r.cfg, "--listen", r.addr)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	require.NoError(r.t, r.cmd.Start())
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.URL() + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("relay binary not ready; logs:\n%s", r.logs.String())
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (r *binRelay) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

func groupPayload(i int, status string) string {
	endsAt := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		endsAt = "2026-11-22T02:10:00Z"
	}
	return fmt.Sprintf(`{"version":"4","status":%q,"receiver":"relay","groupKey":"{}:{alertname=\"Kill%03d\"}",
"groupLabels":{"alertname":"Kill%03d"},"commonLabels":{"alertname":"Kill%03d","team":"payments"},"commonAnnotations":{},
"externalURL":"http://am.example.com","truncatedAlerts":0,
"alerts":[{"status":%q,"labels":{"alertname":"Kill%03d","team":"payments"},"annotations":{"summary":"group %d"},
"startsAt":"2026-11-22T02:00:00Z","endsAt":%q,"generatorURL":"","fingerprint":"%016x"}]}`,
		status, i, i, i, status, i, i, endsAt, i)
}

// Every accepted alert group reaches Mind exactly once, in order per group,
// although the relay is killed with SIGKILL twice: once while Mind is
// down, once while deliveries are in flight.
func TestKillAndRestartLosesNothing(t *testing.T) {
	fake := mindtest.NewServer(t)
	fake.SetDown(true)
	r := newBinRelay(t, fake, baseConfig(""))
	r.start()

	const groups = 40
	auth := map[string]string{"Authorization": "Bearer am-token-123"}
	for i := 0; i < groups; i++ {
		code, body := post(t, r.URL()+"/webhook/alertmanager", groupPayload(i, "firing"), auth)
		require.Equal(t, http.StatusOK, code, body)
	}
	// Half the groups resolve while Mind is still down: their firing card
	// is superseded and only the resolved one may arrive.
	for i := 0; i < groups/2; i++ {
		code, body := post(t, r.URL()+"/webhook/alertmanager", groupPayload(i, "resolved"), auth)
		require.Equal(t, http.StatusOK, code, body)
	}
	r.kill()

	// Mind comes back, but slowly: the relay is killed with sends in flight.
	fake.SetDown(false)
	fake.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Delay: 300 * time.Millisecond} })
	r.start()
	require.Eventually(t, func() bool { return fake.TotalAttempts() >= 3 }, 10*time.Second, 10*time.Millisecond)
	r.kill()

	fake.SetHook(nil)
	r.start()
	_, err := fake.WaitForMessages(groups, 30*time.Second)
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond) // anything extra would show up now
	msgs := fake.Messages()

	seen := map[string][]string{}
	for _, m := range msgs {
		title := m.Card.Header.Title.Content
		name := title[strings.Index(title, "Kill"):][:7]
		seen[name] = append(seen[name], m.Card.Header.Template)
	}
	require.Len(t, msgs, groups, "one card per group: %v", seen)
	for i := 0; i < groups; i++ {
		name := fmt.Sprintf("Kill%03d", i)
		want := "red"
		if i < groups/2 {
			want = "green"
		}
		require.Equal(t, []string{want}, seen[name], name)
	}
	require.Empty(t, fake.Rejections())
	t.Logf("attempts at Mind: %d, duplicates dropped by request id: %d", fake.TotalAttempts(), fake.Duplicates())
}

// When the store cannot be written (a full disk, here every file write
// failing with EFBIG), webhooks get 503 so the sender retries, readiness
// fails, and what was accepted before is still delivered afterwards.
func TestStoreUnwritable(t *testing.T) {
	fake := mindtest.NewServer(t)
	fake.SetDown(true)
	r := newBinRelay(t, fake, baseConfig(""))
	r.start()
	auth := map[string]string{"Authorization": "Bearer am-token-123"}
	code, body := post(t, r.URL()+"/webhook/alertmanager", groupPayload(1, "firing"), auth)
	require.Equal(t, http.StatusOK, code, body)

	restore := fsize.Limit(t, r.cmd.Process.Pid, 0)
	code, body = post(t, r.URL()+"/webhook/alertmanager", groupPayload(2, "firing"), auth)
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Contains(t, body, "send it again")
	resp, err := http.Get(r.URL() + "/-/ready")
	require.NoError(t, err)
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, b.String())
	resp, err = http.Get(r.URL() + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "alive, just not ready")

	restore()
	require.Eventually(t, func() bool {
		resp, err := http.Get(r.URL() + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	// Alertmanager sends the refused one again.
	code, body = post(t, r.URL()+"/webhook/alertmanager", groupPayload(2, "firing"), auth)
	require.Equal(t, http.StatusOK, code, body)
	fake.SetDown(false)
	msgs, err := fake.WaitForMessages(2, 20*time.Second)
	require.NoError(t, err)
	require.Contains(t, msgs[0].Card.Header.Title.Content+msgs[1].Card.Header.Title.Content, "Kill001")
	require.Contains(t, msgs[0].Card.Header.Title.Content+msgs[1].Card.Header.Title.Content, "Kill002")
}
