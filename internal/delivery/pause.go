package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind"
)

// Pausing on a fault of the relay's own setup.
//
// When Mind refuses the app credentials (a bad secret rotation) or
// base_url answers with something that is not Mind (a proxy's 2xx HTML
// maintenance page), no notification can get through, whatever it says:
// dead-lettering each one in turn would empty the queue into the dead
// letters. The queue pauses instead: the notification that met the fault
// goes back to pending, unchanged but for its last error (no attempt
// counted), nothing else is sent, readiness (Ready) fails with the reason
// and mind_relay_delivery_paused{reason} is 1. It resumes on a reload
// (SetSender) or when a probe succeeds: every ProbeInterval, while nothing
// is in flight, the oldest due notification is sent alone. A probe that
// finds the queue empty resumes too, since there is nothing to hold, and
// a readiness kept red would keep new webhooks away for good; the next
// send pauses again if the fault remains. max_age still applies: a
// notification held past it is dead-lettered for its age when it is next
// claimed.

// DefaultProbeInterval is Options.ProbeInterval's default.
const DefaultProbeInterval = 30 * time.Second

// ErrPaused is wrapped by Ready's and Paused's error while delivery is
// paused.
var ErrPaused = errors.New("delivery to Mind is paused")

// pausedReasons are the values of the reason label of
// mind_relay_delivery_paused.
var pausedReasons = []mind.Reason{mind.ReasonAuth, mind.ReasonBadResponse}

type pauseState struct {
	mu      sync.Mutex
	reason  mind.Reason // "" when not paused
	cause   string      // the fault's text (no secret: mind.Error redacts)
	since   time.Time
	probeAt time.Time // the next probe, no earlier
}

// pauseFor pauses delivery (or keeps it paused) because a send met a
// fault of the setup, and pushes the next probe a ProbeInterval away.
func (q *Queue) pauseFor(reason mind.Reason, err error) {
	now := q.opts.Now()
	p := &q.pause
	p.mu.Lock()
	was := p.reason
	if was == "" {
		p.since = now
	}
	p.reason, p.cause = reason, err.Error()
	p.probeAt = now.Add(q.opts.ProbeInterval)
	p.mu.Unlock()
	if was == reason {
		return
	}
	for _, r := range pausedReasons {
		v := 0.0
		if r == reason {
			v = 1
		}
		q.m.paused.WithLabelValues(string(r)).Set(v)
	}
	q.log.Error("delivery to Mind paused: "+setupAdvice(reason)+"; notifications are kept and sent once it resumes (on reload, or when a probe succeeds)",
		slog.String("reason", string(reason)), slog.Duration("probe_interval", q.opts.ProbeInterval), slog.Any("err", err))
}

// resume lifts a pause, if any, and wakes the scheduler.
func (q *Queue) resume(why string) {
	p := &q.pause
	p.mu.Lock()
	reason, since := p.reason, p.since
	p.reason, p.cause, p.since, p.probeAt = "", "", time.Time{}, time.Time{}
	p.mu.Unlock()
	if reason == "" {
		return
	}
	for _, r := range pausedReasons {
		q.m.paused.WithLabelValues(string(r)).Set(0)
	}
	q.log.Info("delivery to Mind resumed", slog.String("why", why), slog.String("reason", string(reason)),
		slog.Duration("paused_for", q.opts.Now().Sub(since)))
	q.poke()
}

// probeDue reports whether delivery is paused and, if so, whether a probe
// may go now (it then books the next one) and when the next one is due.
func (q *Queue) probeDue(now time.Time) (paused, probe bool, next time.Time) {
	p := &q.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason == "" {
		return false, false, time.Time{}
	}
	if now.Before(p.probeAt) {
		return true, false, p.probeAt
	}
	p.probeAt = now.Add(q.opts.ProbeInterval)
	return true, true, p.probeAt
}

// probeSoon lets the next probe go at once: the last one sent nothing
// (its notification was skipped or expired), so it tested nothing.
func (q *Queue) probeSoon() { q.probeBy(time.Time{}) }

// probeBy brings the next probe forward to t, if it is later.
func (q *Queue) probeBy(t time.Time) {
	p := &q.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason != "" && t.Before(p.probeAt) {
		p.probeAt = t
	}
}

// Paused returns nil unless delivery is paused on a fault of the setup;
// then an error wrapping ErrPaused that says why and what to do.
func (q *Queue) Paused() error {
	p := &q.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason == "" {
		return nil
	}
	return fmt.Errorf("%w since %s (%s): %s; last error: %s", ErrPaused, p.since.UTC().Format(time.RFC3339),
		p.reason, setupAdvice(p.reason), p.cause)
}

// Ready is the readiness check: it fails while delivery is paused on a
// fault of the setup, and unless the store can durably write now (through
// CheckWritable, so that its failures are counted).
func (q *Queue) Ready(ctx context.Context) error {
	if err := q.Paused(); err != nil {
		return err
	}
	if err := q.CheckWritable(ctx); err != nil {
		return fmt.Errorf("store is not writable: %w", err)
	}
	return nil
}

func setupAdvice(reason mind.Reason) string {
	if reason == mind.ReasonAuth {
		return "Mind refuses the app credentials (check mind.app_id and mind.app_secret, then reload)"
	}
	return "mind.base_url answers with something that is not Mind's API (a proxy's maintenance or login page?)"
}
