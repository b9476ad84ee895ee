package browser

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	mindrelay "github.com/mindoffice/mind-relay"
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
	resp, err := http.Post(base+"/webhook/alertmanager", "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// After webhooks, the incident view lists the incidents, each in its
// card's colour, and opens one with its timeline — from the keyboard.
func TestIncidentsInChromium(t *testing.T) {
	bin := chromium(t)
	base := startRelay(t)
	// HighCPU fires and resolves (green); KubePodCrashLooping fires (red).
	postWebhook(t, base, "alertmanager/am-0.25-firing.json")
	postWebhook(t, base, "alertmanager/am-0.25-group-1.json")
	postWebhook(t, base, "alertmanager/am-0.25-resolved.json")

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
	require.Equal(t, "2", eval(`String(document.querySelectorAll('tr[data-incident]').length)`))
	for _, tc := range []struct{ title, state, text, colour string }{
		{"KubePodCrashLooping", "firing", "触发中", "rgb(245, 74, 69)"},
		{"HighCPU", "resolved", "已恢复", "rgb(52, 184, 108)"},
	} {
		badge := row(tc.title) + `.querySelector('.st')`
		require.Equal(t, tc.state, eval(badge+`.dataset.state`), tc.title)
		require.Equal(t, tc.text, eval(badge+`.textContent`), tc.title)
		require.Equal(t, tc.colour, eval(`getComputedStyle(`+badge+`).backgroundColor`), "%s: the card's colour", tc.title)
	}
	require.Equal(t, "oncall", eval(row("HighCPU")+`.cells[2].firstChild.textContent`), "routed by severity=critical")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	file := filepath.Join(artifacts(t), "incidents.png")
	require.NoError(t, os.WriteFile(file, shot, 0o644))
	t.Logf("screenshot: %s", file)

	// Filter by state with the form, then open the incident: focus its
	// link and press Enter.
	run(chromedp.SetValue(chromedp.ID("state"), "resolved"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.incidents`)))
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
