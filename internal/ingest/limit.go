package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// Bounds on what one webhook, and all of them at once, may cost.
//
// A body under the size limit can still hold 100,000 small alerts, and
// decoding them builds some twenty times the body in Go values; kept whole,
// they were stored and rendered whole too. So:
//
//   - at most sources.<source>.max_alerts alerts of a webhook are decoded
//     and kept, the first ones in the sender's order; the rest are only
//     counted, into the group's truncatedAlerts (as Alertmanager's own
//     max_alerts does), which the card shows as "还有 N 条告警未显示".
//     The cut is made on the raw JSON before it is decoded, so a webhook's
//     memory is its body plus max_alerts alerts, whatever the body holds;
//   - the body is read into one buffer of its announced length (not grown
//     by doubling);
//   - at most sources.max_in_flight webhooks of each source are processed
//     at once; one more waits up to slotWait for a slot (its body unread),
//     then is answered 503 with Retry-After, which Alertmanager and Grafana
//     retry. Only a webhook that passed the header auth (bearer, basic)
//     waits for a slot.

// slotWait is how long a webhook beyond max_in_flight waits for a slot
// before it is answered 503. Waiting costs no memory (its body is not read
// yet) and rides out a burst that would otherwise be refused.
const slotWait = time.Second

// webhookSlots counts the webhooks being processed.
type webhookSlots struct {
	mu    sync.Mutex
	n     int
	freed chan struct{} // closed and replaced whenever a slot is given back
	gauge prometheus.Gauge
}

func newWebhookSlots(gauge prometheus.Gauge) *webhookSlots {
	return &webhookSlots{freed: make(chan struct{}), gauge: gauge}
}

// acquire takes a slot when fewer than limit are taken, waiting up to
// wait for one; release must follow a true.
func (w *webhookSlots) acquire(ctx context.Context, limit int, wait time.Duration) bool {
	var timeout <-chan time.Time
	for {
		w.mu.Lock()
		if w.n < limit {
			w.n++
			w.mu.Unlock()
			w.gauge.Inc()
			return true
		}
		freed := w.freed
		w.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-freed:
		case <-timeout:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (w *webhookSlots) release() {
	w.mu.Lock()
	w.n--
	close(w.freed)
	w.freed = make(chan struct{})
	w.mu.Unlock()
	w.gauge.Dec()
}

var errBusy = &Error{Status: http.StatusServiceUnavailable,
	Msg: "too many webhooks of this source being processed at once (sources.max_in_flight); send it again"}

// limitWebhooks answers 503 to a webhook of source beyond
// sources.max_in_flight of that source that found no slot within slotWait.
func (s *Server) limitWebhooks(source string) gin.HandlerFunc {
	slots := s.slots[source]
	return func(c *gin.Context) {
		limit := s.deps.Relay.State().Config.Sources.MaxInFlight
		if !slots.acquire(c.Request.Context(), limit, slotWait) {
			s.fail(c, errBusy)
			return
		}
		defer slots.release()
		c.Next()
	}
}

// readAll reads r, up to limit bytes (the reader enforces it), into one
// buffer of the announced length when there is one.
func readAll(r io.Reader, announced, limit int64) ([]byte, error) {
	if announced <= 0 || announced > limit {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	b.Grow(int(announced) + bytes.MinRead) // ReadFrom wants MinRead spare to see EOF
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// truncateAlerts cuts the top-level "alerts" array of a webhook body to
// its first max elements, without decoding them, and says how many it
// dropped. Bodies it cannot read as a JSON object, or with no more alerts
// than max, come back as they are (the parser then reports any problem in
// its own words). Keys match as encoding/json matches them (case folded),
// and when "alerts" appears more than once every one is cut, the last
// one's count (the one the decoder keeps) being returned.
func truncateAlerts(body []byte, max int) ([]byte, uint64) {
	// Each element takes at least three bytes with its comma ("{},"): a
	// body this short cannot hold more than max.
	if max < 1 || len(body) < 3*max+2 {
		return body, 0
	}
	// An array of n elements has n-1 commas: with fewer than max commas in
	// the whole body none can hold more than max, and the common webhook
	// is spared a second, tokenizing pass (bytes.Count is cheap).
	if bytes.Count(body, []byte{','}) < max {
		return body, 0
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return body, 0
	}
	type cut struct{ from, to int64 } // body[from:to] is dropped
	var (
		cuts    []cut
		dropped uint64
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return body, 0
		}
		key, ok := t.(string)
		if !ok {
			return body, 0
		}
		if !strings.EqualFold(key, "alerts") {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return body, 0
			}
			continue
		}
		t, err = dec.Token()
		if err != nil {
			return body, 0
		}
		if t != json.Delim('[') {
			// null or a wrong type: the parser says so. A later "alerts"
			// replaces this one.
			if _, ok := t.(json.Delim); ok {
				return body, 0
			}
			dropped = 0
			continue
		}
		var (
			n    int
			from int64 // end of the last element kept
			skip json.RawMessage
		)
		for dec.More() {
			if err := dec.Decode(&skip); err != nil {
				return body, 0
			}
			n++
			if n == max {
				from = dec.InputOffset()
			}
		}
		to := dec.InputOffset() // at the closing bracket
		if _, err := dec.Token(); err != nil {
			return body, 0
		}
		dropped = 0
		if n > max {
			cuts = append(cuts, cut{from, to})
			dropped = uint64(n - max)
		}
	}
	if _, err := dec.Token(); err != nil || len(cuts) == 0 {
		return body, 0
	}
	// Anything but white space after the object makes the body invalid:
	// leave it whole for the parser to refuse in its own words.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) != 0 {
		return body, 0
	}
	out := make([]byte, 0, len(body)-int(dropped)*3)
	last := int64(0)
	for _, c := range cuts {
		out = append(out, body[last:c.from]...)
		last = c.to
	}
	out = append(out, body[last:]...)
	return out, dropped
}

// capAlerts keeps at most max alerts of g (a guard behind truncateAlerts,
// for bodies it left whole), counting the rest into TruncatedAlerts.
func capAlerts(g *alert.Group, max int) {
	if g == nil || max < 1 || len(g.Alerts) <= max {
		return
	}
	g.TruncatedAlerts += uint64(len(g.Alerts) - max)
	g.Alerts = g.Alerts[:max:max]
}
