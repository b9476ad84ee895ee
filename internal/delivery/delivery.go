// Package delivery is the durable queue between the webhooks and Mind.
//
// Submit writes notifications to the store and returns once they are
// committed, so a webhook can answer 2xx knowing the notification will reach
// Mind across restarts and Mind outages. Run delivers them: a scheduler
// claims due notifications (most urgent first, then oldest, one at a time
// per stream; a flood to one receiver folded into a digest first) and
// hands them to workers, which share one adaptive token bucket towards Mind
// and retry for as long as max_age allows.
//
// Guarantees:
//   - Durable: Submit returns nil only after the store committed (fsync).
//     Concurrent Submits share commits (group commit).
//   - Ordered: within a stream (receiver, group) notifications are sent in
//     the order accepted, never two at once; a pending one with a newer one
//     behind it is superseded and never sent.
//   - At least once, deduplicated by Mind: a notification keeps its
//     request id across retries and restarts, so a resend of one Mind
//     accepted just before a crash is dropped by Mind. One marked delivered
//     is never sent again.
//   - Bounded: permanent failures and notifications older than max_age go to
//     the dead letters (ListDead, Replay).
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Defaults of Options.
const (
	DefaultWorkers      = 4
	DefaultRateLimit    = 10.0
	DefaultBurst        = 20
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultMaxAge       = 24 * time.Hour
	DefaultPollInterval = 5 * time.Second
	DefaultRetention    = 7 * 24 * time.Hour
)

// Options tunes the queue. A zero field takes its default.
type Options struct {
	// Workers is how many notifications may be in flight at once (4).
	Workers int
	// RateLimit is requests per second to Mind, shared by all workers
	// (10); negative means no limit.
	RateLimit float64
	// Burst is how many requests may go at once after a quiet spell (20).
	Burst int
	// MinBackoff and MaxBackoff bound the wait between attempts (1s, 5m).
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long a notification may wait for Mind before it is
	// dead-lettered, counted from acceptance or replay (24h).
	MaxAge time.Duration
	// PollInterval is the longest the scheduler sleeps without being
	// woken (5s): it then refreshes the queue gauges and looks for work
	// another process put in the store (`relay dlq replay`).
	PollInterval time.Duration
	// Retention is how long delivered and superseded notifications are
	// kept before they are pruned (7 days); negative keeps them forever.
	Retention time.Duration
	// ProbeInterval is how often, while delivery is paused on a fault of
	// the setup (bad credentials, a base_url that is not Mind), one
	// notification is sent to see whether the fault is gone (30s).
	ProbeInterval time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Digest folds a receiver's flood of non-urgent group cards into one
	// digest card (store.Fold) before each claim; a zero After is off.
	Digest store.DigestRule
	// Renderer builds the request of a notification queued without a body
	// (the relay renders its card at send time, from Notification.Group).
	// Without it, bodiless notifications are dead-lettered.
	Renderer Renderer
}

// Renderer builds the request of a notification queued without a body. It
// is called by the worker just before the send, at every attempt;
// notifications with a body are sent as they are. An error wrapping
// ErrSkip records the notification as superseded, unsent; any other error
// dead-letters it (rendering is deterministic: it would fail again).
type Renderer interface {
	Render(ctx context.Context, n store.Notification) (mind.Request, error)
}

// ErrSkip, from a Renderer, means the notification need not be sent:
// what it would say has reached the receiver another way.
var ErrSkip = store.ErrSkip

