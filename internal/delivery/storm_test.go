package delivery

import (
	"context"
	"fmt"
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

func TestSubmitCountsDuplicates(t *testing.T) {
	q := New(tempStore(t), sendFunc(nil), fast(), prometheus.NewRegistry(), nil)
	keyed := func(group, key string) store.Notification {
		n := notif(group, 1, "firing")
		n.DedupeKey, n.DedupeUntil = key, time.Now().Add(time.Minute)
		return n
	}
	tests := []struct {
		name string
		ns   []store.Notification
		want float64 // deduplicated so far
	}{
		{"first", []store.Notification{keyed("A", "k1")}, 0},
		{"its HA peer's copy", []store.Notification{keyed("A", "k1")}, 1},
		{"new content", []store.Notification{keyed("A", "k2")}, 1},
		{"two copies more", []store.Notification{keyed("A", "k2"), keyed("A", "k1")}, 3},
	}
	for _, tc := range tests {
		submit(t, q, tc.ns...)
		require.Equal(t, tc.want, testutil.ToFloat64(q.m.deduplicated.WithLabelValues("oncall")), tc.name)
	}
	st, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Pending, "k1's card superseded by k2's, the copies never queued")
}

// storm cards: valid for the fake Mind.
func stormRequest(tb testing.TB, title string) mind.Request {
	tb.Helper()
	c := card.Card{
		Config:   &card.Config{EnableForward: true},
		Header:   &card.Header{Title: card.Text{Content: title}, Template: card.ColorRed},
		Elements: []card.Element{card.Markdown("**" + title + "**")},
	}
	content, err := c.JSON()
	if err != nil {
		tb.Fatal(err)
	}
	req, err := mind.NewCardRequest("", []string{"ou_a"}, false, content)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// BenchmarkUrgentBehindBacklog queues 1,000 warning groups, starts the
// queue at the default rate limit (10/s, burst 20) towards a fake Mind
// over HTTP, posts a critical group and measures how long it takes to
// reach Mind (critical_ms), once the burst is spent on the backlog. Issue 14's target: under 2 s; first in, first
// out it would be about 100 s.
func BenchmarkUrgentBehindBacklog(b *testing.B) {
	const backlog, warning, critical = 1000, 3, 0
	var worst time.Duration
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fake := mindtest.NewServer(b)
		client, err := mind.NewClient(fake.ClientOptions(), prometheus.NewRegistry(), nil)
		if err != nil {
			b.Fatal(err)
		}
		st := tempStore(b)
		q := New(st, client, Options{RateLimit: DefaultRateLimit, Burst: DefaultBurst}, prometheus.NewRegistry(), nil)
		ns := make([]store.Notification, backlog)
		for j := range ns {
			ns[j] = store.Notification{GroupID: fmt.Sprintf("w%04d", j), Receiver: "oncall", Priority: warning,
				Request: stormRequest(b, fmt.Sprintf("warning %d", j))}
		}
		if err := q.Submit(context.Background(), ns); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- q.Run(ctx) }()
		// Let the queue spend its burst on the backlog first: the critical
		// card then meets the steady 10/s.
		if _, err := fake.WaitForMessages(DefaultBurst+10, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		crit := store.Notification{GroupID: "crit", Receiver: "oncall", Priority: critical, Request: stormRequest(b, "critical")}
		if err := q.Submit(context.Background(), []store.Notification{crit}); err != nil {
			b.Fatal(err)
		}
		var took time.Duration
		for took == 0 {
			for _, m := range fake.Messages() {
				if m.Card != nil && m.Card.Header != nil && m.Card.Header.Title.Content == "critical" {
					took = m.ReceivedAt.Sub(start)
				}
			}
			if took == 0 {
				if time.Since(start) > 60*time.Second {
					b.Fatal("the critical card did not arrive within 60s")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		b.StopTimer()
		sent := len(fake.Messages())
		cancel()
		<-done
		total += took
		worst = max(worst, took)
		b.ReportMetric(float64(sent-1), "warnings_before")
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "critical_ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst_ms")
}
