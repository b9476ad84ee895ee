package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

const (
	// minWait keeps the scheduler from spinning should the store report
	// work due that Claim then does not return.
	minWait = 5 * time.Millisecond
	// pruneEvery is how often old delivered rows are deleted.
	pruneEvery = time.Hour
	// flushTimeout bounds recording the last outcomes when Run stops.
	flushTimeout = 10 * time.Second
)

var errStopped = errors.New("delivery queue stopped")

// Run delivers until Stop is called or ctx ends, and returns only once no
// send is in flight. It may be called once.
//
//   - Stop(stopCtx) is the graceful way: no new sends start, the ones in
//     flight finish and their outcomes are recorded; when stopCtx ends
//     first, they are cancelled. Run then returns nil.
//   - Ending ctx is the abrupt way: sends in flight are cancelled at once
//     and Run returns ctx's cause.
//
// Either way a cancelled send goes back to pending with its request id and
// no attempt counted; a notification whose outcome could not be recorded
// stays "sending" in the store and is resent, same request id, by the next
// Run (Mind drops it if it had accepted it).
//
// Run first returns to pending what a previous process left in flight. It
// fails only when that fails or when there is no sender; store errors
// later are logged, counted and retried.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("delivery queue: Run called twice")
	}
	q.started = true
	sendCtx, cancelSends := context.WithCancelCause(context.WithoutCancel(ctx))
	q.cancelSends = cancelSends
	q.mu.Unlock()
	defer close(q.done)
	defer cancelSends(errStopped)

	if q.sender.Load() == nil {
		return errors.New("delivery queue: no sender")
	}
	ch, err := q.st.Recover(ctx, q.opts.Now())
	if err != nil {
		q.m.storeErrors.WithLabelValues(opRecover).Inc()
		return fmt.Errorf("delivery queue: %w", err)
	}
	q.m.superseded(ch.Superseded)
	if ch.Count > 0 {
		q.log.Info("resending notifications left in flight by the previous run", slog.Int("notifications", ch.Count))
	}
	// An abrupt stop cancels the sends in flight.
	stopAfter := context.AfterFunc(ctx, func() { cancelSends(context.Cause(ctx)) })
	defer stopAfter()

	s := &scheduler{q: q, results: make(chan result, q.opts.Workers)}
	s.loop(ctx, sendCtx)
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// Stop stops Run gracefully: no new sends; it waits for the ones in flight
// until ctx ends, then cancels them. It returns once Run has returned (at
// once if Run never started), with ctx's error if sends had to be
// cancelled.
func (q *Queue) Stop(ctx context.Context) error {
	q.stopOnce.Do(func() { close(q.stopping) })
	q.mu.Lock()
	started, cancel := q.started, q.cancelSends
	q.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		cancel(fmt.Errorf("%w: stop deadline: %w", errStopped, context.Cause(ctx)))
		<-q.done
		return fmt.Errorf("delivery queue: stop: sends in flight cancelled: %w", context.Cause(ctx))
	}
}

// result is a worker's report on one claimed notification.
type result struct {
	n       store.Notification
	outcome store.Outcome
	err     error       // the send's error, if any
	reason  mind.Reason // its reason
}

// scheduler is Run's loop: it records outcomes, claims due notifications
// for idle workers and sleeps until the next is due or something wakes it.
type scheduler struct {
	q        *Queue
	results  chan result
	inflight int
	unsaved  []result // outcomes not yet recorded
	failures int      // consecutive store failures
	retryAt  time.Time
	failing  bool // Mind failing (for logging the transitions only)
	pruned   time.Time
	polled   time.Time
}

