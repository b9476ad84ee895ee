package incident

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

func ref(fp string, startMin int, sev int, firing bool) AlertRef {
	return AlertRef{Fingerprint: fp, StartsAt: t0.Add(time.Duration(startMin) * time.Minute), Severity: sev, Firing: firing}
}

var (
	a  = ref("a", 0, 1, true)
	b  = ref("b", 0, 1, true)
	c  = ref("c", 1, 1, true)
	aR = ref("a", 0, 1, false) // a, resolved
	bR = ref("b", 0, 1, false)
	a2 = ref("a", 30, 1, true) // a firing again: another alert
	aC = ref("a", 0, 3, true)  // a at a higher severity
	aL = ref("a", 0, 0, true)  // a at a lower severity
)

func obs(id string, as ...AlertRef) Observation {
	return Observation{GroupID: "g", Receiver: "r", Source: "alertmanager", NotificationID: id, Alerts: as, At: t0.Add(time.Hour)}
}

func firingInc(as ...AlertRef) *Incident {
	return &Incident{ID: ID("g", 1), GroupID: "g", Receiver: "r", Occurrence: 1, State: Firing, Alerts: as, LastCard: "n1", OpenedAt: t0}
}

func ackedInc(acked []AlertRef, as ...AlertRef) *Incident {
	inc := firingInc(as...)
	inc.Ack = &Ack{By: "Alice", Via: ViaCard, At: t0, Alerts: acked}
	inc.derive(t0)
	return inc
}

func resolvedInc(by string, as ...AlertRef) *Incident {
	inc := ackedInc([]AlertRef{a, b}, as...)
	inc.State, inc.ResolvedBy = Resolved, by
	return inc
}

