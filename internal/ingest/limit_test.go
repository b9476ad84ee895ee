package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/store"
)

// bigWebhook is a version 4 webhook of n small firing alerts, with the
// sender's own truncatedAlerts.
func bigWebhook(n int, truncated uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":"4","groupKey":"{}:{alertname=\"Flood\"}","truncatedAlerts":%d,"status":"firing","receiver":"relay",`, truncated)
	b.WriteString(`"groupLabels":{"alertname":"Flood"},"commonLabels":{"alertname":"Flood"},"commonAnnotations":{},"externalURL":"http://am:9093","alerts":[`)
	for j := range n {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"labels":{"alertname":"Flood","i":"` + strconv.Itoa(j) + `"}}`)
	}
	b.WriteString("]}")
	return b.String()
}

func alertIndexes(t *testing.T, body []byte) ([]string, uint64) {
	t.Helper()
	g, _, err := payload.ParseAlertmanager(body)
	require.NoError(t, err)
	var idx []string
	for _, a := range g.Alerts {
		idx = append(idx, a.Labels["i"])
	}
	return idx, g.TruncatedAlerts
}

func TestTruncateAlerts(t *testing.T) {
	small := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`{"labels":{"i":"%d"}}`, i))
		}
		return strings.Join(parts, " ,\n ")
	}
	head := `{"version":"4","status":"firing","groupKey":"k",`
	tests := []struct {
		name     string
		body     string
		max      int
		dropped  uint64
		kept     []string // the alerts' "i" labels after parsing; nil: body unchanged
		sameBody bool
	}{
		{"cut to the first three", head + `"alerts":[` + small(10) + `]}`, 3, 7, []string{"0", "1", "2"}, false},
		{"alerts before other keys", `{"alerts":[` + small(5) + `],"version":"4","status":"firing"}`, 2, 3, []string{"0", "1"}, false},
		{"exactly max: unchanged", head + `"alerts":[` + small(3) + `]}`, 3, 0, nil, true},
		{"fewer than max: unchanged", head + `"alerts":[` + small(2) + `]}`, 3, 0, nil, true},
		{"a short body is not even scanned", head + `"alerts":[{},{}]}`, 100, 0, nil, true},
		{"keys fold as encoding/json folds them", head + `"ALERTS":[` + small(6) + `]}`, 4, 2, []string{"0", "1", "2", "3"}, false},
		{"an escaped key", head + `"\u0061lerts":[` + small(6) + `]}`, 4, 2, []string{"0", "1", "2", "3"}, false},
		{"alerts twice: both cut, the last counted", head + `"alerts":[` + small(3) + `],"alerts":[` + small(8) + `]}`, 2, 6, []string{"0", "1"}, false},
		{"nested alerts are not the webhook's", head + `"commonAnnotations":{"alerts":"[1,2,3,4,5,6]"},"alerts":[` + small(5) + `]}`, 2, 3, []string{"0", "1"}, false},
		{"elements with nested arrays and strings with brackets", head + `"alerts":[{"labels":{"i":"0","x":"],["}},{"labels":{"i":"1"},"annotations":{"a":"[[{"}},{"labels":{"i":"2"}},{"labels":{"i":"3"}}]}`, 2, 2, []string{"0", "1"}, false},
		{"malformed JSON: unchanged, the parser says why", head + `"alerts":[` + small(6) + `,]}`, 2, 0, nil, true},
		{"alerts not an array: unchanged", head + `"alerts":{"a":[` + small(6) + `]}}`, 2, 0, nil, true},
		{"not an object: unchanged", `[` + small(6) + `]`, 2, 0, nil, true},
		{"a later null alerts: earlier ones cut all the same, nothing counted", head + `"alerts":[` + small(6) + `],"Alerts":null}`, 2, 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, dropped := truncateAlerts([]byte(tc.body), tc.max)
			require.Equal(t, tc.dropped, dropped)
			if tc.sameBody {
				require.Equal(t, tc.body, string(got))
				return
			}
			require.True(t, json.Valid(got), "%s", got)
			if tc.kept == nil { // the parser refuses it, in the same words
				_, _, want := payload.ParseAlertmanager([]byte(tc.body))
				_, _, err := payload.ParseAlertmanager(got)
				require.Error(t, want)
				require.EqualError(t, err, want.Error())
				return
			}
			idx, _ := alertIndexes(t, got)
			require.Equal(t, tc.kept, idx)
		})
	}
}

