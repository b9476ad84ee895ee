package delivery

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

func TestSubmitWakesRunAtOnce(t *testing.T) {
	opts := fast()
	opts.PollInterval = time.Hour // only Submit can wake it
	m := newFakeMind()
	q := start(t, tempStore(t), m, opts)
	time.Sleep(20 * time.Millisecond) // Run is asleep
	begin := time.Now()
	submit(t, q.Queue, notif("g", 1, "firing"))
	m.waitShown(t, 1, 10*time.Second)
	// Far below the hour-long poll interval: a loaded machine may be slow,
	// but only a wake-up delivers within seconds.
	require.Less(t, time.Since(begin), 5*time.Second)

	// A retry is woken by its timer, not by polling.
	var once sync.Once
	m.setFail(func(mind.Request) error {
		var err error
		once.Do(func() { err = errDown })
		return err
	})
	begin = time.Now()
	submit(t, q.Queue, notif("h", 1, "firing"))
	m.waitShown(t, 2, 10*time.Second)
	require.Less(t, time.Since(begin), 5*time.Second)
	require.Equal(t, 1.0, testutil.ToFloat64(q.m.retries))
}

func TestSubmitFillsDefaultsAndRejectsInvalid(t *testing.T) {
	q := New(tempStore(t), newFakeMind(), fast(), prometheus.NewRegistry(), nil)
	ns := []store.Notification{notif("g", 1, "firing")}
	require.NoError(t, q.Submit(context.Background(), ns))
	require.NotEmpty(t, ns[0].ID)
	require.Equal(t, ns[0].ID, ns[0].Request.RequestID)
	require.False(t, ns[0].CreatedAt.IsZero())

	bad := notif("g", 2, "firing")
	bad.Receiver = ""
	err := q.Submit(context.Background(), []store.Notification{notif("g", 3, "firing"), bad})
	require.ErrorIs(t, err, ErrInvalid)
	st, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Pending, "nothing of a rejected Submit is kept")
}

// Mind is down for longer than max_backoff, then up: every notification
// arrives exactly once, in order within its group, the older ones of a
// group made pointless by newer ones superseded.
func TestMindDownThenUp(t *testing.T) {
	m := newFakeMind()
	m.down()
	st := tempStore(t)
	q := start(t, st, m, fast()) // max_backoff 10ms

	const groups, perGroup = 20, 5
	var all []store.Notification
	for seq := 1; seq <= perGroup; seq++ {
		var batch []store.Notification
		for g := range groups {
			batch = append(batch, notif(groupName(g), seq, "firing"))
		}
		all = append(all, submit(t, q.Queue, batch...)...)
		time.Sleep(5 * time.Millisecond)
	}
	singles := make([]store.Notification, 30)
	for i := range singles {
		singles[i] = notif(fmt.Sprintf("single%d", i), 1, "firing")
	}
	all = append(all, submit(t, q.Queue, singles...)...)

	time.Sleep(100 * time.Millisecond) // 10× max_backoff of failures
	require.Eventually(t, func() bool { return testutil.ToFloat64(q.m.retries) > 10 }, 5*time.Second, time.Millisecond)
	require.Zero(t, m.shownCount())
	m.up()

	// Each group ends with its last notification delivered.
	m.waitShown(t, groups+len(singles), 5*time.Second)
	require.Eventually(t, func() bool {
		s, err := q.Stats(context.Background())
		require.NoError(t, err)
		return s.Pending+s.Sending == 0
	}, 5*time.Second, 5*time.Millisecond)

	shown, byID := m.snapshot()
	last := map[string]int{}
	for _, b := range shown {
		require.Greater(t, b.Seq, last[b.Group], "group %s out of order", b.Group)
		last[b.Group] = b.Seq
	}
	for g := range groups {
		require.Equal(t, perGroup, last[groupName(g)])
	}
	for i := range singles {
		require.Equal(t, 1, last[fmt.Sprintf("single%d", i)])
	}
	var delivered, superseded int
	for _, n := range all {
		got := get(t, st, n.ID)
		switch got.State {
		case store.StateDelivered:
			delivered++
			require.Equal(t, 1, byID[n.Request.RequestID], "sent once, no duplicate even for Mind to drop")
		case store.StateSuperseded:
			superseded++
			require.Zero(t, byID[n.Request.RequestID], "a superseded notification never reaches Mind")
		default:
			t.Fatalf("%s is %s", n.ID, got.State)
		}
	}
	require.Equal(t, len(shown), delivered)
	require.Eventually(t, func() bool { return notifications(q.Queue, resultDelivered) == float64(delivered) },
		time.Second, time.Millisecond) // counted just after the store records it
	require.Equal(t, float64(superseded), notifications(q.Queue, resultSuperseded))
	require.Zero(t, notifications(q.Queue, resultDeadLettered))
	require.Equal(t, 0.0, testutil.ToFloat64(q.m.queueDepth))
	require.Equal(t, uint64(delivered), histCount(t, q.m.latency))
}

func histCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.Write(&m))
	return m.GetHistogram().GetSampleCount()
}

// A firing card, then its resolved card, queued while Mind is down: only
// the resolved one is sent.
func TestResolvedSupersedesFiring(t *testing.T) {
	m := newFakeMind()
	m.down()
	st := tempStore(t)
	q := start(t, st, m, fast())
	firing := submit(t, q.Queue, notif("g", 1, "firing"))[0]
	time.Sleep(20 * time.Millisecond) // tried and failed, waiting for a retry
	resolved := submit(t, q.Queue, notif("g", 2, "resolved"))[0]
	m.up()
	m.waitShown(t, 1, 2*time.Second)
	require.Eventually(t, func() bool { return notifications(q.Queue, resultDelivered) == 1 }, 2*time.Second, time.Millisecond)

	shown, byID := m.snapshot()
	require.Equal(t, []body{{Group: "g", Seq: 2, Status: "resolved"}}, shown)
	require.Zero(t, byID[firing.Request.RequestID])
	f := get(t, st, firing.ID)
	require.Equal(t, store.StateSuperseded, f.State)
	require.Equal(t, resolved.ID, f.SupersededBy)
	require.Equal(t, 1.0, notifications(q.Queue, resultSuperseded))
}

// A permanent error dead-letters at once, with the error; a replay then
// delivers it under a fresh request id.
func TestPermanentErrorThenReplay(t *testing.T) {
	m := newFakeMind()
	rejected := &mind.Error{Reason: mind.ReasonRejected, StatusCode: 200, Code: "40001", Msg: "card too large"}
	m.setFail(func(mind.Request) error { return rejected })
	st := tempStore(t)
	q := start(t, st, m, fast())
	n := submit(t, q.Queue, notif("g", 1, "firing"))[0]

	require.Eventually(t, func() bool { return notifications(q.Queue, resultDeadLettered) == 1 }, 2*time.Second, 5*time.Millisecond)
	dead, err := q.ListDead(context.Background())
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, n.ID, dead[0].ID)
	require.Equal(t, 1, dead[0].Attempts)
	require.Equal(t, rejected.Error(), dead[0].LastError)
	_, err = q.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1.0, testutil.ToFloat64(q.m.deadLetters))

	m.up() // the operator fixed the card template
	replayed, err := q.Replay(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, replayed)
	require.Equal(t, 0.0, testutil.ToFloat64(q.m.deadLetters))
	m.waitShown(t, 1, 2*time.Second)
	require.Eventually(t, func() bool { return get(t, st, n.ID).State == store.StateDelivered }, time.Second, 5*time.Millisecond)
	got := get(t, st, n.ID)
	require.NotEqual(t, n.Request.RequestID, got.Request.RequestID)
	_, byID := m.snapshot()
	require.Equal(t, 1, byID[got.Request.RequestID])
	require.Equal(t, 1, got.Replays)
}

