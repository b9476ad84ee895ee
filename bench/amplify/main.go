// Command amplify posts maximum-size Alertmanager webhooks to a relay, as
// many at once as asked, to measure what they cost the relay's memory
// (bench/amplify.sh reads the relay's peak RSS around it). Each webhook is
// one group of small alerts ({"labels":{"i":"N"}} and little else), a few
// bytes under the body limit for 100,000 of them. A 503 is retried after
// its Retry-After, as Alertmanager does; every other status is final.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	relay := flag.String("relay", "", "relay base URL")
	alerts := flag.Int("alerts", 100_000, "alerts per webhook")
	parallel := flag.Int("parallel", 1, "webhooks posted at once")
	token := flag.String("token", "", "bearer token for the relay")
	deadline := flag.Duration("deadline", 2*time.Minute, "give up retrying after this long")
	flag.Parse()
	if *relay == "" || *parallel < 1 || *alerts < 1 {
		log.Fatal("--relay is required; --parallel and --alerts must be at least 1")
	}

	var wg sync.WaitGroup
	results := make([]string, *parallel)
	bodies := make([][]byte, *parallel)
	for i := range bodies {
		bodies[i] = payload(i, *alerts)
	}
	fmt.Printf("posting %d webhook(s) of %d alerts, %d bytes each\n", *parallel, *alerts, len(bodies[0]))
	begin := time.Now()
	for i := range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = post(*relay+"/webhook/alertmanager", *token, bodies[i], begin.Add(*deadline))
		}()
	}
	wg.Wait()
	failed := 0
	for i, r := range results {
		fmt.Printf("webhook %d: %s\n", i, r)
		if r[:3] != "200" {
			failed++
		}
	}
	fmt.Printf("all answered in %s\n", time.Since(begin).Round(time.Millisecond))
	if failed > 0 {
		os.Exit(1)
	}
}

// payload is a version 4 webhook whose group (distinct per i) holds n
// small firing alerts.
func payload(i, n int) []byte {
	var b bytes.Buffer
	key := fmt.Sprintf("{}:{alertname=\"Amplify%d\"}", i)
	k, _ := json.Marshal(key)
	fmt.Fprintf(&b, `{"version":"4","groupKey":%s,"truncatedAlerts":0,"status":"firing","receiver":"relay",`, k)
	fmt.Fprintf(&b, `"groupLabels":{"alertname":"Amplify%d"},"commonLabels":{"alertname":"Amplify%d"},"commonAnnotations":{},"externalURL":"http://am:9093","alerts":[`, i, i)
	for j := range n {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"labels":{"i":"`)
		b.WriteString(strconv.Itoa(j))
		b.WriteString(`"}}`)
	}
	b.WriteString("]}")
	return b.Bytes()
}

func post(url, token string, body []byte, deadline time.Time) string {
	tries := 0
	for {
		tries++
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return "000 " + err.Error()
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "000 " + err.Error()
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		took := time.Since(start).Round(time.Millisecond)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return fmt.Sprintf("%d after %d tries (last took %s): %s", resp.StatusCode, tries, took, bytes.TrimSpace(answer))
		}
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		time.Sleep(wait)
	}
}