// Every transition of the state machine, from every state.
func TestTransitions(t *testing.T) {
	who := Who{Name: "Bob", Via: ViaChat}
	for _, tc := range []struct {
		name   string
		apply  func() Change
		state  State // after; "" means no incident
		result string
		cards  []Card
		skip   bool
		occ    int
		event  string
	}{
		// Observe: a card of the group is queued.
		{"nothing → firing: opened", func() Change { return Observe(nil, obs("n1", a, b)) }, Firing, "", nil, false, 1, EventOpened},
		{"nothing, resolved card: no incident", func() Change { return Observe(nil, obs("n1", aR)) }, "", "", nil, false, 0, ""},
		{"firing, same alerts: firing", func() Change { return Observe(firingInc(a, b), obs("n2", a, b)) }, Firing, "", nil, false, 1, EventCard},
		{"firing, all resolved: resolved by the source", func() Change { return Observe(firingInc(a, b), obs("n2", aR, bR)) }, Resolved, "", nil, false, 1, EventResolved},
		{"acked, same alerts: acked", func() Change { return Observe(ackedInc([]AlertRef{a, b}, a, b), obs("n2", a, b)) }, Acked, "", nil, false, 1, EventCard},
		{"acked, one resolved: acked", func() Change { return Observe(ackedInc([]AlertRef{a, b}, a, b), obs("n2", aR, b)) }, Acked, "", nil, false, 1, EventCard},
		{"acked, lower severity: acked", func() Change { return Observe(ackedInc([]AlertRef{a}, a), obs("n2", aL)) }, Acked, "", nil, false, 1, EventCard},
		{"acked, a new alert: firing", func() Change { return Observe(ackedInc([]AlertRef{a, b}, a, b), obs("n2", a, b, c)) }, Firing, "", nil, false, 1, EventReopened},
		{"acked, higher severity: firing", func() Change { return Observe(ackedInc([]AlertRef{a}, a), obs("n2", aC)) }, Firing, "", nil, false, 1, EventReopened},
		{"acked, an alert fires again (new startsAt): firing", func() Change { return Observe(ackedInc([]AlertRef{a, b}, aR, b), obs("n2", a2, b)) }, Firing, "", nil, false, 1, EventReopened},
		{"acked, all resolved: resolved", func() Change { return Observe(ackedInc([]AlertRef{a, b}, a, b), obs("n2", aR, bR)) }, Resolved, "", nil, false, 1, EventResolved},
		{"partly acked firing, the other resolves: acked", func() Change { return Observe(ackedInc([]AlertRef{a}, a, c), obs("n2", a, ref("c", 1, 1, false))) }, Acked, "", nil, false, 1, EventCard},
		{"resolved, fires again: a new occurrence", func() Change { return Observe(resolvedInc(BySource, aR, bR), obs("n3", a2)) }, Firing, "", nil, false, 2, EventOpened},
		{"resolved by the relay, the source's resolution: skipped", func() Change { return Observe(resolvedInc(ByRelay, aR, bR), obs("n3", aR, bR)) }, Resolved, "", nil, true, 1, ""},
		{"resolved by the relay, a resolution of another occurrence: sent", func() Change {
			return Observe(resolvedInc(ByRelay, aR, bR), obs("n3", ref("a", 30, 1, false)))
		}, Resolved, "", nil, false, 1, EventCard},
		{"resolved by the source, a repeat: sent", func() Change { return Observe(resolvedInc(BySource, aR, bR), obs("n3", aR, bR)) }, Resolved, "", nil, false, 1, EventCard},

		// Acknowledge: a click acks what its card showed.
		{"firing, ack all: acked, confirmation", func() Change { return Acknowledge(firingInc(a, b), []AlertRef{a, b}, who, t0, nil, false) }, Acked, ResultAcked, []Card{CardConfirm}, false, 1, EventAcked},
		{"firing, ack of an older card: partly, stays firing, no confirmation", func() Change {
			return Acknowledge(firingInc(a, b, c), []AlertRef{a, b}, who, t0, nil, false)
		}, Firing, ResultAcked, nil, false, 1, EventAcked},
		{"acked, ack again: already", func() Change { return Acknowledge(ackedInc([]AlertRef{a}, a), []AlertRef{a}, who, t0, nil, false) }, Acked, ResultAlreadyAcked, nil, false, 1, ""},
		{"acked, silence command: already, new silence wanted, confirmation once made", func() Change {
			return Acknowledge(ackedInc([]AlertRef{a}, a), []AlertRef{a}, who, t0, &SilenceAsk{Kind: "alertmanager", Root: "http://am", For: time.Hour}, true)
		}, Acked, ResultAlreadyAcked, nil, false, 1, EventAcked},
		{"ack with a silence refused: acked, confirmation saying so", func() Change {
			return Acknowledge(firingInc(a), []AlertRef{a}, who, t0, &SilenceAsk{Kind: "alertmanager", For: time.Hour, Refused: "no"}, false)
		}, Acked, ResultAcked, []Card{CardConfirm}, false, 1, EventAcked},
		{"silence made for the ack in force: confirmation", func() Change {
			return Silenced(Acknowledge(firingInc(a), []AlertRef{a}, who, t0, &SilenceAsk{Kind: "alertmanager", Root: "http://am", For: time.Hour}, false).Next,
				[]Silence{{ID: "s1"}}, "", t0)
		}, Acked, "", []Card{CardConfirm}, false, 1, EventSilenced},
		{"silence failed for the ack in force: confirmation", func() Change {
			return SilenceFailed(Acknowledge(firingInc(a), []AlertRef{a}, who, t0, &SilenceAsk{Kind: "alertmanager", Root: "http://am", For: time.Hour}, false).Next, "HTTP 500", t0)
		}, Acked, "", []Card{CardConfirm}, false, 1, EventSilenceFailed},
		{"silence made after an unack: no confirmation", func() Change {
			acked := Acknowledge(firingInc(a), []AlertRef{a}, who, t0, &SilenceAsk{Kind: "alertmanager", Root: "http://am", For: time.Hour}, false).Next
			return Silenced(Unacknowledge(acked, who, t0).Next, []Silence{{ID: "s1"}}, "", t0)
		}, Firing, "", nil, false, 1, EventSilenced},
		{"reopened by a new alert, ack the new card: acked", func() Change {
			return Acknowledge(ackedInc([]AlertRef{a}, a, c), []AlertRef{a, c}, who, t0, nil, false)
		}, Acked, ResultAcked, []Card{CardConfirm}, false, 1, EventAcked},
		{"firing, a card of resolved alerts: resolved", func() Change { return Acknowledge(firingInc(a), []AlertRef{aR}, who, t0, nil, false) }, Firing, ResultResolved, nil, false, 1, ""},
		{"firing, a card of an earlier occurrence of the alert: resolved", func() Change {
			return Acknowledge(firingInc(a2), []AlertRef{a}, who, t0, nil, false)
		}, Firing, ResultResolved, nil, false, 1, ""},
		{"resolved, ack: resolved", func() Change { return Acknowledge(resolvedInc(BySource, aR), []AlertRef{a}, who, t0, nil, false) }, Resolved, ResultResolved, nil, false, 1, ""},

		// Unacknowledge.
		{"acked, unack: firing, repage", func() Change { return Unacknowledge(ackedInc([]AlertRef{a}, a), who, t0) }, Firing, ResultUnacked, []Card{CardRepage}, false, 1, EventUnacked},
		{"firing, unack: not acked", func() Change { return Unacknowledge(firingInc(a), who, t0) }, Firing, ResultNotAcked, nil, false, 1, ""},
		{"resolved, unack: not acked", func() Change { return Unacknowledge(resolvedInc(BySource, aR), who, t0) }, Resolved, ResultNotAcked, nil, false, 1, ""},

		// The relay's own resolution (silenced alerts gone at the source).
		{"acked, resolved by the relay: resolved card", func() Change { return ResolveByRelay(ackedInc([]AlertRef{a}, a), t0) }, Resolved, "", []Card{CardResolved}, false, 1, EventResolved},
		{"firing, resolve by the relay: nothing", func() Change { return ResolveByRelay(firingInc(a), t0) }, Firing, "", nil, false, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.apply()
			require.Equal(t, tc.skip, ch.Skip)
			require.Equal(t, tc.result, ch.Result)
			require.Equal(t, tc.cards, ch.Cards)
			if tc.state == "" {
				require.Nil(t, ch.Next)
				return
			}
			require.NotNil(t, ch.Next)
			require.Equal(t, tc.state, ch.Next.State)
			require.Equal(t, tc.occ, ch.Next.Occurrence)
			require.Equal(t, ID("g", tc.occ), ch.Next.ID, "the id is derived from the group and the occurrence")
			if tc.event == "" {
				require.Empty(t, ch.Events)
			} else {
				require.NotEmpty(t, ch.Events)
				require.Equal(t, tc.event, ch.Events[0].Kind)
			}
		})
	}
}

