package mind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the retry policy: how long to wait before each new attempt and
// when to stop. A zero field takes its value from DefaultBackoff.
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
	// MaxAttempts is how many attempts Deliver makes, the first included;
	// a negative value means no limit but the context's.
	MaxAttempts int
}

// DefaultBackoff is the policy's defaults: 0.5s, 1s, 2s, 4s between five
// attempts, each up to 20% shorter.
var DefaultBackoff = Backoff{
	Initial:     500 * time.Millisecond,
	Max:         30 * time.Second,
	Multiplier:  2,
	Jitter:      0.2,
	MaxAttempts: 5,
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	b.Multiplier = max(b.Multiplier, 1)
	b.Jitter = min(max(b.Jitter, 0), 1)
	if b.MaxAttempts == 0 {
		b.MaxAttempts = DefaultBackoff.MaxAttempts
	}
	return b
}

// Next is the wait before the attempt after attempt (1 after the first
// failure): Initial·Multiplier^(attempt-1), capped at Max, shortened by up
// to Jitter, and never shorter than retryAfter (itself capped at Max).
func (b Backoff) Next(attempt int, retryAfter time.Duration) time.Duration {
	b = b.withDefaults()
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

// Deliver sends req through s until Mind accepts it, with the same request
// id on every attempt so that Mind drops duplicates. It stops at once on an
// error Classify calls permanent (logging one error line that names the
// reason), and gives up when b.MaxAttempts attempts have failed or when the
// next wait would not fit before ctx's deadline. Every error it returns
// wraps the last attempt's error, so Classify still tells the caller (the
// durable queue) whether a later try can help. m and logger may be nil.
func Deliver(ctx context.Context, s Sender, req Request, b Backoff, m *Metrics, logger *slog.Logger) error {
	b = b.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("endpoint", EndpointLabel(req.Endpoint)), slog.String("request_id", req.RequestID))

	for attempt := 1; ; attempt++ {
		err := s.Send(ctx, req)
		if err == nil {
			if attempt > 1 {
				logger.LogAttrs(ctx, slog.LevelInfo, "mind request delivered after retries", slog.Int("attempts", attempt))
			}
			return nil
		}
		retry, after, reason := Classify(err)
		if !retry {
			logPermanent(ctx, logger, err, reason, attempt)
			return fmt.Errorf("mind request %s: not retried after attempt %d: %w", req.RequestID, attempt, err)
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("mind request %s: stopped after attempt %d: %w", req.RequestID, attempt, errors.Join(err, context.Cause(ctx)))
		}
		if b.MaxAttempts > 0 && attempt >= b.MaxAttempts {
			logger.LogAttrs(ctx, slog.LevelWarn, "mind request failed, giving up for now",
				slog.Int("attempts", attempt), slog.String("reason", string(reason)), slog.Any("err", err))
			return fmt.Errorf("mind request %s: gave up after %d attempts: %w", req.RequestID, attempt, err)
		}
		wait := b.Next(attempt, after)
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline); left < wait {
				logger.LogAttrs(ctx, slog.LevelWarn, "mind request failed, no time left to retry before the deadline",
					slog.Int("attempts", attempt), slog.String("reason", string(reason)),
					slog.Duration("wait", wait), slog.Duration("left", left), slog.Any("err", err))
				return fmt.Errorf("mind request %s: gave up after %d attempts, the deadline leaves %s but the next wait is %s: %w",
					req.RequestID, attempt, left.Round(time.Millisecond), wait.Round(time.Millisecond), err)
			}
		}
		logger.LogAttrs(ctx, slog.LevelDebug, "mind request failed, retrying",
			slog.Int("attempt", attempt), slog.String("reason", string(reason)),
			slog.Duration("wait", wait), slog.Any("err", err))
		m.retried()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("mind request %s: stopped after attempt %d: %w", req.RequestID, attempt, errors.Join(err, context.Cause(ctx)))
		}
	}
}

// logPermanent writes the one line an operator needs when Mind will never
// accept the request as it is.
func logPermanent(ctx context.Context, logger *slog.Logger, err error, reason Reason, attempt int) {
	msg := "mind refused the request, not retrying"
	switch reason {
	case ReasonAuth:
		msg = "mind refused the app credentials (bad app_id or app_secret), not retrying"
	case ReasonBadResponse:
		msg = "mind answered with something that is not Mind's API (check mind.base_url), not retrying"
	}
	attrs := []slog.Attr{slog.String("reason", string(reason)), slog.Int("attempt", attempt)}
	var me *Error
	if errors.As(err, &me) {
		attrs = append(attrs, slog.Int("status", me.StatusCode), slog.String("code", me.Code), slog.String("mind_msg", me.Msg))
	}
	attrs = append(attrs, slog.Any("err", err))
	logger.LogAttrs(ctx, slog.LevelError, msg, attrs...)
}