func (s *scheduler) loop(ctx, sendCtx context.Context) {
	q := s.q
	for {
		now := q.opts.Now()
		if now.Sub(s.polled) >= q.opts.PollInterval {
			s.polled = now
			s.housekeeping(ctx, now)
		}
		s.flush(ctx)
		if ctx.Err() != nil || isClosed(q.stopping) {
			break
		}
		wait := q.opts.PollInterval - q.opts.Now().Sub(s.polled)
		if q.opts.Digest.After > 0 && !s.backingOff() {
			s.fold(ctx)
		}
		if paused, next := s.probe(ctx, sendCtx); paused {
			// Paused on a fault of the setup: nothing goes but the probe.
			if !next.IsZero() {
				wait = min(wait, next.Sub(q.opts.Now()))
			}
		} else if free := q.opts.Workers - s.inflight; free > 0 && !s.backingOff() {
			if claimed := s.claim(ctx, sendCtx, free); claimed < free && !s.backingOff() {
				// Idle workers: sleep until the next notification is
				// due. (All busy: a finishing one wakes us.)
				next, ok, err := q.st.NextDue(ctx)
				switch {
				case err != nil:
					s.storeFailed(ctx, opNextDue, err)
				case ok:
					wait = min(wait, next.Sub(q.opts.Now()))
				}
			}
		}
		if s.backingOff() {
			wait = min(wait, s.retryAt.Sub(q.opts.Now()))
		}
		s.sleep(ctx, max(wait, minWait))
	}

	// Stopping: wait for the sends in flight, record what they did.
	for s.inflight > 0 {
		s.take(<-s.results)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	s.retryAt = time.Time{}
	s.flush(fctx)
	if len(s.unsaved) > 0 {
		q.log.Warn("stopping with outcomes not recorded; those notifications are resent (same request id) on the next start",
			slog.Int("notifications", len(s.unsaved)))
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// sleep waits up to d for a wake-up, a result or the end.
func (s *scheduler) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.q.wake:
	case r := <-s.results:
		s.take(r)
	case <-t.C:
	case <-s.q.stopping:
	case <-ctx.Done():
	}
	// Take whatever else finished meanwhile, to record it in one go.
	for {
		select {
		case r := <-s.results:
			s.take(r)
		default:
			return
		}
	}
}

func (s *scheduler) take(r result) {
	s.inflight--
	s.unsaved = append(s.unsaved, r)
	switch r.reason {
	case reasonSkipped, reasonPrepare, reasonMaxAge:
		s.q.probeSoon() // nothing was sent: a probe tested nothing
	}
}

// probe, while delivery is paused, sends the oldest due notification alone
// every ProbeInterval (when nothing is in flight), and resumes when there
// is nothing to send. It reports whether delivery is paused and when the
// next probe is due.
func (s *scheduler) probe(ctx, sendCtx context.Context) (paused bool, next time.Time) {
	q := s.q
	paused, due, next := q.probeDue(q.opts.Now())
	if !paused || !due {
		return paused, next
	}
	if s.inflight > 0 || s.backingOff() {
		q.probeSoon() // as soon as they are done
		return true, time.Time{}
	}
	if s.claim(ctx, sendCtx, 1) > 0 || s.backingOff() {
		return true, next
	}
	switch at, ok, err := q.st.NextDue(ctx); {
	case err != nil:
		s.storeFailed(ctx, opNextDue, err)
		return true, next
	case ok:
		// Nothing due yet: probe when something is.
		q.probeBy(at)
		if at.Before(next) {
			next = at
		}
		return true, next
	}
	q.resume("nothing queued to probe with; the next send tests Mind")
	return false, time.Time{}
}

// claim starts up to free sends and reports how many.
func (s *scheduler) claim(ctx, sendCtx context.Context, free int) int {
	ns, err := s.q.st.Claim(ctx, s.q.opts.Now(), free)
	if err != nil {
		s.storeFailed(ctx, opClaim, err)
		return 0
	}
	for _, n := range ns {
		s.inflight++
		go func() { s.results <- s.q.deliver(sendCtx, n) }()
	}
	return len(ns)
}

// fold turns floods into digests before anything is claimed.
func (s *scheduler) fold(ctx context.Context) {
	q := s.q
	ds, err := q.st.Fold(ctx, q.opts.Now(), q.opts.Digest)
	if err != nil {
		s.storeFailed(ctx, opFold, err)
		return
	}
	for _, d := range ds {
		q.m.superseded(d.Replaced)
		q.m.digests.WithLabelValues(d.Notification.Receiver).Inc()
		q.m.notifications.WithLabelValues(d.Notification.Receiver, resultDigested).Add(float64(len(d.Digested)))
		q.log.Info("receiver flooded: cards folded into one digest", slog.String("receiver", d.Notification.Receiver),
			slog.String("digest", d.Notification.ID), slog.Int("cards", len(d.Digested)))
	}
}

// storeFailed counts and logs a store failure and backs off.
func (s *scheduler) storeFailed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return // stopping; not the store's fault
	}
	q := s.q
	q.m.storeErrors.WithLabelValues(op).Inc()
	s.failures++
	wait := min(q.backoff.Next(s.failures, 0), q.opts.PollInterval)
	s.retryAt = q.opts.Now().Add(wait)
	q.log.Error("store operation failed, retrying", slog.String("op", op), slog.Int("failures", s.failures),
		slog.Duration("wait", wait), slog.Any("err", err))
}

// backingOff reports whether the store failed and its back-off has not
// passed yet.
func (s *scheduler) backingOff() bool {
	if s.retryAt.IsZero() {
		return false
	}
	if s.q.opts.Now().Before(s.retryAt) {
		return true
	}
	s.retryAt = time.Time{}
	return false
}