func TestMaxAgeDeadLetters(t *testing.T) {
	m := newFakeMind()
	m.down()
	opts := fast()
	// Long enough for the first attempt to happen on a loaded CI machine,
	// short against max_backoff so that "at max_age, not a backoff later"
	// is visible.
	opts.MaxAge = time.Second
	opts.MaxBackoff = 4 * time.Second
	st := tempStore(t)
	q := start(t, st, m, opts)
	n := submit(t, q.Queue, notif("g", 1, "firing"))[0]

	require.Eventually(t, func() bool { return get(t, st, n.ID).State == store.StateDead }, 5*time.Second, 5*time.Millisecond)
	dead := get(t, st, n.ID)
	require.Contains(t, dead.LastError, "not delivered within max_age 1s")
	require.Contains(t, dead.LastError, "last error: "+errDown.Error())
	require.GreaterOrEqual(t, dead.Attempts, 1)
	// Dead-lettered at max_age, not up to a max_backoff later.
	require.Less(t, dead.UpdatedAt.Sub(dead.QueuedAt), opts.MaxAge+opts.MaxBackoff/2)
	require.Eventually(t, func() bool { return notifications(q.Queue, resultDeadLettered) == 1 }, time.Second, time.Millisecond)
}

func TestRetryAfterIsAFloor(t *testing.T) {
	m := newFakeMind()
	var once sync.Once
	m.setFail(func(mind.Request) error {
		var err error
		once.Do(func() {
			err = &mind.Error{Reason: mind.ReasonHTTP5xx, Retryable: true, StatusCode: 503, RetryAfter: 300 * time.Millisecond}
		})
		return err
	})
	st := tempStore(t)
	q := start(t, st, m, fast()) // backoff 1ms..10ms
	begin := time.Now()
	n := submit(t, q.Queue, notif("g", 1, "firing"))[0]
	m.waitShown(t, 1, 2*time.Second)
	require.GreaterOrEqual(t, time.Since(begin), 300*time.Millisecond)
	require.Eventually(t, func() bool { return get(t, st, n.ID).State == store.StateDelivered }, time.Second, 5*time.Millisecond)
}

// A rate-limited answer halves the shared bucket (once per episode, not
// once per worker) and pauses everyone for Retry-After.
func TestRateLimitedSlowsDown(t *testing.T) {
	m := newFakeMind()
	var mu sync.Mutex
	limited := 0
	m.setFail(func(mind.Request) error {
		mu.Lock()
		defer mu.Unlock()
		if limited < 4 {
			limited++
			return &mind.Error{Reason: mind.ReasonRateLimited, Retryable: true, StatusCode: 429, RetryAfter: 100 * time.Millisecond}
		}
		return nil
	})
	opts := fast()
	opts.RateLimit = 100
	st := tempStore(t)
	q := start(t, st, m, opts)
	require.Equal(t, 100.0, testutil.ToFloat64(q.m.rateLimit))
	begin := time.Now()
	var ns []store.Notification
	for i := range 8 {
		ns = append(ns, notif(groupName(i), 1, "firing"))
	}
	submit(t, q.Queue, ns...)
	m.waitShown(t, 8, 5*time.Second)
	require.GreaterOrEqual(t, time.Since(begin), 100*time.Millisecond, "Retry-After paused the workers")
	// Halved once for one episode (it may have crept back up a tenth or
	// two since, if this machine is slow).
	got := testutil.ToFloat64(q.m.rateLimit)
	require.GreaterOrEqual(t, got, 50.0)
	require.Less(t, got, 100.0)
	require.Equal(t, got, float64(q.limiter.Limit()))
}

func TestSetSender(t *testing.T) {
	a, b := newFakeMind(), newFakeMind()
	q := start(t, tempStore(t), a, fast())
	submit(t, q.Queue, notif("g", 1, "firing"))
	a.waitShown(t, 1, time.Second)
	q.SetSender(b)
	submit(t, q.Queue, notif("h", 1, "firing"))
	b.waitShown(t, 1, time.Second)
	require.Equal(t, 1, a.shownCount())
}

