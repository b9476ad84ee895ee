package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestAdaptiveLimiter(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	var reported []rate.Limit
	a := newAdaptiveLimiter(10, 20, 0, c.now, func(l rate.Limit) { reported = append(reported, l) })

	for _, step := range []struct {
		name    string
		advance time.Duration
		do      func()
		want    rate.Limit
	}{
		{"configured", 0, func() {}, 10},
		{"a success at full rate changes nothing", 0, a.Succeeded, 10},
		{"rate limited: halve", 0, func() { a.Throttled(0) }, 5},
		{"the other workers' 429s of the same episode do not halve again", 500 * time.Millisecond, func() { a.Throttled(0) }, 5},
		{"no recovery within a step of the halving", 0, a.Succeeded, 5},
		{"a new episode halves again", time.Second, func() { a.Throttled(0) }, 2.5},
		{"a success a step later recovers a tenth", time.Second, a.Succeeded, 3.5},
		{"at most one tenth a step", 100 * time.Millisecond, a.Succeeded, 3.5},
		{"next step", time.Second, a.Succeeded, 4.5},
	} {
		c.advance(step.advance)
		step.do()
		require.InDelta(t, float64(step.want), float64(a.Limit()), 1e-9, step.name)
	}
	for range 20 {
		c.advance(time.Second)
		a.Succeeded()
	}
	require.Equal(t, rate.Limit(10), a.Limit(), "back to, never above, the configured rate")
	for range 20 {
		c.advance(time.Second)
		a.Throttled(0)
	}
	require.InDelta(t, 10.0/64, float64(a.Limit()), 1e-9, "never below the floor")
	require.Equal(t, rate.Limit(10), reported[0])
	require.Equal(t, a.Limit(), reported[len(reported)-1])
}

func TestAdaptiveLimiterRetryAfterPauses(t *testing.T) {
	a := newAdaptiveLimiter(1000, 10, 0, nil, nil)
	a.Throttled(80 * time.Millisecond)
	begin := time.Now()
	require.NoError(t, a.Wait(context.Background()))
	require.GreaterOrEqual(t, time.Since(begin), 70*time.Millisecond)

	a.Throttled(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, a.Wait(ctx), context.DeadlineExceeded)
}

func TestAdaptiveLimiterUnlimited(t *testing.T) {
	a := newAdaptiveLimiter(rate.Inf, 1, 0, nil, nil)
	a.Throttled(0)
	require.Equal(t, rate.Inf, a.Limit(), "no rate to halve; Retry-After still pauses")
}

// One Retry-After pauses every worker for at most maxPause (max_backoff),
// however long Mind asked: the pause is shared by every stream.
func TestAdaptiveLimiterPauseIsCapped(t *testing.T) {
	tests := []struct {
		name       string
		maxPause   time.Duration
		retryAfter time.Duration
		wantPause  time.Duration
	}{
		{"an hour is cut to max_backoff", 5 * time.Minute, time.Hour, 5 * time.Minute},
		{"a day is cut to max_backoff", 5 * time.Minute, 24 * time.Hour, 5 * time.Minute},
		{"shorter than the cap: as asked", 5 * time.Minute, 30 * time.Second, 30 * time.Second},
		{"no Retry-After: no pause", 5 * time.Minute, 0, 0},
		{"no cap", 0, time.Hour, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
			a := newAdaptiveLimiter(rate.Inf, 1, tc.maxPause, c.now, nil)
			a.Throttled(tc.retryAfter)
			if tc.wantPause > 0 {
				c.advance(tc.wantPause - time.Millisecond)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				require.ErrorIs(t, a.Wait(ctx), context.DeadlineExceeded, "still paused just before the pause ends")
				cancel()
				c.advance(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, a.Wait(ctx), "no longer paused once the pause has passed")
		})
	}
}
