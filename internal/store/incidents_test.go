package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/incident"
)

// card is a group card of group g showing alerts.
func card(id, g string, at time.Time, alerts ...incident.AlertRef) Notification {
	n := note(id, g)
	n.Kind, n.Alerts, n.CreatedAt = KindGroup, alerts, at
	n.Group = []byte(`{"v":1}`)
	return n
}

var (
	fa  = incident.AlertRef{Fingerprint: "a", StartsAt: t0, Firing: true}
	faR = incident.AlertRef{Fingerprint: "a", StartsAt: t0}
)

// Enqueue observes each group card with its group's incident in the same
// commit: it opens one, records the card (its alerts come back with the
// row), resolves it, and opens the next occurrence; the timeline says so.
func TestEnqueueObservesIncidents(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, card("n1", "g", t0, fa))
	id1 := incident.ID("g", 1)
	inc, err := s.Incident(ctx, id1)
	require.NoError(t, err)
	require.Equal(t, incident.Firing, inc.State)
	require.Equal(t, "n1", inc.LastCard)
	n, err := s.Get(ctx, "n1")
	require.NoError(t, err)
	require.Equal(t, id1, n.IncidentID)
	require.Equal(t, []incident.AlertRef{fa}, n.Alerts)
	require.Equal(t, KindGroup, n.Kind)

	enqueue(t, s, card("n2", "g", t0.Add(time.Minute), faR))
	inc, err = s.Incident(ctx, id1)
	require.NoError(t, err)
	require.Equal(t, incident.Resolved, inc.State)

	again := incident.AlertRef{Fingerprint: "a", StartsAt: t0.Add(time.Hour), Firing: true}
	enqueue(t, s, card("n3", "g", t0.Add(time.Hour), again))
	inc2, err := s.Incident(ctx, incident.ID("g", 2))
	require.NoError(t, err, "a new firing is a new occurrence")
	require.Equal(t, 2, inc2.Occurrence)
	tl, err := s.Timeline(ctx, id1)
	require.NoError(t, err)
	var kinds []string
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []string{incident.EventOpened, incident.EventResolved}, kinds)

	// Cards that are not group cards, or carry no alerts, are not observed.
	plain := note("n4", "other")
	enqueue(t, s, plain)
	_, err = s.Incident(ctx, incident.ID("other", 1))
	require.ErrorIs(t, err, ErrNoIncident)
}

// UpdateIncident commits the change and the cards it asks for together,
// or neither; concurrent updates of one incident are serialised.
func TestUpdateIncidentIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, card("n1", "g", t0, fa))
	id := incident.ID("g", 1)
	confirm := note("c1", "g/ack")
	confirm.Kind = KindAckConfirm
	ack := func(cur incident.Incident) (IncidentUpdate, error) {
		c := incident.Acknowledge(&cur, []incident.AlertRef{fa}, incident.Who{Name: "A"}, t0, nil, false)
		return IncidentUpdate{Change: c, Enqueue: []Notification{confirm}}, nil
	}
	boom := errors.New("boom")
	_, _, err := s.UpdateIncident(ctx, id, func(cur incident.Incident) (IncidentUpdate, error) {
		up, _ := ack(cur)
		up.Enqueue = append(up.Enqueue, Notification{ID: "bad"}) // invalid: the whole transaction fails
		return up, boom
	})
	require.ErrorIs(t, err, boom)
	inc, err := s.Incident(ctx, id)
	require.NoError(t, err)
	require.Equal(t, incident.Firing, inc.State)
	_, err = s.Get(ctx, "c1")
	require.ErrorIs(t, err, ErrNotFound)

	after, ch, err := s.UpdateIncident(ctx, id, ack)
	require.NoError(t, err)
	require.Equal(t, incident.Acked, after.State)
	require.Equal(t, 1, ch.Count)
	c, err := s.Get(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, id, c.IncidentID, "queued for the incident")
	require.Equal(t, KindAckConfirm, c.Kind)

	// Versions count changes, one at a time, whoever writes.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.UpdateIncident(ctx, id, func(cur incident.Incident) (IncidentUpdate, error) {
				return IncidentUpdate{Change: incident.Change{Next: cur.Clone()}}, nil
			})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	inc, err = s.Incident(ctx, id)
	require.NoError(t, err)
	require.Equal(t, after.Version+8, inc.Version)
	_, _, err = s.UpdateIncident(ctx, "nope", ack)
	require.ErrorIs(t, err, ErrNoIncident)
}