func TestRunTwiceAndWithoutSender(t *testing.T) {
	q := New(tempStore(t), nil, fast(), prometheus.NewRegistry(), nil)
	require.EqualError(t, q.Run(context.Background()), "delivery queue: no sender")
	require.EqualError(t, q.Run(context.Background()), "delivery queue: Run called twice")
	require.NoError(t, q.Stop(context.Background()))

	q = New(tempStore(t), newFakeMind(), fast(), prometheus.NewRegistry(), nil)
	require.NoError(t, q.Stop(context.Background()), "Stop before Run")
}

func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	q := New(tempStore(t), newFakeMind(), fast(), reg, nil)
	q.m.notifications.WithLabelValues("oncall", resultDelivered)
	_, err := q.Stats(context.Background())
	require.NoError(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{
		"mind_relay_queue_depth", "mind_relay_queue_oldest_age_seconds", "mind_relay_dead_letters",
		"mind_relay_delivery_latency_seconds", "mind_relay_notifications_total", "mind_relay_store_errors_total",
		"mind_relay_delivery_retries_total",
	} {
		require.Contains(t, names, want)
	}
	require.Equal(t, 0.0, testutil.ToFloat64(q.m.storeErrors.WithLabelValues(opEnqueue)))
}

func TestGaugesReportTheQueue(t *testing.T) {
	m := newFakeMind()
	m.down()
	opts := fast()
	opts.PollInterval = 20 * time.Millisecond
	q := start(t, tempStore(t), m, opts)
	submit(t, q.Queue, notif("a", 1, "firing"), notif("b", 1, "firing"))
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(q.m.queueDepth) == 2 && testutil.ToFloat64(q.m.oldestAge) > 0.05
	}, 2*time.Second, 10*time.Millisecond)
	m.up()
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(q.m.queueDepth) == 0 && testutil.ToFloat64(q.m.oldestAge) == 0
	}, 2*time.Second, 10*time.Millisecond)
}

// Concurrent Submits share commits.
func TestGroupCommit(t *testing.T) {
	cs := &countingStore{Store: tempStore(t), slow: 20 * time.Millisecond}
	q := New(cs, newFakeMind(), fast(), prometheus.NewRegistry(), nil)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			assert.NoError(t, q.Submit(context.Background(), []store.Notification{notif(groupName(i), 1, "firing")}))
		})
	}
	wg.Wait()
	st, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, n, st.Pending)
	commits := cs.enqueues.Load()
	t.Logf("%d concurrent Submits, %d commits", n, commits)
	require.Less(t, commits, int64(n/10))
	require.Equal(t, uint64(commits), histCount(t, q.m.commitBatch))
}