// A webhook with more alerts than sources.<source>.max_alerts keeps the
// first ones; the card counts the rest (and the sender's own truncated
// ones) as "还有 N 条告警未显示".
func TestWebhookKeepsTheFirstMaxAlerts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		alerts    int
		sender    uint64 // the sender's truncatedAlerts
		maxAlerts int
		kept      int
		truncated uint64
		omitted   int // on the card, which lists receivers' max_alerts (10)
	}{
		{"a flood", 5000, 0, 100, 100, 4900, 4990},
		{"with the sender's own count", 5000, 7, 100, 100, 4907, 4997},
		{"under the cap", 50, 0, 100, 50, 0, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []store.Notification
			deps, _ := serverDeps(t, fmt.Sprintf("sources: {alertmanager: {max_alerts: %d}}\n", tc.maxAlerts),
				func(_ context.Context, ns []store.Notification) error { got = append(got, ns...); return nil })
			h := New(deps, prometheus.NewRegistry())
			w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", bigWebhook(tc.alerts, tc.sender))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Len(t, got, 1)

			d, err := relay.DecodeGroup(got[0].Group)
			require.NoError(t, err)
			require.Len(t, d.Group.Alerts, tc.kept)
			require.Equal(t, "0", d.Group.Alerts[0].Labels["i"], "the first ones, in the sender's order")
			require.Equal(t, strconv.Itoa(tc.kept-1), d.Group.Alerts[tc.kept-1].Labels["i"])
			require.Equal(t, tc.truncated, d.Group.TruncatedAlerts)

			req, err := relay.NewCards(relay.NewLive(deps.Relay.State()), nil, nil, prometheus.NewRegistry()).Render(context.Background(), got[0])
			require.NoError(t, err)
			require.Contains(t, string(req.Body), fmt.Sprintf("还有 %d 条告警未显示", tc.omitted))
		})
	}
}

// What a webhook costs in memory is proportional to its body, however
// many alerts the body holds: 100,000 small alerts (3.8 MB) are not
// decoded into Go values.
func TestWebhookMemoryIsProportionalToItsBody(t *testing.T) {
	body := bigWebhook(100_000, 0)
	deps, _ := serverDeps(t, "sources: {alertmanager: {max_body_bytes: 8388608}}\n", func(context.Context, []store.Notification) error { return nil })
	h := New(deps, prometheus.NewRegistry())
	require.Equal(t, http.StatusOK, do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", body).Code) // warm up

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", body)
	runtime.ReadMemStats(&after)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("body %d bytes, allocated %d bytes (%.1fx)", len(body), allocated, float64(allocated)/float64(len(body)))
	require.Less(t, allocated, uint64(6*len(body)), "allocation is a small multiple of the body")
}

// Beyond sources.max_in_flight webhooks at once, one more waits a moment
// for a slot, then is answered 503 with Retry-After (which Alertmanager
// retries); a slot freed while it waits is its.
func TestWebhooksInFlightAreBounded(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	deps, _ := serverDeps(t, "sources: {max_in_flight: 2}\n", func(ctx context.Context, ns []store.Notification) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	reg := prometheus.NewRegistry()
	h := New(deps, reg)
	firing := firing(t)

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", strings.ReplaceAll(firing, "HighCPU", "HighCPU"+strconv.Itoa(i))).Code
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the first two webhooks did not reach the queue")
		}
	}
	require.Equal(t, 2.0, metricSum(t, reg, "mind_relay_webhooks_in_flight"))

	w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "5", w.Header().Get("Retry-After"))
	require.Contains(t, w.Body.String(), "sources.max_in_flight")
	require.Equal(t, http.StatusBadRequest, do(h, "POST", "/webhook/grafana", "10.0.0.1:1", "{}").Code,
		"each source has slots of its own: Grafana is not blocked by Alertmanager's")
	require.Equal(t, http.StatusOK, do(h, "GET", "/-/healthy", "10.0.0.1:1", "").Code, "other endpoints are not bounded")

	// One more waits for a slot: freed in time, it goes through.
	waited := make(chan int, 1)
	go func() {
		waited <- do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", strings.ReplaceAll(firing, "HighCPU", "Waited")).Code
	}()
	time.Sleep(100 * time.Millisecond) // let it start waiting (if it is late, it finds the slot free: same result)
	release <- struct{}{}              // one of the first two finishes
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting webhook did not get the freed slot")
	}
	close(release)
	require.Equal(t, http.StatusOK, <-waited)
	wg.Wait()
	require.Equal(t, []int{http.StatusOK, http.StatusOK}, codes)
	require.Equal(t, http.StatusOK, do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing).Code, "slots are given back")
	require.Equal(t, 1.0, metricSum(t, reg, "mind_relay_webhooks_received_total", "code", "503"))
	require.Equal(t, 0.0, metricSum(t, reg, "mind_relay_webhooks_in_flight"))
}

