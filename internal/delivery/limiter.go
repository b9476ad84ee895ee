package delivery

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive rate limiting: Mind limits requests per app, so all workers share
// one token bucket at the configured rate. When Mind answers "rate limited"
// anyway (another relay on the same app, a lower quota than configured), the
// bucket halves its rate, drops the tokens it has saved up and, when Mind
// sent Retry-After, pauses every worker until then, for at most maxPause
// (max_backoff): one answer must not stop every stream for an hour. The
// row that got the answer still waits the whole Retry-After (the queue
// schedules its next attempt no earlier). Each further second
// without a rate-limited answer then gives back a tenth of the configured
// rate (additive increase, multiplicative decrease), so after a halving the
// full rate returns within about five seconds of quiet.
const (
	// throttleHold: rate-limited answers within this time of a halving
	// are the same episode (the workers' requests already in flight) and
	// do not halve again.
	throttleHold = time.Second
	// recoverStep: at most one increase per step, and none within a step
	// of the last halving.
	recoverStep = time.Second
	// recoverShare of the configured rate is given back each step.
	recoverShare = 0.1
	// floorShare of the configured rate is as low as halving goes.
	floorShare = 1.0 / 64
)

type adaptiveLimiter struct {
	lim   *rate.Limiter
	max   rate.Limit
	floor rate.Limit
	// maxPause caps the pause of every worker one Retry-After causes
	// (0: no cap).
	maxPause time.Duration
	now      func() time.Time
	onLimit  func(rate.Limit) // reports every change (a gauge)

	mu           sync.Mutex
	lastThrottle time.Time
	lastChange   time.Time
	pausedUntil  time.Time
}

// newAdaptiveLimiter allows perSecond requests a second (rate.Inf: no
// limit) with burst, pausing for at most maxPause (0: no cap) on a
// Retry-After; clock may be nil (time.Now).
func newAdaptiveLimiter(perSecond rate.Limit, burst int, maxPause time.Duration, clock func() time.Time, onLimit func(rate.Limit)) *adaptiveLimiter {
	if clock == nil {
		clock = time.Now
	}
	if onLimit == nil {
		onLimit = func(rate.Limit) {}
	}
	a := &adaptiveLimiter{
		lim:      rate.NewLimiter(perSecond, burst),
		max:      perSecond,
		floor:    perSecond * floorShare,
		maxPause: maxPause,
		now:      clock,
		onLimit:  onLimit,
	}
	onLimit(perSecond)
	return a
}

// Limit is the rate now allowed.
func (a *adaptiveLimiter) Limit() rate.Limit { return a.lim.Limit() }

// Wait blocks until a request may go, or ctx ends.
func (a *adaptiveLimiter) Wait(ctx context.Context) error {
	for {
		a.mu.Lock()
		d := a.pausedUntil.Sub(a.now())
		a.mu.Unlock()
		if d <= 0 {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
	return a.lim.Wait(ctx)
}

// Throttled reports a rate-limited answer; retryAfter is Mind's
// Retry-After (0 when none).
func (a *adaptiveLimiter) Throttled(retryAfter time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.maxPause > 0 {
		retryAfter = min(retryAfter, a.maxPause)
	}
	if retryAfter > 0 {
		if until := now.Add(retryAfter); until.After(a.pausedUntil) {
			a.pausedUntil = until
		}
	}
	if a.max == rate.Inf || (!a.lastThrottle.IsZero() && now.Sub(a.lastThrottle) < throttleHold) {
		return
	}
	a.lastThrottle, a.lastChange = now, now
	limit := max(a.lim.Limit()/2, a.floor)
	// The bucket itself runs on the wall clock (now only decides when).
	a.lim.SetLimit(limit)
	// Tokens saved while idle would let the next burst through at once.
	if tokens := a.lim.Tokens(); tokens >= 1 {
		a.lim.AllowN(time.Now(), int(tokens))
	}
	a.onLimit(limit)
}

// Succeeded reports an accepted request: the rate creeps back up.
func (a *adaptiveLimiter) Succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.lim.Limit()
	if limit >= a.max {
		return
	}
	now := a.now()
	if now.Sub(a.lastChange) < recoverStep {
		return
	}
	a.lastChange = now
	limit = min(limit+a.max*recoverShare, a.max)
	a.lim.SetLimit(limit)
	a.onLimit(limit)
}
