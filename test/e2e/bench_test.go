package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

// BenchmarkWebhookAccept measures accepted Alertmanager webhooks through the
// whole in-process relay (HTTP, auth, parse, route, render, durable
// enqueue), with distinct groups, Mind answering at once.
func BenchmarkWebhookAccept(b *testing.B) {
	fake := mindtest.NewServer(b)
	relay := startRelayB(b, fake, baseConfig("")+"\n")
	body := readTestdataB(b, "alertmanager/am-0.25-group-1.json")
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			payload := bytes.Replace(body, []byte(`"groupKey": "{}:{alertname=\"KubePodCrashLooping\"}"`),
				[]byte(fmt.Sprintf(`"groupKey": "bench-%d"`, i)), 1)
			req, _ := http.NewRequest(http.MethodPost, relay+"/webhook/alertmanager/payments", bytes.NewReader(payload))
			req.Header.Set("Authorization", "Bearer am-token-123")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
	})
}
