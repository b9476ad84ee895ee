package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

// sendFunc is a fake mind.Sender.
type sendFunc func(ctx context.Context, req mind.Request) error

func (f sendFunc) Send(ctx context.Context, req mind.Request) error { return f(ctx, req) }

var _ mind.Sender = sendFunc(nil)

// body is what the test notifications carry, to check order on arrival.
type body struct {
	Group  string `json:"group"`
	Seq    int    `json:"seq"`
	Status string `json:"status"`
}

func notif(group string, seq int, status string) store.Notification {
	b, _ := json.Marshal(body{Group: group, Seq: seq, Status: status})
	return store.Notification{
		GroupID: group, Receiver: "oncall", Source: "alertmanager", Status: status,
		Request: mind.Request{Endpoint: mind.EndpointRobotMessage, Body: b},
	}
}

// fakeMind stands for Mind: it shows each request id once (Mind drops
// duplicates by x-request-id) and fails on demand.
type fakeMind struct {
	mu       sync.Mutex
	fail     func(req mind.Request) error // nil: accept everything
	delay    time.Duration
	shown    []body         // in arrival order, duplicates dropped
	byID     map[string]int // request id → accepted sends (>1: duplicates Mind dropped)
	times    []time.Time    // of every accepted send
	attempts map[string]int // request id → sends, accepted or not
	inFlight int            // sends running now
	maxIn    int            // most sends running at once
	onSend   func(mind.Request)
}

func newFakeMind() *fakeMind {
	return &fakeMind{byID: map[string]int{}, attempts: map[string]int{}}
}

var errDown = &mind.Error{Reason: mind.ReasonHTTP5xx, Retryable: true, StatusCode: 503}

func (f *fakeMind) setFail(fn func(mind.Request) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

func (f *fakeMind) down() { f.setFail(func(mind.Request) error { return errDown }) }
func (f *fakeMind) up()   { f.setFail(nil) }

func (f *fakeMind) Send(ctx context.Context, req mind.Request) error {
	f.mu.Lock()
	f.attempts[req.RequestID]++
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	fail, delay, onSend := f.fail, f.delay, f.onSend
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if onSend != nil {
		onSend(req)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(req); err != nil {
			return err
		}
	}
	f.accept(req)
	return nil
}

func (f *fakeMind) accept(req mind.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[req.RequestID]++
	f.times = append(f.times, time.Now())
	if f.byID[req.RequestID] == 1 {
		var b body
		_ = json.Unmarshal(req.Body, &b)
		f.shown = append(f.shown, b)
	}
}

func (f *fakeMind) shownCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.shown)
}

func (f *fakeMind) snapshot() (shown []body, byID map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byID = map[string]int{}
	for k, v := range f.byID {
		byID[k] = v
	}
	return append([]body(nil), f.shown...), byID
}

func (f *fakeMind) waitShown(t *testing.T, n int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return f.shownCount() >= n }, within, 5*time.Millisecond,
		"Mind shows %d of %d notifications", f.shownCount(), n)
}

func openStore(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func tempStore(t testing.TB) store.Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "relay.db"))
}

// fast are options for tests: no real waiting.
func fast() Options {
	return Options{RateLimit: -1, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, PollInterval: time.Second}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// started is a running queue.
type started struct {
	*Queue
	reg    *prometheus.Registry
	cancel context.CancelFunc
	err    chan error
}

func start(t *testing.T, st store.Store, s mind.Sender, opts Options) *started {
	t.Helper()
	reg := prometheus.NewRegistry()
	q := New(st, s, opts, reg, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	r := &started{Queue: q, reg: reg, cancel: cancel, err: make(chan error, 1)}
	go func() { r.err <- q.Run(ctx) }()
	t.Cleanup(func() {
		ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = q.Stop(ctx)
		cancel()
	})
	return r
}

// stop stops gracefully within d and returns Run's result.
func (r *started) stop(t *testing.T, d time.Duration) (stopErr, runErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	stopErr = r.Stop(ctx)
	select {
	case runErr = <-r.err:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	return stopErr, runErr
}

func submit(t *testing.T, q *Queue, ns ...store.Notification) []store.Notification {
	t.Helper()
	require.NoError(t, q.Submit(context.Background(), ns))
	return ns
}

func notifications(q *Queue, result string) float64 {
	return testutil.ToFloat64(q.m.notifications.WithLabelValues("oncall", result))
}

func get(t *testing.T, st store.Store, id string) store.Notification {
	t.Helper()
	n, err := st.Get(context.Background(), id)
	require.NoError(t, err)
	return n
}

// countingStore counts commits of accepted notifications and can lose
// outcomes, as a process dying before it records them would.
type countingStore struct {
	store.Store
	enqueues  atomic.Int64
	slow      time.Duration
	loseCompl atomic.Bool
}

func (c *countingStore) Enqueue(ctx context.Context, ns []store.Notification) (store.Changes, error) {
	c.enqueues.Add(1)
	if c.slow > 0 {
		time.Sleep(c.slow)
	}
	return c.Store.Enqueue(ctx, ns)
}

var errCrashed = errors.New("process died")

func (c *countingStore) Complete(ctx context.Context, os []store.Outcome) (store.Changes, error) {
	if c.loseCompl.Load() {
		return store.Changes{}, errCrashed
	}
	return c.Store.Complete(ctx, os)
}

func groupName(i int) string { return fmt.Sprintf("g%04d", i) }
