// Command latency measures accept → Mind latency: it posts Alertmanager
// webhooks to the relay at a fixed rate, each a distinct alert group, and
// matches them to the cards the fake Mind received (bench/fakemind's
// control API), printing p50/p90/p99/max.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	relay := flag.String("relay", "http://127.0.0.1:19095", "relay base URL")
	mind := flag.String("mind", "", "fake Mind base URL (the URL bench/fakemind prints)")
	rate := flag.Int("rate", 500, "webhooks per second")
	dur := flag.Duration("duration", 20*time.Second, "how long to send")
	payload := flag.String("payload", "", "Alertmanager payload file whose alertname is made unique per request")
	token := flag.String("token", "", "bearer token for the relay")
	flag.Parse()
	if *mind == "" {
		log.Fatal("--mind is required: the URL bench/fakemind printed")
	}

	tmpl, err := os.ReadFile(*payload)
	if err != nil {
		log.Fatal(err)
	}
	name := regexp.MustCompile(`"alertname": *"[^"]*"`)
	key := regexp.MustCompile(`"groupKey": *"(?:[^"\\]|\\.)*"`)
	total := int(float64(*rate) * dur.Seconds())
	sent := make([]time.Time, total)
	var failed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < total; i++ {
		<-tick.C
		body := name.ReplaceAll(tmpl, []byte(fmt.Sprintf(`"alertname": "Bench%06d"`, i)))
		body = key.ReplaceAll(body, []byte(fmt.Sprintf(`"groupKey": "bench-%06d"`, i)))
		wg.Add(1)
		go func(i int, body []byte) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, *relay+"/webhook/alertmanager", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if *token != "" {
				req.Header.Set("Authorization", "Bearer "+*token)
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				failed++
				mu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
				return
			}
			resp.Body.Close()
			sent[i] = t0
		}(i, body)
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Wait for the fake Mind to have every card.
	title := regexp.MustCompile(`Bench(\d{6})`)
	var got []struct {
		ReceivedAt time.Time `json:"received_at"`
		Card       struct {
			Header struct {
				Title struct {
					Content string `json:"content"`
				} `json:"title"`
			} `json:"header"`
		} `json:"card"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(*mind + "/_mindtest/messages")
		if err != nil {
			log.Fatal(err)
		}
		got = got[:0]
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			log.Fatal(err)
		}
		if len(got) >= total-failed {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var lat []time.Duration
	for _, m := range got {
		sm := title.FindStringSubmatch(m.Card.Header.Title.Content)
		if sm == nil {
			continue
		}
		i, err := strconv.Atoi(sm[1])
		if err != nil {
			continue
		}
		if i < total && !sent[i].IsZero() {
			lat = append(lat, m.ReceivedAt.Sub(sent[i]))
		}
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("sent %d webhooks in %s (%.0f/s), %d failed; %d cards matched at Mind\n",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), failed, len(lat))
	fmt.Printf("accept→Mind latency: p50 %s  p90 %s  p99 %s  max %s\n",
		q(0.50).Round(100*time.Microsecond), q(0.90).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), q(1).Round(100*time.Microsecond))
	if failed > 0 || len(lat) < total {
		os.Exit(1)
	}
}