// OptionsFromConfig turns the delivery section of the configuration into
// Options.
func OptionsFromConfig(c config.DeliveryConfig) Options {
	return Options{
		Workers:    c.Workers,
		RateLimit:  c.RateLimit,
		Burst:      c.Burst,
		MinBackoff: c.MinBackoff.D(),
		MaxBackoff: c.MaxBackoff.D(),
		MaxAge:     c.MaxAge.D(),
		Digest: store.DigestRule{After: c.Digest.Threshold(), MinPriority: c.UrgentBelow(),
			MinInterval: c.Digest.MinInterval.D()},
	}
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Stats is the shape of the queue.
type Stats = store.Stats

// Queue is the durable delivery queue. Submit, ListDead, Replay, Stats,
// CheckWritable and SetSender may be called at any time, before, during
// and after Run.
type Queue struct {
	st      store.Store
	sender  atomic.Pointer[senderBox]
	opts    Options
	backoff mind.Backoff
	log     *slog.Logger
	m       *metrics
	limiter *adaptiveLimiter
	commit  *committer
	wake    chan struct{} // capacity 1: "there may be new work"
	pause   pauseState

	mu          sync.Mutex
	started     bool
	stopping    chan struct{} // closed by Stop
	stopOnce    sync.Once
	cancelSends context.CancelCauseFunc
	done        chan struct{} // closed when Run returns
}

type senderBox struct{ mind.Sender }

// New builds a queue over st that sends with sender. Nothing runs until
// Run. sender may be nil for a queue that only submits, lists or replays
// (Run refuses to start without one); logger may be nil.
func New(st store.Store, sender mind.Sender, opts Options, reg prometheus.Registerer, logger *slog.Logger) *Queue {
	opts = opts.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	q := &Queue{
		st:   st,
		opts: opts,
		backoff: mind.Backoff{
			Initial:    opts.MinBackoff,
			Max:        opts.MaxBackoff,
			Multiplier: 2,
			Jitter:     0.2,
		},
		log:      logger,
		m:        newMetrics(reg),
		wake:     make(chan struct{}, 1),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	limit := rate.Limit(opts.RateLimit)
	if opts.RateLimit < 0 {
		limit = rate.Inf
	}
	q.limiter = newAdaptiveLimiter(limit, opts.Burst, opts.MaxBackoff, nil, func(l rate.Limit) {
		if l == rate.Inf {
			q.m.rateLimit.Set(-1)
			return
		}
		q.m.rateLimit.Set(float64(l))
	})
	q.commit = newCommitter(st.Enqueue, q.committed)
	q.SetSender(sender)
	return q
}

// SetSender replaces the sender for every send that starts from now on
// (a config reload builds a new Mind client). Sends in flight finish with
// the old one. A nil sender is ignored. It lifts a pause on a fault of the
// setup: the new sender may not have it (the next send says).
func (q *Queue) SetSender(s mind.Sender) {
	if s == nil {
		return
	}
	q.sender.Store(&senderBox{s})
	q.resume("the sender was replaced (config reload)")
}

// ErrInvalid marks a notification that can never be sent (no receiver, no
// endpoint, a body that is not JSON): a bug upstream, not a store failure.
var ErrInvalid = store.ErrInvalid

// Submit makes ns durable and returns once they are committed; only then
// may the webhook answer 2xx. An error means nothing of ns was accepted
// (unless the caller's ctx ended first: then the commit may still land, and
// a retrying sender may cause a duplicate, which is the safe side).
//
// Submit fills in ns what the caller left empty (store.Notification's
// SetDefaults: ID, request id, group, CreatedAt); an ID the store already
// has is skipped, so submitting twice is harmless. Concurrent Submits are
// committed together: one transaction, one fsync, for all that arrive
// while the previous commit runs. It wakes Run at once.
func (q *Queue) Submit(ctx context.Context, ns []store.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	now := q.opts.Now()
	for i := range ns {
		ns[i].SetDefaults(now)
		if err := ns[i].Validate(); err != nil {
			return fmt.Errorf("submit: %w: %w", ErrInvalid, err)
		}
	}
	if err := q.commit.submit(ctx, ns); err != nil {
		return fmt.Errorf("submit %d notifications: %w", len(ns), err)
	}
	return nil
}

// Wake tells the scheduler that notifications were queued behind its back
// (in a store transaction of their own, such as an incident's change).
func (q *Queue) Wake() { q.poke() }

// committed runs once per group commit, after it.
func (q *Queue) committed(n int, ch store.Changes, err error) {
	if err != nil {
		q.m.storeErrors.WithLabelValues(opEnqueue).Inc()
		q.log.Error("cannot make accepted notifications durable", slog.Int("notifications", n), slog.Any("err", err))
		return
	}
	q.m.commitBatch.Observe(float64(n))
	q.m.superseded(ch.Superseded)
	for _, r := range ch.Deduplicated {
		q.m.deduplicated.WithLabelValues(r.Receiver).Inc()
	}
	if ch.Count > 0 {
		q.poke()
	}
}

// poke wakes the scheduler.
func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// ListDead returns the dead letters, oldest first.
func (q *Queue) ListDead(ctx context.Context) ([]store.Notification, error) {
	ns, err := q.st.ListDead(ctx)
	if err != nil {
		q.m.storeErrors.WithLabelValues(opListDead).Inc()
		return nil, err
	}
	return ns, nil
}

// Replay sends the named dead letters again (every one with no ids) and
// reports how many were requeued; ids that are not dead letters are
// ignored. A replayed notification starts afresh (max_age, attempts) with a
// fresh request id: it is a deliberate resend, which Mind must not drop as
// a duplicate of an earlier attempt. One whose stream has moved on since (a
// newer notification was delivered or is queued) is superseded instead:
// sending a stale "firing" card after its "resolved" one would mislead.
func (q *Queue) Replay(ctx context.Context, ids ...string) (int, error) {
	ch, err := q.st.Replay(ctx, q.opts.Now(), ids...)
	if err != nil {
		q.m.storeErrors.WithLabelValues(opReplay).Inc()
		return 0, err
	}
	q.m.superseded(ch.Superseded)
	q.log.Info("dead letters replayed", slog.Int("requeued", ch.Count), slog.Int("superseded", len(ch.Superseded)))
	q.poke()
	_, _ = q.Stats(ctx) // refresh the gauges now
	return ch.Count, nil
}

// Stats counts the queue and refreshes the queue gauges.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st, err := q.st.Stats(ctx)
	if err != nil {
		q.m.storeErrors.WithLabelValues(opStats).Inc()
		return Stats{}, err
	}
	q.m.queueDepth.Set(float64(st.Pending + st.Sending))
	q.m.deadLetters.Set(float64(st.Dead))
	age := 0.0
	if !st.OldestQueuedAt.IsZero() {
		age = max(q.opts.Now().Sub(st.OldestQueuedAt).Seconds(), 0)
	}
	q.m.oldestAge.Set(age)
	return st, nil
}

// CheckWritable fails unless the store can durably write now, part of the
// readiness check (Ready): a relay that cannot accept must not get
// webhooks.
func (q *Queue) CheckWritable(ctx context.Context) error {
	if err := q.st.CheckWritable(ctx); err != nil {
		q.m.storeErrors.WithLabelValues(opCheckWritable).Inc()
		return err
	}
	return nil
}