// A silence leaves with its ack: expired when the ack ends (unack, a new
// alert, a resolution), and a silence made for an ack already over is
// recorded to be expired, never forgotten.
func TestSilencesFollowTheAck(t *testing.T) {
	ask := &SilenceAsk{Kind: "alertmanager", Root: "http://am", For: time.Hour}
	ch := Acknowledge(firingInc(a), []AlertRef{a}, Who{Name: "A"}, t0, ask, false)
	inc := ch.Next
	require.True(t, inc.Silence.Wanted)
	inc = Silenced(inc, []Silence{{ID: "s1", EndsAt: t0.Add(5 * time.Minute)}}, "http://am/#/silences/s1", t0).Next
	require.False(t, inc.Silence.Wanted)
	require.Len(t, inc.Silence.Live(), 1)

	for name, end := range map[string]func(*Incident) *Incident{
		"unack":      func(i *Incident) *Incident { return Unacknowledge(i, Who{}, t0).Next },
		"new alert":  func(i *Incident) *Incident { return Observe(i, obs("n2", a, c)).Next },
		"resolution": func(i *Incident) *Incident { return Observe(i, obs("n2", aR)).Next },
		"relay":      func(i *Incident) *Incident { return ResolveByRelay(i, t0).Next },
	} {
		next := end(inc.Clone())
		require.Empty(t, next.Silence.Live(), name)
		require.Len(t, next.Silence.ToExpire(), 1, name)
		require.Len(t, SilencesDone(next, []string{"s1"}, t0).Next.Silence.ToExpire(), 0, name)
	}

	// Withdrawn while the silence was being made.
	gone := Unacknowledge(Acknowledge(firingInc(a), []AlertRef{a}, Who{}, t0, ask, false).Next, Who{}, t0).Next
	gone = Silenced(gone, []Silence{{ID: "s2"}}, "", t0).Next
	require.Equal(t, []Silence{{ID: "s2", Expire: true}}, gone.Silence.ToExpire())

	// A refused silence (no URL the relay may call) is said, not wanted.
	refused := Acknowledge(firingInc(a), []AlertRef{a}, Who{}, t0, &SilenceAsk{Kind: "alertmanager", For: time.Hour, Refused: "not allowed"}, false).Next
	require.False(t, refused.Silence.Wanted)
	require.Equal(t, "not allowed", refused.Silence.Error)
}

