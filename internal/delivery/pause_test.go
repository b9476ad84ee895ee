package delivery

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/store"
)

// cardNotif is a notification the strict fake Mind accepts.
func cardNotif(t testing.TB, group string) store.Notification {
	t.Helper()
	c := card.Card{
		Header:   &card.Header{Title: card.Text{Content: "触发中: " + group}, Template: card.ColorRed},
		Elements: []card.Element{card.Markdown("**summary** " + group)},
	}
	content, err := c.JSON()
	require.NoError(t, err)
	req, err := mind.NewCardRequest("", []string{"ou_a"}, false, content)
	require.NoError(t, err)
	return store.Notification{GroupID: group, Receiver: "oncall", Source: "alertmanager", Status: "firing", Request: req}
}

func mindClient(t testing.TB, fake *mindtest.Server, secret string) *mind.Client {
	t.Helper()
	o := fake.ClientOptions()
	o.AppSecret = secret
	o.Timeout = 2 * time.Second
	c, err := mind.NewClient(o, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	return c
}

func pausedGauge(q *Queue, r mind.Reason) float64 {
	return testutil.ToFloat64(q.m.paused.WithLabelValues(string(r)))
}

const maintenancePage = "<html><head><title>Maintenance</title></head><body>We'll be back soon.</body></html>"

// A bad secret rotation, or a proxy's 2xx maintenance page, is a fault of
// the relay's setup: delivery pauses with readiness red and the gauge
// up, every notification stays pending (none dead-lettered), and it
// resumes on reload or when a probe succeeds, delivering them all.
func TestSetupFaultPausesAndResumes(t *testing.T) {
	const rotated = "rotated-app-secret-2"
	tests := []struct {
		name   string
		opts   []mindtest.Option
		probe  time.Duration // ProbeInterval
		breaks func(f *mindtest.Server)
		fixes  func(t *testing.T, f *mindtest.Server, q *Queue)
		reason mind.Reason
		advice string
	}{
		{
			name:   "secret rotated in Mind, then a reload with the new one",
			probe:  time.Hour, // only the reload can resume
			breaks: func(f *mindtest.Server) { f.SetCredentials(mindtest.DefaultAppID, rotated) },
			fixes:  func(t *testing.T, f *mindtest.Server, q *Queue) { q.SetSender(mindClient(t, f, rotated)) },
			reason: mind.ReasonAuth, advice: "check mind.app_id and mind.app_secret",
		},
		{
			name:   "secret rotated in Mind (HTTP 401), rolled back, a probe resumes",
			opts:   []mindtest.Option{mindtest.WithHTTPStatusErrors()},
			probe:  50 * time.Millisecond,
			breaks: func(f *mindtest.Server) { f.SetCredentials(mindtest.DefaultAppID, rotated) },
			fixes: func(t *testing.T, f *mindtest.Server, q *Queue) {
				f.SetCredentials(mindtest.DefaultAppID, mindtest.DefaultAppSecret)
			},
			reason: mind.ReasonAuth, advice: "check mind.app_id and mind.app_secret",
		},
		{
			name:  "a proxy's 2xx HTML maintenance page, then Mind back, a probe resumes",
			probe: 50 * time.Millisecond,
			breaks: func(f *mindtest.Server) {
				f.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Status: 200, Body: maintenancePage} })
			},
			fixes:  func(t *testing.T, f *mindtest.Server, q *Queue) { f.SetHook(nil) },
			reason: mind.ReasonBadResponse, advice: "not Mind's API",
		},
		{
			name:  "HTTP 403 from a gateway, lifted, a probe resumes",
			probe: 50 * time.Millisecond,
			breaks: func(f *mindtest.Server) {
				f.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Status: 403, Body: "forbidden"} })
			},
			fixes:  func(t *testing.T, f *mindtest.Server, q *Queue) { f.SetHook(nil) },
			reason: mind.ReasonAuth, advice: "check mind.app_id and mind.app_secret",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := mindtest.NewServer(t, tc.opts...)
			opts := fast()
			opts.Workers = 2
			opts.ProbeInterval = tc.probe
			st := tempStore(t)
			q := start(t, st, mindClient(t, fake, mindtest.DefaultAppSecret), opts)
			require.NoError(t, q.Ready(context.Background()))
			require.Equal(t, 0.0, pausedGauge(q.Queue, tc.reason))

			tc.breaks(fake)
			var ns []store.Notification
			for i := range 6 {
				ns = append(ns, cardNotif(t, fmt.Sprintf("g%d", i)))
			}
			submit(t, q.Queue, ns...)

			require.Eventually(t, func() bool { return q.Paused() != nil }, 5*time.Second, 5*time.Millisecond, "delivery pauses")
			err := q.Ready(context.Background())
			require.ErrorIs(t, err, ErrPaused)
			require.ErrorContains(t, err, string(tc.reason))
			require.ErrorContains(t, err, tc.advice)
			require.NotContains(t, err.Error(), rotated)
			require.NotContains(t, err.Error(), mindtest.DefaultAppSecret)
			require.Equal(t, 1.0, pausedGauge(q.Queue, tc.reason))

			// Held, not dead-lettered; only probes (if any) reach Mind.
			attempts := fake.TotalAttempts()
			time.Sleep(300 * time.Millisecond)
			probes := int(300*time.Millisecond/tc.probe) + 1
			require.LessOrEqual(t, fake.TotalAttempts()-attempts, probes, "paused: no more than the probes")
			stats, err := q.Stats(context.Background())
			require.NoError(t, err)
			require.Equal(t, 0, stats.Dead, "nothing dead-lettered for the setup's fault")
			require.Equal(t, len(ns), stats.Pending+stats.Sending)
			require.Equal(t, 0.0, notifications(q.Queue, resultDeadLettered))
			require.Empty(t, fake.Messages())

			tc.fixes(t, fake, q.Queue)
			_, err = fake.WaitForMessages(len(ns), 5*time.Second)
			require.NoError(t, err, "all delivered once resumed")
			require.Eventually(t, func() bool { return q.Paused() == nil }, time.Second, 5*time.Millisecond)
			require.NoError(t, q.Ready(context.Background()))
			require.Equal(t, 0.0, pausedGauge(q.Queue, tc.reason))
			for _, n := range ns {
				require.Eventually(t, func() bool { return get(t, st, n.ID).State == store.StateDelivered }, 2*time.Second, 5*time.Millisecond)
			}
		})
	}
}