// The storm: 1,000 groups at once. Everything arrives, the rate limit
// holds, memory stays bounded.
func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm")
	}
	const (
		groups = 1000
		limit  = 500.0 // per second
		burst  = 20
	)
	m := newFakeMind()
	m.delay = time.Millisecond
	st := tempStore(t)
	opts := fast()
	opts.RateLimit = limit
	opts.Burst = burst
	opts.Workers = 4

	runtime.GC()
	var before, peak runtime.MemStats
	runtime.ReadMemStats(&before)
	peak = before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.HeapAlloc {
					peak = ms
				}
			}
		}
	}()

	q := start(t, st, m, opts)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range groups {
		wg.Go(func() {
			assert.NoError(t, q.Submit(context.Background(), []store.Notification{notif(groupName(i), 1, "firing")}))
		})
	}
	wg.Wait()
	accepted := time.Since(begin)
	m.waitShown(t, groups, 60*time.Second)
	total := time.Since(begin)
	close(stopSampling)
	<-sampled

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	_, byID := m.snapshot()
	require.Len(t, byID, groups)
	for id, k := range byID {
		require.Equal(t, 1, k, "request %s sent %d times", id, k)
	}
	m.mu.Lock()
	times := append([]time.Time(nil), m.times...)
	maxIn := m.maxIn
	m.mu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	// Beyond the burst, sends may not outrun the rate.
	span := times[len(times)-1].Sub(times[0]).Seconds()
	achieved := float64(len(times)-burst) / span
	t.Logf("storm: %d groups accepted in %s, delivered in %s; achieved %.1f/s beyond the burst (limit %.0f/s); %d sends at most in flight",
		groups, accepted.Round(time.Millisecond), total.Round(time.Millisecond), achieved, limit, maxIn)
	t.Logf("heap: before %.1f MiB, peak %.1f MiB, after %.1f MiB (after GC); goroutines now %d",
		mib(before.HeapAlloc), mib(peak.HeapAlloc), mib(after.HeapAlloc), runtime.NumGoroutine())
	require.LessOrEqual(t, achieved, limit*1.05)
	require.LessOrEqual(t, maxIn, opts.Workers)
	// The queue holds rows in the store, not in memory: what stays is
	// independent of the number of notifications.
	require.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(8<<20))
	require.Less(t, int64(peak.HeapAlloc)-int64(before.HeapAlloc), int64(64<<20))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// Restart: stop mid-delivery, reopen the store, start a new queue: every
// notification reaches Mind, each exactly once per request id.
func TestRestart(t *testing.T) {
	for _, mode := range []string{"graceful", "stop deadline cancels sends", "crash before recording"} {
		t.Run(mode, func(t *testing.T) {
			const n = 60
			path := filepath.Join(t.TempDir(), "relay.db")
			m := newFakeMind()
			m.delay = 2 * time.Millisecond
			opts := fast()
			opts.RateLimit = 200
			opts.Burst = 1

			st1 := openStore(t, path)
			cs := &countingStore{Store: st1}
			q1 := start(t, cs, m, opts)
			var ns []store.Notification
			for i := range n {
				ns = append(ns, notif(groupName(i), 1, "firing"))
			}
			submit(t, q1.Queue, ns...)
			m.waitShown(t, n/3, 5*time.Second)

			var stopErr, runErr error
			switch mode {
			case "graceful":
				stopErr, runErr = q1.stop(t, 5*time.Second)
				require.NoError(t, stopErr)
			case "stop deadline cancels sends":
				// Mind takes the requests but never answers (lost
				// responses): they are shown all the same.
				m.mu.Lock()
				m.delay = time.Hour
				m.onSend = m.accept
				m.mu.Unlock()
				time.Sleep(30 * time.Millisecond)
				stopErr, runErr = q1.stop(t, 20*time.Millisecond)
				require.ErrorContains(t, stopErr, "sends in flight cancelled")
			case "crash before recording":
				cs.loseCompl.Store(true) // sends reach Mind, outcomes are lost
				time.Sleep(30 * time.Millisecond)
				q1.cancel() // abrupt
				select {
				case runErr = <-q1.err:
				case <-time.After(5 * time.Second):
					t.Fatal("Run did not return")
				}
				require.ErrorIs(t, runErr, context.Canceled)
				runErr = nil
			}
			require.NoError(t, runErr)
			require.NoError(t, st1.Close())
			before := m.shownCount()
			require.Less(t, before, n, "stopped mid-delivery")

			// The next process.
			m.mu.Lock()
			m.delay, m.fail, m.onSend = time.Millisecond, nil, nil
			m.mu.Unlock()
			st2 := openStore(t, path)
			q2 := start(t, st2, m, opts)
			m.waitShown(t, n, 10*time.Second)
			require.Eventually(t, func() bool {
				s, err := q2.Stats(context.Background())
				require.NoError(t, err)
				return s.Pending+s.Sending == 0
			}, 5*time.Second, 5*time.Millisecond)

			shown, byID := m.snapshot()
			require.Len(t, shown, n, "each shown once")
			dupes := 0
			for _, x := range ns {
				got := get(t, st2, x.ID)
				require.Equal(t, store.StateDelivered, got.State)
				require.Equal(t, x.Request.RequestID, got.Request.RequestID, "resent under the same request id")
				require.GreaterOrEqual(t, byID[x.Request.RequestID], 1)
				dupes += byID[x.Request.RequestID] - 1
			}
			require.Len(t, byID, n, "no request id other than the notifications'")
			t.Logf("%s: %d shown before the stop, %d resends Mind dropped as duplicates", mode, before, dupes)
			if mode == "graceful" {
				require.Zero(t, dupes, "a graceful stop records every outcome")
			}
		})
	}
}