// Resolution needs evidence: a source that restarted since it last listed
// the alerts (Alertmanager keeps them in memory) proves nothing until it
// has been up for the grace period.
func TestPollEvidence(t *testing.T) {
	seen := t0.Add(10 * time.Minute) // the source last listed them
	at := func(min int) time.Time { return seen.Add(time.Duration(min) * time.Minute) }
	for _, tc := range []struct {
		name     string
		misses   int // before this poll
		endsAt   time.Time
		sighting Sighting
		resolved bool
	}{
		{"listed", 0, time.Time{}, Sighting{At: at(1), Listed: true}, false},
		{"one miss, source up all along", 0, time.Time{}, Sighting{At: at(1), SourceStart: t0}, false},
		{"two misses, source up all along", 1, time.Time{}, Sighting{At: at(2), SourceStart: t0}, true},
		{"two misses, source restarted since", 1, time.Time{}, Sighting{At: at(2), SourceStart: at(1)}, false},
		{"restarted, up less than the grace", 5, time.Time{}, Sighting{At: at(4), SourceStart: at(1)}, false},
		{"restarted, up for the grace", 10, time.Time{}, Sighting{At: at(1 + 5 + 1), SourceStart: at(1)}, true},
		{"uptime unknown, missing briefly", 1, time.Time{}, Sighting{At: at(2)}, false},
		{"uptime unknown, missing for the grace", 10, time.Time{}, Sighting{At: at(7)}, true},
		{"restarted, but their endsAt passed", 1, at(1), Sighting{At: at(2), SourceStart: at(1)}, true},
		{"restarted, endsAt still ahead", 1, at(60), Sighting{At: at(2), SourceStart: at(1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := ackedInc([]AlertRef{a}, a)
			inc.LastSeenAt, inc.LastEndsAt, inc.Misses = seen, tc.endsAt, tc.misses
			if tc.misses > 0 {
				inc.FirstMissAt = at(1)
			}
			ch, resolved := Poll(inc, tc.sighting, ResolveGrace)
			require.Equal(t, tc.resolved, resolved)
			if tc.sighting.Listed {
				require.Zero(t, ch.Next.Misses)
				require.Equal(t, tc.sighting.At, ch.Next.LastSeenAt)
			} else {
				require.Equal(t, tc.misses+1, ch.Next.Misses)
			}
		})
	}
}

// Ids derive from what they are about: the same on every replica and at
// every retry, different for anything else.
func TestDerivedIDs(t *testing.T) {
	require.Equal(t, ID("g", 1), ID("g", 1))
	require.NotEqual(t, ID("g", 1), ID("g", 2))
	require.NotEqual(t, ID("g", 1), ID("h", 1))
	x := SideEffectID("inc", "ack-confirm", 3)
	require.Equal(t, x, SideEffectID("inc", "ack-confirm", 3))
	require.NotEqual(t, x, SideEffectID("inc", "ack-confirm", 4))
	require.NotEqual(t, x, SideEffectID("inc", "resolved", 3))
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, x)
}
