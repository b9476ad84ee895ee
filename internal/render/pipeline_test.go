package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/route"
)

// pipeline is what a webhook goes through, from the bytes a sender posts
// to the request Mind gets: the parsers, a route tree, the renderers (the
// default templates, and templates that always fail, for the fallback
// card) and a fake Mind that checks each request as Mind would.
type pipeline struct {
	tree      *route.Tree
	receivers map[string]*config.Receiver
	renderers []*Renderer
}

func newPipeline(t testing.TB) *pipeline {
	t.Helper()
	tree, err := route.Build(&config.Route{
		Receiver: "default",
		Routes: []*config.Route{
			{Receiver: "pager", Matchers: []string{`severity=~"crit.*"`}, Continue: true},
			{Receiver: "db", Matchers: []string{`team="db"`}},
			{Receiver: "payments", Matchers: []string{`"服务"="支付"`, `namespace!=""`}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	receivers := map[string]*config.Receiver{
		"default":  {Name: "default", OpenIDs: []string{"ou_default"}},
		"pager":    {Name: "pager", AllSubscribers: true, MaxAlerts: 50},
		"db":       {Name: "db", OpenIDs: []string{"ou_db1", "ou_db2"}, MaxAlerts: 3},
		"payments": {Name: "payments", OpenIDs: []string{"ou_pay"}},
	}
	good, err := New(testOptions(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.tmpl")
	if err := os.WriteFile(broken, []byte(`{{ define "mind.body" }}{{ index .Alerts 99 }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.Files = []string{broken}
	bad, err := New(opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{tree: tree, receivers: receivers, renderers: []*Renderer{good, bad}}
}

var parsers = []struct {
	name  string
	parse func([]byte) (*alert.Group, []payload.Skipped, error)
}{
	{"alertmanager", payload.ParseAlertmanager},
	{"grafana", payload.ParseGrafana},
}

// check runs body through every parser; for each that accepts it (a 2xx
// to the sender), every routed group must render, with either template
// set, to a card Mind accepts, within the size limit, that lists an alert.
func (p *pipeline) check(t *testing.T, body []byte) {
	t.Helper()
	for _, ps := range parsers {
		g, _, err := ps.parse(body)
		if err != nil {
			continue // a 4xx: the sender is told, nothing is lost
		}
		// The relay stores the group as JSON and renders what it reads back.
		stored, err := json.Marshal(g)
		if err != nil {
			t.Fatalf("%s: accepted group does not encode: %v", ps.name, err)
		}
		var back alert.Group
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("%s: stored group does not decode: %v", ps.name, err)
		}
		for _, rt := range p.tree.Split(&back) {
			rcv := p.receivers[rt.Receiver]
			if rcv == nil {
				t.Fatalf("%s: routed to unknown receiver %q", ps.name, rt.Receiver)
			}
			for i, r := range p.renderers {
				c, err := r.Render(rt.Group, Input{Receiver: rcv, NotificationID: "n-1"})
				if err != nil {
					t.Fatalf("%s, receiver %s, renderer %d: a 2xx that cannot be delivered: %v", ps.name, rcv.Name, i, err)
				}
				checkDeliverable(t, c, rcv, len(rt.Group.Alerts) > 0)
			}
		}
	}
}

// checkDeliverable sends c, as the relay would, to a fake Mind that checks
// the request as Mind would.
func checkDeliverable(t *testing.T, c *card.Card, rcv *config.Receiver, hasAlerts bool) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("invalid card: %v", err)
	}
	content, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	req, err := mind.NewCardRequest("req-1", rcv.OpenIDs, rcv.AllSubscribers, content)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := mind.NewCardRequest("req-1", rcv.OpenIDs, rcv.AllSubscribers, "")
	if err != nil {
		t.Fatal(err)
	}
	if limit := card.MaxCardBytes + len(empty.Body) - len(`""`); len(req.Body) > limit {
		t.Fatalf("send body is %d bytes, more than %d", len(req.Body), limit)
	}
	fake := mindtest.New(mindtest.Config{})
	hr := httptest.NewRequest(http.MethodPost, req.Endpoint, bytes.NewReader(req.Body))
	hr.Header.Set("app-id", mindtest.DefaultAppID)
	hr.Header.Set("app-secret", mindtest.DefaultAppSecret)
	hr.Header.Set("x-request-id", req.RequestID)
	hr.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	fake.ServeHTTP(w, hr)
	if msgs := fake.Messages(); len(msgs) != 1 || msgs[0].Card == nil {
		t.Fatalf("Mind refused the card: %v %s", fake.Rejections(), w.Body.String())
	}
	body := c.Elements[0].Content
	if hasAlerts && (strings.Contains(body, "（无告警详情）") || !strings.Contains(c.Header.Title.Content, "(")) {
		t.Fatalf("the card lists no alert:\n%s", body)
	}
}

// FuzzPipeline posts arbitrary bytes through parse, route and render:
// whatever a parser accepts must become a card Mind takes. Its seeds are
// the captured payloads of testdata/ and the hostile ones under
// testdata/fuzz/FuzzPipeline (huge URLs, 10k labels, control characters,
// invalid UTF-8, injections), which plain `go test` runs.
func FuzzPipeline(f *testing.F) {
	for _, dir := range []string{"alertmanager", "grafana"} {
		paths, err := filepath.Glob(filepath.Join(sharedTestdata, dir, "*.json"))
		if err != nil || len(paths) == 0 {
			f.Fatalf("no captured payloads in %s: %v", dir, err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	p := newPipeline(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p.check(t, body)
	})
}

// The hostile seeds must stay what they claim to be: each is accepted by
// a parser (else the fuzz target would only test the 400 path).
func TestPipelineSeedsAreAccepted(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzPipeline", "*"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 8, "hostile seeds missing")
	for _, path := range paths {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		body, ok := seedBytes(b)
		require.True(t, ok, "%s is not a []byte corpus file", path)
		accepted := false
		for _, ps := range parsers {
			if _, _, err := ps.parse(body); err == nil {
				accepted = true
			}
		}
		require.True(t, accepted, "%s: no parser accepts it", filepath.Base(path))
	}
}

// seedBytes reads a "go test fuzz v1" file holding one []byte.
func seedBytes(b []byte) ([]byte, bool) {
	s, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
	if !ok {
		return nil, false
	}
	s, ok = strings.CutSuffix(strings.TrimSpace(s), ")")
	if !ok {
		return nil, false
	}
	var out string
	if _, err := fmt.Sscanf(s, "%q", &out); err != nil {
		return nil, false
	}
	return []byte(out), true
}

// TestPipelineProperty is the property of FuzzPipeline over structured
// payloads: random groups built from hostile pieces, posted as both
// Alertmanager and Grafana bodies, always become a card Mind takes.
func TestPipelineProperty(t *testing.T) {
	p := newPipeline(t)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 30
	if testing.Short() {
		n = 8
	}
	for i := range n {
		body := randomPayload(rng, i%2 == 1)
		t.Run(fmt.Sprint(i), func(t *testing.T) { p.check(t, body) })
	}
}

// hostilePieces are the strings random payloads are made of; the first
// smallPieces are short.
var hostilePieces = []string{
	"", " ", "db", "critical", "warning", "支付", "payments", "HighCPU",
	"<at user_id='all'>所有人</at>", "</font><font color='red'>x", "[link](https://evil.example.com/)",
	"&lt;at user_id='all'&gt;", "# h\n- l\n> q", "**b** `c` |t|", "\u202eevil\u202c", "\x00\x01\x1b[31m",
	"\xff\xfe\xfd", "😀表情", "https://ok.example.com/x?a=1&b=2", "javascript:alert(1)", "http://", "mind://msg/x?id=1",
	// long ones
	strings.Repeat("长", 3000), strings.Repeat("&\"\\<", 2000),
	"https://big.example.com/?" + strings.Repeat("q&", 16<<10),
	"https://big.example.com/" + strings.Repeat("%E9%95%BF", 1200),
}

// smallPieces is how many of hostilePieces are short: a group of hundreds
// of alerts is made of those, to stay within the webhook's body limit.
const smallPieces = 22

func randomKV(rng *rand.Rand, piece func() string, max int, flood bool, must map[string]string) map[string]string {
	kv := map[string]string{}
	for k, v := range must {
		kv[k] = v
	}
	if flood && rng.IntN(10) == 0 {
		for j := range 2000 + rng.IntN(3000) { // a flood of short labels
			kv[fmt.Sprintf("f%d", j)] = hostilePieces[rng.IntN(smallPieces)]
		}
	}
	for j := range rng.IntN(max + 1) {
		name := piece()
		if rng.IntN(2) == 0 {
			name = fmt.Sprintf("k%d", j)
		}
		kv[name] = piece()
	}
	return kv
}

// randomPayload is a webhook body: Alertmanager's (version 4) or Grafana's
// (version 1, with its extra fields), within the webhook's 4 MiB limit.
func randomPayload(rng *rand.Rand, grafana bool) []byte {
	for {
		if b := randomBody(rng, grafana); len(b) <= config.DefaultMaxBodyBytes {
			return b
		}
	}
}

func randomBody(rng *rand.Rand, grafana bool) []byte {
	nAlerts := 1 + rng.IntN(6)
	if rng.IntN(10) == 0 {
		nAlerts = 100 + rng.IntN(200)
	}
	flood := nAlerts < 10
	piece := func() string {
		if flood {
			return hostilePieces[rng.IntN(len(hostilePieces))]
		}
		return hostilePieces[rng.IntN(smallPieces)]
	}
	alerts := make([]map[string]any, 0, nAlerts)
	for range nAlerts {
		status := "firing"
		ends := "0001-01-01T00:00:00Z"
		if rng.IntN(3) == 0 {
			status, ends = "resolved", "2026-11-22T03:00:00Z"
		}
		a := map[string]any{
			"status":       status,
			"labels":       randomKV(rng, piece, 6, flood, map[string]string{"alertname": piece(), "severity": piece(), "team": piece(), "服务": piece()}),
			"annotations":  randomKV(rng, piece, 6, flood, map[string]string{"summary": piece(), "description": piece(), "runbook_url": piece()}),
			"startsAt":     "2026-11-22T02:00:00Z",
			"endsAt":       ends,
			"generatorURL": piece(),
			"fingerprint":  fmt.Sprintf("%016x", rng.Uint64()),
		}
		if grafana {
			a["silenceURL"], a["dashboardURL"], a["panelURL"], a["imageURL"] = piece(), piece(), piece(), piece()
			values := map[string]float64{}
			for j := range rng.IntN(30) {
				values[fmt.Sprintf("%s%d", piece(), j)] = rng.NormFloat64() * 1e6
			}
			a["values"], a["valueString"] = values, piece()
		}
		alerts = append(alerts, a)
	}
	msg := map[string]any{
		"version":           "4",
		"receiver":          piece(),
		"status":            "firing",
		"alerts":            alerts,
		"groupLabels":       randomKV(rng, piece, 3, true, nil),
		"commonLabels":      randomKV(rng, piece, 3, false, nil),
		"commonAnnotations": randomKV(rng, piece, 3, false, map[string]string{"summary": piece(), "runbook_url": piece()}),
		"externalURL":       piece(),
		"groupKey":          piece(),
		"truncatedAlerts":   rng.IntN(3) * rng.IntN(1000),
	}
	if grafana {
		msg["version"], msg["orgId"], msg["title"], msg["state"], msg["message"] = "1", 1, piece(), "alerting", piece()
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return b
}