func TestSenderPanicDeadLetters(t *testing.T) {
	st := tempStore(t)
	q := start(t, st, sendFunc(func(context.Context, mind.Request) error { panic("boom") }), fast())
	n := submit(t, q.Queue, notif("g", 1, "firing"))[0]
	require.Eventually(t, func() bool { return get(t, st, n.ID).State == store.StateDead }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, "sender panicked: boom", get(t, st, n.ID).LastError)
	submit(t, q.Queue, notif("h", 1, "firing")) // still running
	require.Eventually(t, func() bool { return notifications(q.Queue, resultDeadLettered) == 2 }, 2*time.Second, 5*time.Millisecond)
}

// A notification claimed in time but held by the rate limiter past its
// max_age is dead-lettered, never sent late.
func TestMaxAgeCheckedAfterTheRateLimit(t *testing.T) {
	m := newFakeMind()
	opts := fast()
	opts.RateLimit, opts.Burst = 0.4, 1 // the second send waits about 2.5 s
	opts.MaxAge = time.Second
	st := tempStore(t)
	q := start(t, st, m, opts)
	ns := submit(t, q.Queue, notif("a", 1, "firing"), notif("b", 1, "firing"))

	require.Eventually(t, func() bool {
		return get(t, st, ns[0].ID).State != store.StatePending && get(t, st, ns[1].ID).State != store.StatePending &&
			get(t, st, ns[0].ID).State != store.StateSending && get(t, st, ns[1].ID).State != store.StateSending
	}, 15*time.Second, 5*time.Millisecond)
	states := map[store.State]int{}
	for _, n := range ns {
		got := get(t, st, n.ID)
		states[got.State]++
		if got.State == store.StateDead {
			require.Contains(t, got.LastError, "not delivered within max_age 1s")
		}
	}
	require.Equal(t, map[store.State]int{store.StateDelivered: 1, store.StateDead: 1}, states)
	require.Equal(t, 1, m.shownCount(), "the one that waited past max_age was not sent")
}

// A 429 asking for an hour holds its own notification for the hour (the
// per-row floor) but pauses the other streams for max_backoff at most.
func TestOneRetryAfterDoesNotStopEverything(t *testing.T) {
	m := newFakeMind()
	var once sync.Once
	m.setFail(func(req mind.Request) error {
		var err error
		once.Do(func() {
			err = &mind.Error{Reason: mind.ReasonRateLimited, Retryable: true, StatusCode: 429, RetryAfter: time.Hour}
		})
		return err
	})
	opts := fast() // max_backoff 10ms
	opts.Workers = 1
	st := tempStore(t)
	q := start(t, st, m, opts)
	limited := submit(t, q.Queue, notif("a", 1, "firing"))[0]
	require.Eventually(t, func() bool { return get(t, st, limited.ID).Attempts == 1 }, 5*time.Second, 5*time.Millisecond)

	other := submit(t, q.Queue, notif("b", 1, "firing"))[0]
	m.waitShown(t, 1, 5*time.Second) // not an hour later
	require.Equal(t, store.StateDelivered, get(t, st, other.ID).State)
	held := get(t, st, limited.ID)
	require.Equal(t, store.StatePending, held.State)
	require.GreaterOrEqual(t, held.NextAttemptAt.Sub(held.UpdatedAt), time.Hour-time.Second, "its own Retry-After is a floor")
}