// flush records the outcomes taken so far, unless the store is in a
// back-off.
func (s *scheduler) flush(ctx context.Context) {
	q := s.q
	if s.backingOff() {
		return
	}
	if len(s.unsaved) == 0 {
		return
	}
	outcomes := make([]store.Outcome, len(s.unsaved))
	for i, r := range s.unsaved {
		outcomes[i] = r.outcome
	}
	ch, err := q.st.Complete(ctx, outcomes)
	if err != nil {
		s.storeFailed(ctx, opComplete, err)
		return
	}
	s.failures = 0
	superseded := map[string]bool{}
	for _, r := range ch.Superseded {
		superseded[r.ID] = true
	}
	q.m.superseded(ch.Superseded)
	for _, r := range s.unsaved {
		s.account(ctx, r, superseded[r.n.ID])
	}
	s.unsaved = s.unsaved[:0]
}

// account updates metrics and logs for one recorded outcome.
func (s *scheduler) account(ctx context.Context, r result, superseded bool) {
	q := s.q
	o := r.outcome
	log := q.log.With(slog.String("id", r.n.ID), slog.String("receiver", r.n.Receiver),
		slog.String("group", r.n.GroupID), slog.String("request_id", r.n.Request.RequestID))
	switch o.State {
	case store.StateDelivered:
		q.m.notifications.WithLabelValues(r.n.Receiver, resultDelivered).Inc()
		q.m.latency.Observe(max(o.At.Sub(r.n.QueuedAt).Seconds(), 0))
		log.LogAttrs(ctx, slog.LevelDebug, "notification delivered", slog.Int("attempts", o.Attempts))
		if s.failing {
			s.failing = false
			q.log.Info("mind accepts notifications again")
		}
	case store.StateSuperseded:
		q.m.notifications.WithLabelValues(r.n.Receiver, resultSuperseded).Inc()
		log.LogAttrs(ctx, slog.LevelDebug, "notification not sent", slog.String("reason", string(r.reason)), slog.Any("err", r.err))
	case store.StateDead:
		q.m.notifications.WithLabelValues(r.n.Receiver, resultDeadLettered).Inc()
		log.LogAttrs(ctx, slog.LevelError, "notification dead-lettered", slog.Int("attempts", o.Attempts),
			slog.String("reason", string(r.reason)), slog.String("err", o.Error))
	case store.StatePending:
		if o.Attempts == r.n.Attempts || superseded {
			return // handed back unsent (stopping), or replaced
		}
		q.m.retries.Inc()
		if !s.failing {
			s.failing = true
			log.LogAttrs(ctx, slog.LevelWarn, "mind send failed, will retry", slog.String("reason", string(r.reason)),
				slog.Time("next_attempt", o.NextAttemptAt), slog.Any("err", r.err))
			return
		}
		log.LogAttrs(ctx, slog.LevelDebug, "mind send failed, will retry", slog.String("reason", string(r.reason)),
			slog.Int("attempts", o.Attempts), slog.Time("next_attempt", o.NextAttemptAt), slog.Any("err", r.err))
	}
}

// housekeeping refreshes the gauges and prunes old rows now and then.
func (s *scheduler) housekeeping(ctx context.Context, now time.Time) {
	q := s.q
	_, _ = q.Stats(ctx) // counted and retried next time on failure
	if q.opts.Retention < 0 || now.Sub(s.pruned) < pruneEvery {
		return
	}
	s.pruned = now
	n, err := q.st.Prune(ctx, now.Add(-q.opts.Retention))
	if err != nil {
		q.m.storeErrors.WithLabelValues(opPrune).Inc()
		q.log.Warn("pruning delivered notifications failed", slog.Any("err", err))
		return
	}
	if n > 0 {
		q.log.Debug("pruned delivered and superseded notifications", slog.Int("notifications", n))
	}
}

// Reasons of outcomes decided before any send.
const (
	reasonSkipped mind.Reason = "skipped"
	reasonPrepare mind.Reason = "prepare"
	reasonMaxAge  mind.Reason = "max_age"
)

// prepare builds n's request with the Renderer.
func (q *Queue) prepare(ctx context.Context, n store.Notification) (mind.Request, error) {
	if q.opts.Renderer == nil {
		return mind.Request{}, errors.New("the notification has no body and the queue cannot render one")
	}
	req, err := q.opts.Renderer.Render(ctx, n)
	if err != nil {
		return mind.Request{}, err
	}
	if len(req.Body) == 0 || req.Endpoint == "" {
		return mind.Request{}, errors.New("prepared request has no endpoint or body")
	}
	// The request id is the row's, whatever was prepared: a resend must be
	// recognised by Mind as the same message.
	req.RequestID = n.Request.RequestID
	return req, nil
}

// SkippedMarker is the superseded_by of a notification its Renderer
// skipped (the ack loop had sent it already, or the group moved on).
const SkippedMarker = "(skipped)"