// Escalation's question is one query: incidents firing and unacknowledged
// since before a time.
func TestIncidentsQuery(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, card("old", "g1", t0, fa), card("new", "g2", t0.Add(30*time.Minute), fa), card("acked", "g3", t0, fa))
	_, _, err := s.UpdateIncident(ctx, incident.ID("g3", 1), func(cur incident.Incident) (IncidentUpdate, error) {
		return IncidentUpdate{Change: incident.Acknowledge(&cur, []incident.AlertRef{fa}, incident.Who{Name: "A"}, t0.Add(time.Minute), nil, false)}, nil
	})
	require.NoError(t, err)
	got, err := s.Incidents(ctx, IncidentQuery{States: []incident.State{incident.Firing}, InStateBefore: t0.Add(10 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "g1", got[0].GroupID)
	all, err := s.Incidents(ctx, IncidentQuery{})
	require.NoError(t, err)
	require.Len(t, all, 3)
}

// A list of incidents pages by keyset: every incident once, in order,
// even when several changed at the same instant (one webhook opens an
// incident per receiver); Receiver selects one receiver's.
func TestIncidentsPageByCursor(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	var ns []Notification
	for i := range 7 {
		n := card(fmt.Sprintf("n%d", i), fmt.Sprintf("g%d", i), t0.Add(time.Duration(i/3)*time.Minute), fa)
		if i%2 == 1 {
			n.Receiver = "other"
		}
		ns = append(ns, n)
	}
	enqueue(t, s, ns...)
	all, err := s.Incidents(ctx, IncidentQuery{})
	require.NoError(t, err)
	require.Len(t, all, 7)

	for _, tt := range []struct {
		receiver string
		want     int
	}{{"", 7}, {"r", 4}, {"other", 3}, {"nobody", 0}} {
		var (
			got   []string
			after IncidentCursor
		)
		for range 10 {
			page, err := s.Incidents(ctx, IncidentQuery{Receiver: tt.receiver, After: after, Limit: 2})
			require.NoError(t, err)
			for _, inc := range page {
				if tt.receiver != "" {
					require.Equal(t, tt.receiver, inc.Receiver)
				}
				got = append(got, inc.ID)
			}
			if len(page) < 2 {
				break
			}
			after = CursorOf(page[len(page)-1])
		}
		var want []string
		for _, inc := range all {
			if tt.receiver == "" || inc.Receiver == tt.receiver {
				want = append(want, inc.ID)
			}
		}
		require.Len(t, want, tt.want)
		require.Equal(t, want, got, "receiver %q: each once, in the order of the whole list", tt.receiver)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		require.True(t, a.UpdatedAt.After(b.UpdatedAt) || a.UpdatedAt.Equal(b.UpdatedAt) && a.ID > b.ID, "last updated first, then by id")
	}
}

// Schema 3 databases keep their queued rows; ack-state cards get their
// kind as a column.
func TestUpgradeFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	old, err := openSQLite(ctx, Options{Path: path}, migrations[:3])
	require.NoError(t, err)
	for _, r := range [][2]string{{"card-1", "g"}, {"confirm-1", "g/ack"}} {
		status := "firing"
		if r[1] == "g/ack" {
			status = "ack-confirm"
		}
		_, err = old.db.ExecContext(ctx, `INSERT INTO notifications
			(id, group_id, receiver, source, status, endpoint, request_id, body, state,
			 created_at, queued_at, attempts, next_attempt_at, updated_at, group_data)
			VALUES (?, ?, 'r', 'alertmanager', ?, '/open-platform/api/robot/send/message', ?, '', 'pending', ?, ?, 0, 0, ?, '{"v":1}')`,
			r[0], r[1], status, r[0], nanos(t0), nanos(t0), nanos(t0))
		require.NoError(t, err)
	}
	require.NoError(t, old.Close())
	s := openTest(t, path)
	n, err := s.Get(ctx, "card-1")
	require.NoError(t, err)
	require.Equal(t, KindGroup, n.Kind)
	n, err = s.Get(ctx, "confirm-1")
	require.NoError(t, err)
	require.Equal(t, KindAckConfirm, n.Kind)
}

// Pruning keeps what open incidents read: the latest card of an open or
// silenced incident stays however old, and so does each group's latest
// incident; resolved incidents before that go with their timelines.
func TestPruneKeepsWhatIncidentsRead(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, card("open", "g1", t0, fa), card("r1", "g2", t0, fa))
	enqueue(t, s, card("r2", "g2", t0.Add(time.Minute), faR))
	again := incident.AlertRef{Fingerprint: "a", StartsAt: t0.Add(time.Hour), Firing: true}
	enqueue(t, s, card("r3", "g2", t0.Add(time.Hour), again))
	enqueue(t, s, card("r4", "g2", t0.Add(2*time.Hour), incident.AlertRef{Fingerprint: "a", StartsAt: t0.Add(time.Hour)}))
	var outs []Outcome
	for _, id := range claimIDs(t, s, 10) {
		outs = append(outs, delivered(id))
	}
	complete(t, s, outs...)
	future := time.Now().Add(time.Hour)
	_, err := s.Prune(ctx, future)
	require.NoError(t, err)
	_, err = s.Get(ctx, "open")
	require.NoError(t, err, "the open incident's latest card stays")

	n, err := s.PruneIncidents(ctx, future)
	require.NoError(t, err)
	require.Equal(t, 1, n, "g2's first occurrence")
	_, err = s.Incident(ctx, incident.ID("g2", 1))
	require.ErrorIs(t, err, ErrNoIncident)
	tl, err := s.Timeline(ctx, incident.ID("g2", 1))
	require.NoError(t, err)
	require.Empty(t, tl)
	_, err = s.Incident(ctx, incident.ID("g2", 2))
	require.NoError(t, err, "each group's latest incident stays: occurrences keep counting")
	_, err = s.Incident(ctx, incident.ID("g1", 1))
	require.NoError(t, err, "open incidents stay")
}
