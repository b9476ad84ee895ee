package incident

import "time"

// ResolveGrace is how long acknowledged alerts must stay missing from a
// source that restarted since it last listed them before they count as
// resolved. Alertmanager keeps alerts in memory only: after a restart (or
// from an HA peer not yet in sync) it lists nothing until Prometheus sends
// its alerts again, which it does every minute (resend_delay) by default.
const ResolveGrace = 5 * time.Minute

// MinMisses is how many polls in a row must miss the alerts, whatever the
// other evidence: one odd answer is no resolution.
const MinMisses = 2

// Sighting is one poll of the source for the acknowledged alerts.
type Sighting struct {
	At time.Time
	// Listed: the source lists at least one of the acknowledged alerts.
	Listed bool
	// EndsAt is the latest endsAt the source gave for them (Listed).
	EndsAt time.Time
	// SourceStart is when the source last started (its uptime, from
	// /api/v2/status); zero when it did not say.
	SourceStart time.Time
}

// Poll applies a sighting to an acknowledged incident and reports whether
// the evidence now says its alerts resolved. Missing alerts count as
// resolved only after MinMisses polls in a row and one of:
//   - the endsAt the source last gave them has passed (it let them end);
//   - the source has run without a restart since it last listed them, so
//     it would list them if they still fired;
//   - the source said nothing of its uptime, and they stayed missing for
//     ResolveGrace, long enough for any sender to have sent them again;
//   - it restarted, and has been up for ResolveGrace since.
func Poll(cur *Incident, s Sighting, grace time.Duration) (Change, bool) {
	next := cur.Clone()
	ch := Change{Next: next}
	if s.Listed {
		next.LastSeenAt, next.Misses, next.FirstMissAt = s.At, 0, time.Time{}
		if !s.EndsAt.IsZero() {
			next.LastEndsAt = s.EndsAt
		}
		return ch, false
	}
	next.Misses++
	if next.FirstMissAt.IsZero() {
		next.FirstMissAt = s.At
	}
	if next.Misses < MinMisses {
		return ch, false
	}
	switch {
	case !next.LastEndsAt.IsZero() && next.LastEndsAt.Before(s.At):
		return ch, true
	case !s.SourceStart.IsZero() && s.SourceStart.Before(next.LastSeenAt):
		return ch, true
	case s.SourceStart.IsZero():
		return ch, s.At.Sub(next.FirstMissAt) >= grace
	default:
		return ch, s.At.Sub(s.SourceStart) >= grace && s.At.Sub(next.FirstMissAt) >= grace
	}
}

// ResolveByRelay resolves an acknowledged incident whose silenced alerts
// the evidence says resolved: the relay sends the resolved card the
// silence kept the source from sending.
func ResolveByRelay(cur *Incident, at time.Time) Change {
	if cur.State != Acked {
		return Change{Next: cur}
	}
	next := cur.Clone()
	for i := range next.Alerts {
		next.Alerts[i].Firing = false
	}
	next.State, next.ResolvedAt, next.ResolvedBy, next.UpdatedAt = Resolved, at, ByRelay, at
	next.expireSilences()
	return Change{Next: next, Cards: []Card{CardResolved},
		Events: []Event{{At: at, Kind: EventResolved, By: ByRelay, Detail: "missing at the source"}}}
}
