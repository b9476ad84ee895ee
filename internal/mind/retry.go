package mind

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the retry policy's waits: how long to wait before each new
// attempt. The durable queue is the one retry loop; it fills every field
// from its config (delivery.min_backoff, max_backoff), where the defaults
// live.
type Backoff struct {
	// Initial is the wait after the first failed attempt.
	Initial time.Duration
	// Max caps every wait, a Retry-After from Mind included.
	Max time.Duration
	// Multiplier grows the wait after each further failure (values below 1
	// are taken as 1).
	Multiplier float64
	// Jitter, between 0 and 1, shortens each wait by a random fraction of
	// up to Jitter, so that many senders failing together do not come back
	// together.
	Jitter float64
}

func (b Backoff) normalised() Backoff {
	b.Initial = max(b.Initial, 0)
	b.Max = max(b.Max, b.Initial)
	b.Multiplier = max(b.Multiplier, 1)
	b.Jitter = min(max(b.Jitter, 0), 1)
	return b
}

// Next is the wait before the attempt after attempt (1 after the first
// failure): Initial·Multiplier^(attempt-1), capped at Max, shortened by up
// to Jitter, and never shorter than retryAfter (itself capped at Max).
func (b Backoff) Next(attempt int, retryAfter time.Duration) time.Duration {
	b = b.normalised()
	attempt = max(attempt, 1)
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d -= d * b.Jitter * rand.Float64()
	}
	wait := time.Duration(d)
	return max(wait, min(retryAfter, b.Max))
}
