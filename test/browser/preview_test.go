package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/app"
	"github.com/mindoffice/mind-relay/internal/testutil"
)

const (
	adminToken    = "browser-test-admin-token-0123456789"
	callbackToken = "browser-test-callback-token-0123456789"
)

// toolsRequired reports whether a missing tool fails the run instead of
// skipping: in CI, or when asked.
func toolsRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MIND_RELAY_REQUIRE_TOOLS") == "1"
}

// chromium finds Debian's chromium, or skips the test (fails it where
// tools are required).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("MIND_RELAY_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found (/usr/bin/chromium or on PATH); scripts/deps.sh installs it"
	if toolsRequired() {
		t.Fatalf("%s (required: CI=true or MIND_RELAY_REQUIRE_TOOLS=1)", msg)
	}
	t.Skip(msg)
	return ""
}

// artifacts is where the screenshots go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MIND_RELAY_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "browser")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// startRelay runs `relay serve --dry-run` in-process on loopback until the
// test ends and returns its base URL.
func startRelay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
mind: {app_id: robot_browser, callback_token: %s}
external_url: http://relay.example.com
admin: {token: %s}
ack: {secret: browser-test-ack-secret-0123456789}
store: {path: %s}
route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
receivers:
  - {name: default, open_ids: [ou_default]}
  - {name: oncall, open_ids: [ou_oncall]}
`, callbackToken, adminToken, filepath.Join(dir, "relay.db"))
	path := filepath.Join(dir, "relay.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testutil.SyncBuffer{}
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{
			ConfigFile: path, Listen: "127.0.0.1:0", DryRun: true,
			Logs: logs, Ready: ready, ShutdownTimeout: 5 * time.Second,
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("relay did not start: %v\n%s", err, logs.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("relay did not start in time\n%s", logs.String())
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay stopped with: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("relay did not stop in time")
		}
		if t.Failed() {
			t.Logf("relay logs:\n%s", logs.String())
		}
	})
	return "http://" + addr
}

// browser starts a headless Chromium with its own profile.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

func TestPreviewInChromium(t *testing.T) {
	bin := chromium(t)
	base := startRelay(t)
	ctx := browser(t, bin)
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		require.NoError(t, err, js)
		return v
	}
	text := func(css string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		require.NoError(t, err, css)
		return v
	}

	// Errors and warnings on the console — a CSP violation, a failed
	// load — are collected; there must be none.
	stopConsole := consoleErrors(ctx)

	// Unauthenticated: sent to the login form, its token field focused.
	run(chromedp.Navigate(base+"/ui/preview"), chromedp.WaitVisible(chromedp.ID("token")))
	require.Equal(t, "登录", text("h1"))
	require.Equal(t, base+"/ui/login?next=%2Fui%2Fpreview", eval(`location.href`))
	require.Equal(t, "token", eval(`document.activeElement ? document.activeElement.id : ""`), "the token field has the focus")

	// Log in from the keyboard alone: type the token, press Enter. The page
	// opens with the first captured payload previewed.
	run(chromedp.KeyEvent(adminToken), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/preview"]`)))
	require.Equal(t, "", eval(`document.cookie`), "the session cookie is HttpOnly: scripts cannot read it")
	require.Equal(t, "触发中 · critical · HighCPU (1)", text(".mind-card .mc-title"))

	// Pick a captured payload, edit the title template, submit.
	run(
		chromedp.SetValue(chromedp.ID("sample"), "alertmanager/am-0.25-group-2.json"),
		chromedp.SetValue(chromedp.ID("templates"), `{{ define "mind.title" }}{{ if eq .Status "firing" }}【预览】{{ end }}触发中 · {{ template "mind.name" . }} ({{ len .Alerts.Firing }}){{ end }}`),
		chromedp.Click(chromedp.CSS(`form[action="/ui/preview"] button[type=submit]`)),
		// Only the answer to the POST offers the edited text to copy.
		chromedp.WaitVisible(chromedp.ID("copy-templates")),
	)
	require.Equal(t, "【预览】触发中 · KubePodCrashLooping (2)", text(".mind-card .mc-title"))
	require.Equal(t, "red", eval(`document.querySelector('.mind-card').dataset.headerTemplate`))
	require.Equal(t, "rgb(245, 74, 69)", eval(`getComputedStyle(document.querySelector('.mind-card .mc-header')).backgroundColor`), "the red header")
	require.Equal(t, "确认|网页确认|查看告警|告警来源|处理手册", eval(`Array.from(document.querySelectorAll('.mind-card .mc-btn')).map(b => b.textContent).join('|')`))
	require.Contains(t, text("pre.body"), `"receive_open_ids":["ou_default"]`, "the exact body, for the routed receiver")
	require.Equal(t, "route", text("table tbody td:nth-child(3)"), "no route matched severity=warning: the root")
	require.Equal(t, "模板卡片", text(".result dl.meta .ok"), "no fallback")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	file := filepath.Join(artifacts(t), "preview.png")
	require.NoError(t, os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot: %s", file)

	// What the console got while the pages loaded.
	require.Empty(t, stopConsole())
}
