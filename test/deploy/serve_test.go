package deploy

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// The relay started as the chart starts it (its config, its secret files,
// its container args) answers the kubelet's probes on the probed paths, and
// Prometheus' scrape.
func TestRelayServesTheChartsProbes(t *testing.T) {
	relay := buildRelay(t)
	r := cachedTemplate(t, allOnValues) // dryRun: true, so no Mind is needed
	path := installRendered(t, r)

	rr := startRelay(t, relay, path, podArgs(t, r))
	requireProbesPass(t, rr)
	code, body := rr.do(t, http.MethodGet, "/metrics", nil, "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
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