// While paused, a probe that finds nothing queued resumes: a readiness
// kept red would keep the webhooks that could test Mind away for good.
func TestPauseWithNothingQueuedResumes(t *testing.T) {
	fake := mindtest.NewServer(t)
	opts := fast()
	opts.ProbeInterval = 50 * time.Millisecond
	st := tempStore(t)
	q := start(t, st, mindClient(t, fake, mindtest.DefaultAppSecret), opts)
	fake.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Body: maintenancePage} })
	n := submit(t, q.Queue, cardNotif(t, "g"))[0]
	require.Eventually(t, func() bool { return q.Paused() != nil }, 5*time.Second, 5*time.Millisecond)

	fake.SetHook(nil)
	_, err := fake.WaitForMessages(1, 5*time.Second)
	require.NoError(t, err, "the probe delivers the held notification")
	require.Eventually(t, func() bool { return q.Paused() == nil }, time.Second, 5*time.Millisecond)
	require.Equal(t, store.StateDelivered, get(t, st, n.ID).State)

	// Paused again with nothing left to send: the next probe resumes.
	q.pauseFor(mind.ReasonBadResponse, &mind.Error{Reason: mind.ReasonBadResponse, StatusCode: 200})
	require.Error(t, q.Paused())
	q.poke()
	require.Eventually(t, func() bool { return q.Paused() == nil }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 0.0, pausedGauge(q.Queue, mind.ReasonBadResponse))
}

// Readiness goes through the queue's writable check, so that its failures
// are counted in mind_relay_store_errors_total{op="check_writable"}.
func TestReadyCountsStoreFailures(t *testing.T) {
	st := &unwritableStore{Store: tempStore(t)}
	q := New(st, newFakeMind(), fast(), prometheus.NewRegistry(), nil)
	require.NoError(t, q.Ready(context.Background()))
	st.broken = true
	err := q.Ready(context.Background())
	require.ErrorContains(t, err, "store is not writable: disk full")
	require.Equal(t, 1.0, testutil.ToFloat64(q.m.storeErrors.WithLabelValues(opCheckWritable)))
}

type unwritableStore struct {
	store.Store
	broken bool
}

func (u *unwritableStore) CheckWritable(ctx context.Context) error {
	if u.broken {
		return fmt.Errorf("disk full")
	}
	return u.Store.CheckWritable(ctx)
}
