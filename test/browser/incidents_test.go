package browser

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	mindrelay "github.com/mindoffice/mind-relay"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/render"
)

// consoleErrors collects the errors and warnings the page's console gets
// (a CSP violation, a failed load); stop ends the collection and returns
// them.
func consoleErrors(ctx context.Context) (stop func() []string) {
	cctx, cancel := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		messages []string
		read     = make(chan struct{})
	)
	console := chromedp.Console(cctx)
	go func() {
		defer close(read)
		for m, err := range console {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				messages = append(messages, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		cancel()
		<-read
		mu.Lock()
		defer mu.Unlock()
		return messages
	}
}

func postWebhook(t *testing.T, base, sample string) {
	t.Helper()
	body, err := mindrelay.Sample(sample)
	require.NoError(t, err)
	src, _, _ := strings.Cut(sample, "/")
	resp, err := http.Post(base+"/webhook/"+src, "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// chatAck acks a group by its short id with a chat command from openID,
// as Mind delivers the message to the robot.
func chatAck(t *testing.T, base, openID, groupKey, receiver string) {
	t.Helper()
	content, err := json.Marshal(map[string]string{"text": "ack " + render.ShortID(alert.GroupID(alert.SourceAlertmanager, groupKey, receiver))})
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{
		"schema": "1.0",
		"header": map[string]any{"event_type": "im.message.robot.receive_v1", "app_id": "robot_browser", "create_time": 1737359666789},
		"event": map[string]any{"open_id": openID, "sender_nickname": "值班工程师", "message_id": "m-1",
			"content_type": 101, "content": string(content)},
	})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/mind/callback", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Relay-Callback-Token", callbackToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
}

// After webhooks, the incident view lists the incidents, each in its
// card's colour, and opens one with its timeline — from the keyboard.
func TestIncidentsInChromium(t *testing.T) {
	bin := chromium(t)
	base := startRelay(t)
	// HighCPU fires and resolves (green); KubePodCrashLooping fires and
	// is acknowledged in chat (orange); Grafana's alert fires (red).
	postWebhook(t, base, "alertmanager/am-0.25-firing.json")
	postWebhook(t, base, "alertmanager/am-0.25-group-1.json")
	postWebhook(t, base, "alertmanager/am-0.25-resolved.json")
	postWebhook(t, base, "grafana/alerting-default-firing.json")
	chatAck(t, base, "ou_default", `{}:{alertname="KubePodCrashLooping"}`, "default")

	ctx := browser(t, bin)
	stopConsole := consoleErrors(ctx)
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

	// Log in from the keyboard; back to the view.
	run(chromedp.Navigate(base+"/ui/incidents"), chromedp.WaitVisible(chromedp.ID("token")))
	run(chromedp.KeyEvent(adminToken), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`table.incidents`)))
	require.Equal(t, base+"/ui/incidents", eval(`location.href`))
	require.Equal(t, "告警事件", text("h1"))

	row := func(title string) string {
		return `Array.from(document.querySelectorAll('tr[data-incident]')).find(r => r.querySelector('.title a').textContent === '` + title + `')`
	}
	require.Equal(t, "3", eval(`String(document.querySelectorAll('tr[data-incident]').length)`))
	for _, tc := range []struct{ title, state, text, colour string }{
		{"alert1", "firing", "触发中", "rgb(245, 74, 69)"},
		{"KubePodCrashLooping", "acked", "已确认", "rgb(255, 136, 0)"},
		{"HighCPU", "resolved", "已恢复", "rgb(52, 184, 108)"},
	} {
		badge := row(tc.title) + `.querySelector('.st')`
		require.Equal(t, tc.state, eval(badge+`.dataset.state`), tc.title)
		require.Equal(t, tc.text, eval(badge+`.textContent`), tc.title)
		require.Equal(t, tc.colour, eval(`getComputedStyle(`+badge+`).backgroundColor`), "%s: the card's colour", tc.title)
	}
	require.Equal(t, "oncall", eval(row("HighCPU")+`.cells[2].firstChild.textContent`), "routed by severity=critical")
	require.Equal(t, "值班工程师 （ou_default）聊天命令", eval(row("KubePodCrashLooping")+`.querySelector('td:nth-child(5)').textContent.replace(/ · .*/, '')`), "who acked, and how")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	file := filepath.Join(artifacts(t), "incidents.png")
	require.NoError(t, os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot: %s", file)

	// Filter by state with the form, then open the incident: focus its
	// link and press Enter.
	run(chromedp.SetValue(chromedp.ID("state"), "resolved"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	// The old page stays visible until the new one replaces it: wait for
	// the navigation itself, then for the new page's table.
	for deadline := time.Now().Add(10 * time.Second); eval(`location.href`) != base+"/ui/incidents?state=resolved&receiver=" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	run(chromedp.WaitReady(`body`), chromedp.WaitVisible(chromedp.CSS(`table.incidents`)))
	require.Equal(t, base+"/ui/incidents?state=resolved&receiver=", eval(`location.href`))
	require.Equal(t, "1", eval(`String(document.querySelectorAll('tr[data-incident]').length)`))
	run(chromedp.Focus(chromedp.CSS(`tr[data-incident] .title a`)), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("timeline")))
	require.Equal(t, "HighCPU", text("h1 .title"))
	require.Equal(t, "opened|resolved", eval(`Array.from(document.querySelectorAll('#timeline li')).map(l => l.dataset.kind).join('|')`))

	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	file = filepath.Join(artifacts(t), "incident.png")
	require.NoError(t, os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot: %s", file)

	require.Empty(t, stopConsole())
}
