package ingest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/incidentview"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/testutil"
	"github.com/mindoffice/mind-relay/internal/token"
)

var update = flag.Bool("update", false, "rewrite the golden pages under testdata/")

// The incident view's tests build incidents the way the relay does: a
// webhook through the HTTP handler and the relay into the real store
// (SQLite in a temp folder), acks through Mind's callback and the ack
// page into the ack loop, whose worker makes the silence at a fake
// Alertmanager, and resolutions by webhook. Only the clock is the test's.

// t0 is a little after the captured payloads' alerts started.
var incT0 = time.Date(2026, 11, 22, 2, 10, 0, 0, time.UTC)

const incAckSecret = "ui-incidents-ack-secret-0123456789"

type incidentsEnv struct {
	t     *testing.T
	h     http.Handler
	db    store.Store
	now   atomic.Int64
	amURL string
}

type storeQueue struct{ st store.Store }

func (q storeQueue) Submit(ctx context.Context, ns []store.Notification) error {
	_, err := q.st.Enqueue(ctx, ns)
	return err
}

func (storeQueue) Wake() {}

// newIncidentsEnv runs the relay's handlers, ack loop and worker on a
// real store; admin turns the admin UI on.
func newIncidentsEnv(t *testing.T, admin bool) *incidentsEnv {
	t.Helper()
	e := &incidentsEnv{t: t}
	e.now.Store(incT0.UnixNano())
	clock := func() time.Time { return time.Unix(0, e.now.Load()).UTC() }

	var silences atomic.Int64
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v2/silences" {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"silenceID":"sil-` + string(rune('0'+silences.Add(1))) + `"}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(am.Close)
	e.amURL = am.URL

	adminYAML := ""
	if admin {
		adminYAML = "admin: {token: " + uiToken + "}\n"
	}
	dir := t.TempDir()
	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
external_url: http://relay.example.com
timezone: Asia/Shanghai
ack:
  secret: `+incAckSecret+`
  poll_interval: 1h
  silence: {duration: 2h, allowed_urls: ["`+am.URL+`"]}
route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
receivers:
  - {name: default, open_ids: [ou_a, ou_b]}
  - {name: oncall, all_subscribers: true}
`+adminYAML), dir)
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	rd, err := render.New(render.Options{Location: cfg.Location, ExternalURL: cfg.ExternalURL, AckSecret: []byte(incAckSecret), Now: clock}, nil, nil)
	require.NoError(t, err)
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	e.db = db

	reg := prometheus.NewRegistry()
	live := relay.NewLive(&relay.State{Config: cfg, Tree: tree, Renderer: rd})
	q := storeQueue{db}
	rl := relay.New(live, relay.Options{Queue: q, Now: clock}, reg)
	acks, err := ack.New(ack.Options{Store: db, Queue: q, Live: live, Now: clock}, reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = acks.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	e.h = New(Deps{
		Relay: rl, Incidents: db, DLQ: &dlqFake{},
		Reload: func(context.Context) ([]string, error) { return nil, nil },
		Extra:  []func(*gin.Engine){AckRoutes(AckDeps{Acks: acks, Config: func() *config.Config { return live.Load().Config }, Registerer: reg})},
	}, reg)
	return e
}

func (e *incidentsEnv) at(d time.Duration) { e.now.Store(incT0.Add(d).UnixNano()) }

// payload is a captured payload (testdata/ of the repository), edited.
func (e *incidentsEnv) payload(name string, edit func(p map[string]any)) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	require.NoError(e.t, err)
	var p map[string]any
	require.NoError(e.t, json.Unmarshal(b, &p))
	if edit != nil {
		edit(p)
	}
	out, err := json.Marshal(p)
	require.NoError(e.t, err)
	return string(out)
}

func (e *incidentsEnv) webhook(source, body string) {
	e.t.Helper()
	w := do(e.h, "POST", "/webhook/"+source, "192.0.2.1:1", body, "Content-Type", "application/json")
	require.Equal(e.t, http.StatusOK, w.Code, w.Body.String())
}

// incident is the latest incident of receiver from source.
func (e *incidentsEnv) incident(receiver, source string) incident.Incident {
	e.t.Helper()
	incs, err := e.db.Incidents(context.Background(), store.IncidentQuery{Receiver: receiver})
	require.NoError(e.t, err)
	for _, inc := range incs {
		if inc.Source == source {
			return inc
		}
	}
	e.t.Fatalf("no incident of %s from %s", receiver, source)
	return incident.Incident{}
}

// ackToken is the token the incident's latest card carries.
func (e *incidentsEnv) ackToken(inc incident.Incident) string {
	e.t.Helper()
	now := time.Unix(0, e.now.Load())
	tok, err := token.Sign([]byte(incAckSecret), token.Claims{Action: token.ActionAck, GroupID: inc.GroupID,
		NotificationID: inc.LastCard, Receiver: inc.Receiver, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	require.NoError(e.t, err)
	return tok
}

// click acks the incident's latest card as Mind's callback says openID
// clicked its button.
func (e *incidentsEnv) click(inc incident.Incident, openID, nickname string) {
	e.t.Helper()
	b, err := json.Marshal(map[string]any{
		"schema": "1.0",
		"header": map[string]any{"event_type": "card.action.trigger", "app_id": "robot_test", "create_time": 1737359666789},
		"event": map[string]any{"open_id": openID, "sender_nickname": nickname, "message_id": "m-" + openID,
			"value": map[string]any{"card_id": "c-1", "action": "ack", "token": e.ackToken(inc)}},
	})
	require.NoError(e.t, err)
	w := do(e.h, "POST", "/mind/callback", "192.0.2.1:1", string(b), "Content-Type", "application/json")
	require.Equal(e.t, http.StatusOK, w.Code, w.Body.String())
}

// ackPage acks the incident's latest card from the ack page as name.
func (e *incidentsEnv) ackPage(inc incident.Incident, name string) {
	e.t.Helper()
	w := do(e.h, "POST", "/ack/"+e.ackToken(inc), "192.0.2.1:1", url.Values{"name": {name}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded")
	require.Equal(e.t, http.StatusOK, w.Code, w.Body.String())
}

// waitSilence waits until the ack worker has done what the incident's ack
// asked of its source.
func (e *incidentsEnv) waitSilence(id string) incident.Incident {
	e.t.Helper()
	var inc incident.Incident
	require.Eventually(e.t, func() bool {
		var err error
		inc, err = e.db.Incident(context.Background(), id)
		require.NoError(e.t, err)
		return inc.Silence != nil && !inc.Silence.Wanted
	}, 10*time.Second, 10*time.Millisecond)
	return inc
}

func (e *incidentsEnv) get(path string) *httptest.ResponseRecorder {
	return do(e.h, "GET", path, "192.0.2.1:1", "", "Authorization", "Bearer "+uiToken)
}

// story makes three incidents through the relay's normal paths: HighCPU
// (critical, to oncall) acked from the ack page and silenced at the fake
// Alertmanager; KubePodCrashLooping (to default) acked from the card, its
// silence refused (the payload's Alertmanager is not allowed), one alert
// resolved and then all; Grafana's, still firing.
func (e *incidentsEnv) story() (cpu, pods, graf incident.Incident) {
	e.t.Helper()
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", func(p map[string]any) { p["externalURL"] = e.amURL }))
	e.at(time.Minute)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-group-1.json", nil))
	e.at(90 * time.Second)
	e.webhook("grafana", e.payload("grafana/alerting-default-firing.json", nil))

	e.at(2 * time.Minute)
	e.ackPage(e.incident("oncall", "alertmanager"), "李雷")
	cpu = e.waitSilence(e.incident("oncall", "alertmanager").ID)
	require.Len(e.t, cpu.Silence.Live(), 1)

	e.at(4 * time.Minute)
	e.click(e.incident("default", "alertmanager"), "ou_a", "韩梅梅")
	pods = e.waitSilence(e.incident("default", "alertmanager").ID)
	require.NotEmpty(e.t, pods.Silence.Error)

	e.at(6 * time.Minute)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-group-2.json", nil))
	e.at(10 * time.Minute)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-group-2.json", func(p map[string]any) {
		p["status"] = "resolved"
		for _, a := range p["alerts"].([]any) {
			m := a.(map[string]any)
			m["status"], m["endsAt"] = "resolved", "2026-11-22T02:19:30Z"
		}
	}))
	var err error
	pods, err = e.db.Incident(context.Background(), pods.ID)
	require.NoError(e.t, err)
	require.Equal(e.t, incident.Resolved, pods.State)
	cpu, err = e.db.Incident(context.Background(), cpu.ID)
	require.NoError(e.t, err)
	require.Equal(e.t, incident.Acked, cpu.State)
	graf = e.incident("default", "grafana")
	require.Equal(e.t, incident.Firing, graf.State)
	return cpu, pods, graf
}

// golden compares got with testdata/name (rewritten with -update); the
// fake Alertmanager's port is the only thing that varies.
func (e *incidentsEnv) golden(name, got string) {
	e.t.Helper()
	got = strings.ReplaceAll(got, e.amURL, "http://am.test")
	testutil.Golden(e.t, filepath.Join("testdata", name), []byte(got), *update)
}

func TestUIIncidentsGolden(t *testing.T) {
	e := newIncidentsEnv(t, true)
	cpu, pods, _ := e.story()

	w := e.get("/ui/incidents")
	require.Equal(t, http.StatusOK, w.Code)
	// The list's whole page guards the layout it shares with the detail
	// pages, whose goldens hold their <main> only.
	e.golden("incidents-list.golden.html", w.Body.String())
	for name, id := range map[string]string{"incident-acked.golden.html": cpu.ID, "incident-resolved.golden.html": pods.ID} {
		w := e.get("/ui/incidents/" + id)
		require.Equal(t, http.StatusOK, w.Code)
		e.golden(name, string(testutil.HTMLMain(w.Body.Bytes())))
	}
}

// Each state shows in its card colour, with the row's facts.
func TestUIIncidentsRows(t *testing.T) {
	e := newIncidentsEnv(t, true)
	cpu, pods, graf := e.story()
	rows := incidentRows(t, e.get("/ui/incidents").Body.String())
	require.Equal(t, []incidentRow{{pods.ID, "resolved"}, {cpu.ID, "acked"}, {graf.ID, "firing"}}, rows, "last updated first")
}

type incidentRow struct{ id, state string }

// incidentRows are the list's rows: their incident and state badge.
func incidentRows(t *testing.T, page string) []incidentRow {
	t.Helper()
	var out []incidentRow
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken {
			continue
		}
		tok := z.Token()
		attr := func(k string) string {
			for _, a := range tok.Attr {
				if a.Key == k {
					return a.Val
				}
			}
			return ""
		}
		switch {
		case tok.Data == "tr" && attr("data-incident") != "":
			out = append(out, incidentRow{id: attr("data-incident")})
		case tok.Data == "span" && attr("data-state") != "" && len(out) > 0 && out[len(out)-1].state == "":
			out[len(out)-1].state = attr("data-state")
		}
	}
}

func TestUIIncidentsAuth(t *testing.T) {
	e := newIncidentsEnv(t, true)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", nil))
	id := e.incident("oncall", "alertmanager").ID
	for _, path := range []string{"/ui/incidents", "/ui/incidents/" + id} {
		for _, tt := range []struct {
			name   string
			header []string
			want   int
		}{
			{"no token", nil, http.StatusSeeOther},
			{"wrong bearer", []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
			{"wrong cookie", []string{"Cookie", uiCookie + "=" + sessionValue("another-token-0123456789", time.Now().Add(time.Hour))}, http.StatusUnauthorized},
			{"expired cookie", []string{"Cookie", uiCookie + "=" + sessionValue(uiToken, time.Now().Add(-time.Second))}, http.StatusUnauthorized},
			{"good cookie", []string{"Cookie", goodCookie()}, http.StatusOK},
			{"good bearer", []string{"Authorization", "Bearer " + uiToken}, http.StatusOK},
		} {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				w := do(e.h, "GET", path, "192.0.2.1:1", "", tt.header...)
				require.Equal(t, tt.want, w.Code)
				body := w.Body.String()
				switch tt.want {
				case http.StatusOK:
					require.Contains(t, body, `data-state="firing"`)
					require.Contains(t, body, "HighCPU")
				case http.StatusSeeOther:
					require.Equal(t, "/ui/login?next="+url.QueryEscape(path), w.Header().Get("Location"))
					require.False(t, strings.Contains(body, "HighCPU"), "nothing of the incident")
				default:
					require.Contains(t, body, `action="/ui/login"`, "the login form instead")
					require.False(t, strings.Contains(body, "HighCPU") || strings.Contains(body, "data-state"), "nothing of the incident")
				}
			})
		}
	}
}

// Without admin.token there is no incident view, and the ack page does
// not link it.
func TestUIIncidentsOffWithoutAdminToken(t *testing.T) {
	e := newIncidentsEnv(t, false)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", nil))
	inc := e.incident("oncall", "alertmanager")
	for _, path := range []string{"/ui/incidents", "/ui/incidents/" + inc.ID} {
		w := do(e.h, "GET", path, "192.0.2.1:1", "", "Authorization", "Bearer "+uiToken)
		require.Equal(t, http.StatusNotFound, w.Code, path)
		require.JSONEq(t, `{"error":"no such endpoint"}`, w.Body.String())
	}
	w := do(e.h, "GET", "/ack/"+e.ackToken(inc), "192.0.2.1:1", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "HighCPU")
	require.NotContains(t, w.Body.String(), "/ui/incidents")
}

// The ack page links its incident in the view when the admin UI is on.
func TestAckPageLinksTheIncidentView(t *testing.T) {
	e := newIncidentsEnv(t, true)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", nil))
	inc := e.incident("oncall", "alertmanager")
	w := do(e.h, "GET", "/ack/"+e.ackToken(inc), "192.0.2.1:1", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `<a href="/ui/incidents/`+inc.ID+`">`)
	require.Equal(t, http.StatusOK, e.get("/ui/incidents/"+inc.ID).Code, "the link leads to the incident")
}

func TestUIIncidentsNotFound(t *testing.T) {
	e := newIncidentsEnv(t, true)
	for _, id := range []string{"0123456789abcdef", "NOT-AN-ID", strings.Repeat("a", 65), "%3Cscript%3E"} {
		w := e.get("/ui/incidents/" + id)
		require.Equal(t, http.StatusNotFound, w.Code, id)
		require.Contains(t, w.Body.String(), "没有这个告警事件")
		testutil.RequireInertHTML(t, w.Body.String())
	}
}

func TestUIIncidentsSendTheAckPageHeaders(t *testing.T) {
	e := newIncidentsEnv(t, true)
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", nil))
	id := e.incident("oncall", "alertmanager").ID
	want := httptest.NewRecorder().Header()
	pageHeaders(want)
	for _, path := range []string{"/ui/incidents", "/ui/incidents?state=nope", "/ui/incidents/" + id, "/ui/incidents/0123456789abcdef"} {
		w := e.get(path)
		for k := range want {
			require.Equal(t, want.Get(k), w.Header().Get(k), "%s %s", path, k)
		}
		require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	}
}

// GET changes nothing: the store reads the same after every page of the
// view, and the view has no other method.
func TestUIIncidentsReadOnly(t *testing.T) {
	e := newIncidentsEnv(t, true)
	_, pods, _ := e.story()
	snapshot := func() string {
		ctx := context.Background()
		incs, err := e.db.Incidents(ctx, store.IncidentQuery{})
		require.NoError(t, err)
		var tls [][]incident.Event
		for _, inc := range incs {
			tl, err := e.db.Timeline(ctx, inc.ID)
			require.NoError(t, err)
			tls = append(tls, tl)
		}
		b, err := json.Marshal([]any{incs, tls})
		require.NoError(t, err)
		return string(b)
	}
	before := snapshot()
	for _, path := range []string{"/ui/incidents", "/ui/incidents?state=open", "/ui/incidents/" + pods.ID} {
		require.Equal(t, http.StatusOK, e.get(path).Code, path)
	}
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		w := do(e.h, method, "/ui/incidents/"+pods.ID, "192.0.2.1:1", "", "Authorization", "Bearer "+uiToken)
		require.Equal(t, http.StatusMethodNotAllowed, w.Code, method)
	}
	require.Equal(t, before, snapshot())
}

func TestUIIncidentsFilters(t *testing.T) {
	e := newIncidentsEnv(t, true)
	cpu, pods, graf := e.story()
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{pods.ID, cpu.ID, graf.ID}},
		{"?state=open", []string{cpu.ID, graf.ID}},
		{"?state=firing", []string{graf.ID}},
		{"?state=acked", []string{cpu.ID}},
		{"?state=resolved", []string{pods.ID}},
		{"?receiver=default", []string{pods.ID, graf.ID}},
		{"?receiver=oncall&state=acked", []string{cpu.ID}},
		{"?receiver=oncall&state=firing", nil},
		{"?receiver=gone-in-a-reload", nil},
	} {
		w := e.get("/ui/incidents" + tt.query)
		require.Equal(t, http.StatusOK, w.Code, tt.query)
		var got []string
		for _, r := range incidentRows(t, w.Body.String()) {
			got = append(got, r.id)
		}
		require.Equal(t, tt.want, got, tt.query)
		if tt.want == nil {
			require.Contains(t, w.Body.String(), "没有符合条件的告警事件")
		}
	}
	// The form keeps the filter, a removed receiver included.
	b := e.get("/ui/incidents?state=acked&receiver=gone-in-a-reload").Body.String()
	require.Contains(t, b, `<option value="acked" selected>`)
	require.Contains(t, b, `<option value="gone-in-a-reload" selected>`)

	for _, q := range []string{"?state=nope", "?after=123", "?after=x.abc", "?after=1.NOTHEX", "?receiver=" + strings.Repeat("r", 201)} {
		w := e.get("/ui/incidents" + q)
		require.Equal(t, http.StatusBadRequest, w.Code, q)
		require.Contains(t, w.Body.String(), "无法筛选", q)
		require.Empty(t, incidentRows(t, w.Body.String()), q)
	}
}

// The list is bounded: a page at a time, every incident once across the
// pages, following the page's own "next" link.
func TestUIIncidentsPages(t *testing.T) {
	e := newIncidentsEnv(t, true)
	const n = incidentview.PageSize + 7
	for i := range n {
		e.at(time.Duration(i/2) * time.Second) // pairs share an instant
		e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", func(p map[string]any) {
			name := fmt.Sprintf("Load%02d", i)
			p["groupKey"] = `{}:{alertname="` + name + `"}`
			p["groupLabels"] = map[string]any{"alertname": name}
			p["commonLabels"].(map[string]any)["alertname"] = name
			a := p["alerts"].([]any)[0].(map[string]any)
			a["labels"].(map[string]any)["alertname"] = name
			a["fingerprint"] = fmt.Sprintf("%016x", i+1)
		}))
	}
	seen := map[string]bool{}
	var titles []string
	path, pages := "/ui/incidents?state=firing&receiver=oncall", 0
	for path != "" {
		pages++
		require.LessOrEqual(t, pages, 3)
		w := e.get(path)
		require.Equal(t, http.StatusOK, w.Code, path)
		rows := incidentRows(t, w.Body.String())
		require.LessOrEqual(t, len(rows), incidentview.PageSize)
		for _, r := range rows {
			require.False(t, seen[r.id], "incident %s on two pages", r.id)
			seen[r.id] = true
		}
		titles = append(titles, pageTitles(w.Body.String())...)
		path = pageLink(t, w.Body.String(), "下一页")
		if pages > 1 {
			require.Equal(t, "/ui/incidents?receiver=oncall&state=firing", pageLink(t, w.Body.String(), "第一页"))
		}
	}
	require.Equal(t, 2, pages)
	require.Len(t, seen, n)
	require.Equal(t, "Load56", titles[0], "last updated first")
	require.ElementsMatch(t, []string{"Load00", "Load01"}, titles[n-2:], "the first two, at one instant")
}

// pageLink is the href of the link whose text is text ("" when none).
func pageLink(t *testing.T, page, text string) string {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	href := ""
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken:
			tok := z.Token()
			href = ""
			if tok.Data == "a" {
				for _, a := range tok.Attr {
					if a.Key == "href" {
						href = a.Val
					}
				}
			}
		case html.TextToken:
			if href != "" && string(z.Text()) == text {
				return href
			}
		}
	}
}

// pageTitles are the list's incident titles, in order.
func pageTitles(page string) []string {
	var out []string
	z := html.NewTokenizer(strings.NewReader(page))
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken:
			tok := z.Token()
			if tok.Data == "div" {
				for _, a := range tok.Attr {
					inTitle = a.Key == "class" && a.Val == "title"
				}
			}
			if tok.Data == "a" && inTitle {
				if z.Next() == html.TextToken {
					out = append(out, string(z.Text()))
				}
				inTitle = false
			}
		}
	}
}

// Markup in labels, annotations, ackers' names (and so timeline lines)
// and the query is shown as text, never run.
func TestUIIncidentsEscapeEverything(t *testing.T) {
	e := newIncidentsEnv(t, true)
	const (
		label   = `<script>alert("label")</script>`
		summary = `<img src=x onerror=alert(1)>`
		clicker = `"><svg onload=alert(2)>`
		pager   = `</li><iframe src=//evil.example>`
		query   = `<script>alert(3)</script>`
	)
	evil := func(name string) func(p map[string]any) {
		return func(p map[string]any) {
			p["groupKey"] = `{}:{alertname="` + name + `"}`
			p["groupLabels"] = map[string]any{"alertname": label + name, "team": label}
			p["commonLabels"].(map[string]any)["alertname"] = label + name
			a := p["alerts"].([]any)[0].(map[string]any)
			a["labels"].(map[string]any)["alertname"] = label + name
			a["labels"].(map[string]any)["team"] = label
			a["annotations"].(map[string]any)["summary"] = summary
			a["fingerprint"] = ""
		}
	}
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-firing.json", evil("a")))
	e.webhook("alertmanager", e.payload("alertmanager/am-0.25-group-1.json", func(p map[string]any) {
		evil("b")(p)
		p["commonLabels"].(map[string]any)["severity"] = "critical"
		for _, a := range p["alerts"].([]any) {
			a.(map[string]any)["labels"].(map[string]any)["severity"] = "critical"
		}
	}))
	incs, err := e.db.Incidents(context.Background(), store.IncidentQuery{})
	require.NoError(t, err)
	require.Len(t, incs, 2)
	e.at(time.Minute)
	e.click(incs[0], "ou_x", clicker)
	e.ackPage(incs[1], pager)

	pages := map[string]string{}
	for _, path := range []string{"/ui/incidents", "/ui/incidents/" + incs[0].ID, "/ui/incidents/" + incs[1].ID,
		"/ui/incidents?receiver=" + url.QueryEscape(query)} {
		w := e.get(path)
		require.Equal(t, http.StatusOK, w.Code, path)
		testutil.RequireInertHTML(t, w.Body.String())
		pages[path] = pageText(w.Body.String())
	}
	list := pages["/ui/incidents"]
	for _, s := range []string{label + "a", label + "b", "team=" + label, clicker, "web:" + pager} {
		require.Contains(t, list, s, "shown as text")
	}
	for _, inc := range incs {
		d := pages["/ui/incidents/"+inc.ID]
		require.Contains(t, d, summary)
		require.Contains(t, d, "确认 · ", "the timeline's ack line")
	}
	require.Contains(t, pages["/ui/incidents/"+incs[0].ID], "确认 · "+clicker)
	require.Contains(t, pages["/ui/incidents/"+incs[1].ID], "确认 · web:"+pager)
	require.Contains(t, pages["/ui/incidents?receiver="+url.QueryEscape(query)], query)
}

// pageText is the page's text as a reader sees it (entities decoded),
// and its attribute values.
func pageText(page string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range z.Token().Attr {
				b.WriteString(" " + a.Val + " ")
			}
		}
	}
}