// metricSum adds up the samples of a counter or gauge whose labels
// include labels (name, value pairs).
func metricSum(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue samples
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

// Whatever the body, the cut keeps it readable the way the parser reads
// it: an unchanged body, or valid JSON whose alerts are exactly the first
// max of the original's (the parser sees as many, in the same order), the
// rest counted.
func FuzzTruncateAlerts(f *testing.F) {
	for _, name := range []string{"alertmanager/am-0.25-group-1.json", "alertmanager/am-0.25-resolved.json", "grafana/docs-example-firing.json"} {
		b, err := os.ReadFile("../../testdata/" + name)
		require.NoError(f, err)
		f.Add(b, uint8(1))
	}
	f.Add([]byte(bigWebhook(12, 3)), uint8(5))
	f.Add([]byte(`{"version":"4","ALERTS":[{"labels":{"a":"1"}},{"labels":{"a":"2"}},{"labels":{"a":"3"}}],"alerts":null}`), uint8(1))
	f.Add([]byte(`{"version":"4","alertſ":[{"labels":{"a":"1"}},{"labels":{"a":"2"}},{"labels":{"a":"3"}}]}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, m uint8) {
		max := int(m%8) + 1
		out, dropped := truncateAlerts(body, max)
		if bytes.Equal(out, body) {
			require.Zero(t, dropped, "nothing cut, nothing counted")
			return
		}
		require.True(t, json.Valid(out), "a cut body is valid JSON: %q", out)
		var in, cut struct {
			Alerts []json.RawMessage `json:"alerts"`
		}
		errIn, errCut := json.Unmarshal(body, &in), json.Unmarshal(out, &cut)
		require.Equal(t, errIn != nil, errCut != nil, "the parser refuses both or neither: %v, %v", errIn, errCut)
		if errIn != nil {
			return
		}
		// Every "alerts" is cut (the decoder would build each), the last
		// one (the one it keeps) is counted.
		require.Equal(t, len(in.Alerts)-int(dropped), len(cut.Alerts))
		if dropped > 0 {
			require.Len(t, cut.Alerts, max)
		}
		for i := range cut.Alerts {
			require.JSONEq(t, string(in.Alerts[i]), string(cut.Alerts[i]), "alert %d", i)
		}
	})
}

// Nobody without credentials can hold a slot: a webhook that fails the
// header auth is refused at once, before it waits for a slot or sends its
// body; and slow senders on a source whose only auth is the HMAC of the
// body (readable only once sent) hold that source's slots, not the other's.
func TestWebhookSlotsNeedCredentials(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	deps, _ := serverDeps(t, "sources: {max_in_flight: 1, alertmanager: {bearer_token: am-secret}, grafana: {hmac: {secret: gf-secret}}}\n",
		func(ctx context.Context, ns []store.Notification) error {
			entered <- struct{}{}
			<-release
			return nil
		})
	h := New(deps, prometheus.NewRegistry())
	firing := firing(t)

	// An authenticated webhook holds Alertmanager's one slot.
	held := make(chan int, 1)
	go func() {
		held <- do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing, "Authorization", "Bearer am-secret").Code
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first webhook did not reach the queue")
	}
	start := time.Now()
	w := do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing, "Authorization", "Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, w.Code, "refused on its headers, not made to wait for a slot")
	require.Less(t, time.Since(start), slotWait, "it did not wait for a slot")

	// A sender stuck in the middle of an unsigned Grafana body holds
	// Grafana's slot only.
	pr, pw := io.Pipe()
	stuck := make(chan int, 1)
	go func() {
		r := httptest.NewRequest("POST", "/webhook/grafana", pr)
		r.RemoteAddr = "10.0.0.2:1"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		stuck <- rec.Code
	}()
	_, _ = pw.Write([]byte("{"))
	time.Sleep(50 * time.Millisecond) // let it take the slot and block on the body
	close(release)
	require.Equal(t, http.StatusOK, <-held)
	require.Equal(t, http.StatusOK, do(h, "POST", "/webhook/alertmanager", "10.0.0.1:1", firing, "Authorization", "Bearer am-secret").Code,
		"Alertmanager's slots are free while a Grafana body is stuck")
	_ = pw.Close()
	require.Equal(t, http.StatusUnauthorized, <-stuck, "the unsigned body is refused once read")
}