// deliver makes one attempt at n, when the rate limit allows, and says
// what became of it.
func (q *Queue) deliver(ctx context.Context, n store.Notification) (r result) {
	r = result{n: n}
	defer func() {
		// A sender that panics on some request would do so again: that
		// request is dead-lettered, the relay lives on.
		if p := recover(); p != nil {
			err := fmt.Errorf("sender panicked: %v", p)
			q.log.Error("sender panicked", slog.String("id", n.ID), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			r = result{n: n, err: err, reason: "panic", outcome: store.Outcome{
				ID: n.ID, State: store.StateDead, At: q.opts.Now(), Attempts: n.Attempts + 1, Error: err.Error(),
			}}
		}
	}()
	now := q.opts.Now()
	deadline := n.QueuedAt.Add(q.opts.MaxAge)
	expired := func(now time.Time) result {
		msg := fmt.Sprintf("not delivered within max_age %s (%d attempts)", q.opts.MaxAge, n.Attempts)
		if n.LastError != "" {
			msg += "; last error: " + n.LastError
		}
		r.outcome = store.Outcome{ID: n.ID, State: store.StateDead, At: now, Attempts: n.Attempts, Error: msg}
		r.reason = reasonMaxAge
		return r
	}
	if !now.Before(deadline) {
		return expired(now)
	}
	handBack := func(err error) result {
		// Not sent, or cut off by the stop: no attempt counted, due
		// again at once, same request id.
		r.err = err
		r.outcome = store.Outcome{ID: n.ID, State: store.StatePending, At: q.opts.Now(), Attempts: n.Attempts,
			NextAttemptAt: q.opts.Now(), Error: n.LastError}
		return r
	}
	if err := q.limiter.Wait(ctx); err != nil {
		return handBack(err)
	}
	// The wait may have outlasted max_age (a pause, a slow rate): no card
	// leaves after its max_age.
	if now := q.opts.Now(); !now.Before(deadline) {
		return expired(now)
	}
	// Rendered as late as possible: after the rate limit's wait, so that
	// the card shows the state of things when it leaves.
	if len(n.Request.Body) == 0 {
		req, err := q.prepare(ctx, n)
		switch {
		case errors.Is(err, ErrSkip):
			r.err, r.reason = err, reasonSkipped
			// superseded_by names rows elsewhere; a skip has no row to
			// name, so it gets a marker and its reason goes in last_error.
			r.outcome = store.Outcome{ID: n.ID, State: store.StateSuperseded, At: q.opts.Now(), Attempts: n.Attempts,
				Error: err.Error(), SupersededBy: SkippedMarker}
			return r
		case err != nil:
			err = fmt.Errorf("prepare the request: %w", err)
			r.err, r.reason = err, reasonPrepare
			r.outcome = store.Outcome{ID: n.ID, State: store.StateDead, At: q.opts.Now(), Attempts: n.Attempts + 1,
				Error: err.Error()}
			return r
		}
		n.Request = req
	}
	box := q.sender.Load() // never nil once Run runs
	err := box.Send(ctx, n.Request)
	now = q.opts.Now()
	if err == nil {
		q.resume("a send succeeded")
		q.limiter.Succeeded()
		r.outcome = store.Outcome{ID: n.ID, State: store.StateDelivered, At: now, Attempts: n.Attempts + 1}
		return r
	}
	if ctx.Err() != nil {
		return handBack(fmt.Errorf("interrupted by stop: %w", err))
	}
	retry, after, reason := mind.Classify(err)
	r.err, r.reason = err, reason
	if reason, ok := mind.SetupFault(err); ok {
		// The relay's setup is at fault, not n: hold every notification
		// (n back to pending, no attempt counted) until it is fixed.
		q.pauseFor(reason, err)
		r.outcome = store.Outcome{ID: n.ID, State: store.StatePending, At: now, Attempts: n.Attempts,
			NextAttemptAt: now, Error: err.Error()}
		return r
	}
	if reason == mind.ReasonRateLimited {
		q.limiter.Throttled(after)
	}
	attempts := n.Attempts + 1
	if !retry {
		r.outcome = store.Outcome{ID: n.ID, State: store.StateDead, At: now, Attempts: attempts, Error: err.Error()}
		return r
	}
	// Retry-After is a floor even above max_backoff (mind.Backoff caps it
	// for its synchronous loop; the queue can afford to wait as asked,
	// and max_age still bounds the whole).
	next := now.Add(max(q.backoff.Next(attempts, 0), after))
	if next.After(deadline) {
		next = deadline // dead-lettered then, not later
	}
	r.outcome = store.Outcome{ID: n.ID, State: store.StatePending, At: now, Attempts: attempts,
		NextAttemptAt: next, Error: err.Error()}
	return r
}
