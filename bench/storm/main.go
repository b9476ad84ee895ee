// Command storm posts an alert storm to a relay and watches what it costs
// (bench/storm.sh): GROUPS Alertmanager groups of ALERTS alerts each,
// spread evenly over WITHIN, from a few concurrent senders (a 503 is
// retried after its Retry-After, as Alertmanager does). Meanwhile it
// samples the relay's RSS (/proc/PID/status) and its readiness (/-/ready);
// then it waits, bounded, until every group is accounted for in the
// relay's metrics — delivered, folded into a digest, or superseded — and
// prints the figures.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	relay := flag.String("relay", "http://127.0.0.1:19300", "relay base URL")
	pid := flag.Int("pid", 0, "the relay's process id, for its RSS")
	groups := flag.Int("groups", 2000, "alert groups")
	alerts := flag.Int("alerts", 5, "alerts per group")
	within := flag.Duration("within", 10*time.Second, "post every group within this long")
	critical := flag.Int("critical-every", 100, "every Nth group is critical, the others warning (0: none)")
	drain := flag.Duration("drain", 3*time.Minute, "give up waiting for the groups to be accounted for after this long")
	flag.Parse()
	if *pid <= 0 || *groups < 1 || *alerts < 1 {
		log.Fatal("--pid is required; --groups and --alerts must be at least 1")
	}

	var peak, notReady, readyChecks atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		n := 0
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if kib := status(*pid, "VmRSS"); kib > peak.Load() {
				peak.Store(kib)
			}
			if n++; n%10 == 0 {
				readyChecks.Add(1)
				if !ready(*relay) {
					notReady.Add(1)
				}
			}
		}
	}()

	before := status(*pid, "VmRSS")
	begin := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var accepted, failed atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				sev := "warning"
				if *critical > 0 && i%*critical == 0 {
					sev = "critical"
				}
				if post(*relay+"/webhook/alertmanager", payload(i, *alerts, sev), begin.Add(*within+time.Minute)) {
					accepted.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	step := *within / time.Duration(*groups)
	for i := range *groups {
		if d := time.Until(begin.Add(time.Duration(i) * step)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	posted := time.Since(begin)
	fmt.Printf("posted %d groups of %d alerts (%d alerts) in %s: %d accepted, %d failed\n",
		*groups, *alerts, *groups**alerts, posted.Round(time.Millisecond), accepted.Load(), failed.Load())

	var m map[string]float64
	accounted := func() float64 {
		m = metrics(*relay)
		// A digest card is itself delivered or superseded (merged into
		// the next) once the queue is empty: not a group.
		return m["delivered"] + m["digested"] + m["superseded"] - m["digests"]
	}
	deadline := time.Now().Add(*drain)
	for accounted() < float64(accepted.Load()) || m["depth"] > 0 {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	watch.Wait()
	fmt.Printf("accounted for: %.0f of %d groups after %s (notifications delivered %.0f, digested %.0f, superseded %.0f; digests made %.0f, merged ones included; queue depth %.0f)\n",
		accounted(), accepted.Load(), time.Since(begin).Round(time.Second), m["delivered"], m["digested"], m["superseded"], m["digests"], m["depth"])
	fmt.Printf("RSS: before %d MiB, peak sampled %d MiB, VmHWM %d MiB, after %d MiB\n",
		before/1024, peak.Load()/1024, status(*pid, "VmHWM")/1024, status(*pid, "VmRSS")/1024)
	fmt.Printf("readiness: %d of %d checks not ready\n", notReady.Load(), readyChecks.Load())
	if failed.Load() > 0 || accounted() < float64(accepted.Load()) || notReady.Load() > 0 {
		os.Exit(1)
	}
}

type kv map[string]string

// payload is group i: its own group key, n alerts.
func payload(i, n int, severity string) []byte {
	group := kv{"alertname": "StormTest", "storm": strconv.Itoa(i)}
	var as []map[string]any
	for j := range n {
		as = append(as, map[string]any{
			"status":       "firing",
			"labels":       kv{"alertname": "StormTest", "storm": strconv.Itoa(i), "instance": fmt.Sprintf("host-%d:9100", j), "severity": severity},
			"annotations":  kv{"summary": fmt.Sprintf("storm group %d alert %d", i, j)},
			"startsAt":     time.Now().UTC().Format(time.RFC3339Nano),
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.example.com:9090/graph",
			"fingerprint":  fmt.Sprintf("%08x%08x", i, j),
		})
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "receiver": "relay", "status": "firing", "alerts": as,
		"groupLabels": group, "commonLabels": kv{"alertname": "StormTest", "storm": strconv.Itoa(i), "severity": severity},
		"commonAnnotations": kv{}, "externalURL": "http://alertmanager.example.com:9093",
		"groupKey": fmt.Sprintf("{}:{storm=\"%d\"}", i), "truncatedAlerts": 0,
	})
	return b
}

var client = &http.Client{Timeout: 30 * time.Second}

// post posts body until it is accepted, retrying a 503 after its
// Retry-After until deadline.
func post(url string, body []byte, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return true
		case resp.StatusCode == http.StatusServiceUnavailable:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
		default:
			log.Printf("webhook answered %d", resp.StatusCode)
			return false
		}
	}
	return false
}

func ready(relay string) bool {
	resp, err := client.Get(relay + "/-/ready")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// status reads a field of /proc/pid/status, in KiB.
func status(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

// metrics sums the relay's delivery counters over receivers.
func metrics(relay string) map[string]float64 {
	out := map[string]float64{}
	resp, err := client.Get(relay + "/metrics")
	if err != nil {
		return out
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "mind_relay_notifications_total{"):
			for _, r := range []string{"delivered", "digested", "superseded"} {
				if strings.Contains(line, `result="`+r+`"`) {
					out[r] += v
				}
			}
		case strings.HasPrefix(line, "mind_relay_digests_total{"):
			out["digests"] += v
		case strings.HasPrefix(line, "mind_relay_queue_depth "):
			out["depth"] = v
		}
	}
	return out
}
