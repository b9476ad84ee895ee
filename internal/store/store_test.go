package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T, path string) *sqliteStore {
	t.Helper()
	s, err := openSQLite(context.Background(), Options{Path: path}, migrations)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTest(t *testing.T) *sqliteStore {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "relay.db"))
}

// note is a notification of stream (receiver "r", group), accepted at t0.
func note(id, group string) Notification {
	return Notification{
		ID: id, GroupID: group, Receiver: "r", Source: "alertmanager", Status: "firing",
		Request:   mind.Request{Endpoint: mind.EndpointRobotMessage, Body: json.RawMessage(`{"n":"` + id + `"}`)},
		CreatedAt: t0,
	}
}

func enqueue(t *testing.T, s Store, ns ...Notification) Changes {
	t.Helper()
	ch, err := s.Enqueue(context.Background(), ns)
	require.NoError(t, err)
	return ch
}

func claimIDs(t *testing.T, s Store, limit int) []string {
	t.Helper()
	ns, err := s.Claim(context.Background(), t0.Add(time.Hour), limit)
	require.NoError(t, err)
	ids := []string{}
	for _, n := range ns {
		require.Equal(t, StateSending, n.State)
		ids = append(ids, n.ID)
	}
	return ids
}

func complete(t *testing.T, s Store, os ...Outcome) Changes {
	t.Helper()
	ch, err := s.Complete(context.Background(), os)
	require.NoError(t, err)
	return ch
}

func state(t *testing.T, s Store, id string) Notification {
	t.Helper()
	n, err := s.Get(context.Background(), id)
	require.NoError(t, err)
	return n
}

func delivered(id string) Outcome {
	return Outcome{ID: id, State: StateDelivered, At: t0.Add(time.Minute), Attempts: 1}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "relay.db") // parents are created
	st, err := Open(ctx, Options{Path: path})
	require.NoError(t, err)
	s := st.(*sqliteStore)
	var mode string
	var sync int
	require.NoError(t, s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.NoError(t, s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, "wal", mode)
	require.Equal(t, 2, sync) // FULL
	require.NoError(t, st.Close())

	for _, tc := range []struct {
		opts Options
		err  string
	}{
		{Options{Driver: "postgres", DSN: "postgres://x"}, `store driver "postgres" is not yet supported; use "sqlite"`},
		{Options{Driver: "mysql"}, `unknown store driver "mysql" (want "sqlite")`},
		{Options{Driver: "sqlite"}, `sqlite store: path is empty`},
		{Options{Path: "/tmp/x?mode=ro"}, `sqlite store: path "/tmp/x?mode=ro" contains '?'`},
	} {
		_, err := Open(ctx, tc.opts)
		require.EqualError(t, err, tc.err)
	}
}

func versions(t *testing.T, s *sqliteStore) []int {
	t.Helper()
	rows, err := s.db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var vs []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(t, rows.Err())
	return vs
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")

	all := make([]int, len(migrations))
	for i := range all {
		all[i] = i + 1
	}
	last := len(migrations)

	s := openTest(t, path)
	enqueue(t, s, note("a", "g"))
	require.Equal(t, all, versions(t, s))
	require.NoError(t, s.Close())

	// Reopening applies nothing twice and keeps the data.
	s = openTest(t, path)
	require.Equal(t, all, versions(t, s))
	require.Equal(t, StatePending, state(t, s, "a").State)
	require.NoError(t, s.Close())

	// Appending a migration is all a schema change takes.
	next := append(append([]migration{}, migrations...), migration{
		version: len(migrations) + 1, name: "example",
		stmts: []string{`CREATE TABLE example (id TEXT PRIMARY KEY, notification_id TEXT NOT NULL)`},
	})
	for range 2 {
		s2, err := openSQLite(ctx, Options{Path: path}, next)
		require.NoError(t, err)
		require.Equal(t, append(all, last+1), versions(t, s2))
		_, err = s2.db.Exec(`INSERT OR REPLACE INTO example VALUES ('k', 'a')`)
		require.NoError(t, err)
		require.NoError(t, s2.Close())
	}

	// An older binary refuses the newer schema.
	_, err := openSQLite(ctx, Options{Path: path}, migrations)
	require.ErrorContains(t, err, fmt.Sprintf("database schema version %d is newer than this binary knows (%d)", last+1, last))

	// A failing migration leaves nothing behind.
	path = filepath.Join(t.TempDir(), "bad.db")
	bad := append(append([]migration{}, migrations...), migration{
		version: len(migrations) + 1, name: "broken",
		stmts: []string{`CREATE TABLE ok (x)`, `THIS IS NOT SQL`},
	})
	_, err = openSQLite(ctx, Options{Path: path}, bad)
	require.ErrorContains(t, err, fmt.Sprintf("migration %d (broken)", last+1))
	s = openTest(t, path)
	require.Equal(t, all, versions(t, s))
	var n int
	require.NoError(t, s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'ok'`).Scan(&n))
	require.Zero(t, n)

	// Versions must follow each other.
	_, err = openSQLite(ctx, Options{Path: path}, []migration{{version: 2, name: "x"}})
	require.EqualError(t, err, fmt.Sprintf(`sqlite store %s: migration "x" has version 2, want 1`, path))
}

func TestEnqueueDefaults(t *testing.T) {
	s := newTest(t)
	n := note("", "")
	n.CreatedAt = time.Time{}
	ch := enqueue(t, s, n, note("given", "g"))
	require.Equal(t, 2, ch.Count)

	ns, err := s.Claim(context.Background(), time.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	gen := ns[0]
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`), gen.ID)
	require.Equal(t, gen.ID, gen.Request.RequestID)
	require.Equal(t, gen.ID, gen.GroupID)
	require.WithinDuration(t, time.Now(), gen.CreatedAt, time.Minute)
	require.Equal(t, gen.CreatedAt, gen.QueuedAt)
	require.JSONEq(t, `{"n":""}`, string(gen.Request.Body))

	given := ns[1]
	require.Equal(t, "given", given.Request.RequestID)
	require.Equal(t, t0, given.CreatedAt)
	require.Equal(t, "alertmanager", given.Source)
	require.Equal(t, "firing", given.Status)

	// Enqueueing the same ID again is a no-op.
	ch = enqueue(t, s, note("given", "g"))
	require.Zero(t, ch.Count)

	for _, tc := range []struct {
		mod func(*Notification)
		err string
	}{
		{func(n *Notification) { n.Receiver = "" }, "enqueue: notification x has no receiver"},
		{func(n *Notification) { n.Request.Endpoint = "" }, "enqueue: notification x has no endpoint"},
		{func(n *Notification) { n.Request.Body = json.RawMessage(`{`) }, "enqueue: notification x: request body is not JSON"},
	} {
		n := note("x", "g")
		tc.mod(&n)
		_, err := s.Enqueue(context.Background(), []Notification{note("fine", "f"), n})
		require.EqualError(t, err, tc.err)
	}
	_, err = s.Get(context.Background(), "fine")
	require.ErrorIs(t, err, ErrNotFound) // the batch is all or nothing
}

func TestClaimOrder(t *testing.T) {
	s := newTest(t)
	enqueue(t, s, note("a1", "A"), note("b1", "B"))
	enqueue(t, s, note("c1", "C"))

	// Oldest first, at most limit.
	require.Equal(t, []string{"a1", "b1"}, claimIDs(t, s, 2))
	// A new notification of a stream in flight waits behind it...
	enqueue(t, s, note("a2", "A"))
	require.Equal(t, []string{"c1"}, claimIDs(t, s, 10))
	require.Equal(t, []string{}, claimIDs(t, s, 10))
	// ...until the one in flight is done.
	complete(t, s, delivered("a1"))
	require.Equal(t, []string{"a2"}, claimIDs(t, s, 10))

	// Not before it is due.
	enqueue(t, s, Notification{ID: "d1", GroupID: "D", Receiver: "r", Request: note("d1", "D").Request,
		CreatedAt: t0, NextAttemptAt: t0.Add(2 * time.Hour)})
	require.Equal(t, []string{}, claimIDs(t, s, 10))
	next, ok, err := s.NextDue(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0.Add(2*time.Hour), next)

	// Streams are per receiver: the same group for two receivers are two streams.
	other := note("x1", "A")
	other.Receiver = "other"
	enqueue(t, s, other)
	require.Equal(t, []string{"x1"}, claimIDs(t, s, 10)) // "A" of "r" has a2 in flight
}

func TestNextDueIgnoresBlockedStreams(t *testing.T) {
	s := newTest(t)
	_, ok, err := s.NextDue(context.Background())
	require.NoError(t, err)
	require.False(t, ok)

	enqueue(t, s, note("a1", "A"))
	require.Equal(t, []string{"a1"}, claimIDs(t, s, 1))
	enqueue(t, s, note("a2", "A")) // due, but behind a1 in flight
	_, ok, err = s.NextDue(context.Background())
	require.NoError(t, err)
	require.False(t, ok, "a due row in a blocked stream would make the scheduler spin")
}

func TestSupersede(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s Store) Changes
		want map[string]State
		by   map[string]string
	}{{
		name: "firing then resolved, neither sent: only resolved stays",
		run: func(t *testing.T, s Store) Changes {
			enqueue(t, s, note("fire", "g"))
			return enqueue(t, s, note("resolve", "g"))
		},
		want: map[string]State{"fire": StateSuperseded, "resolve": StatePending},
		by:   map[string]string{"fire": "resolve"},
	}, {
		name: "within one batch",
		run: func(t *testing.T, s Store) Changes {
			return enqueue(t, s, note("1", "g"), note("2", "g"), note("3", "g"), note("other", "h"))
		},
		want: map[string]State{"1": StateSuperseded, "2": StateSuperseded, "3": StatePending, "other": StatePending},
		by:   map[string]string{"1": "3", "2": "3"},
	}, {
		name: "one in flight is not superseded; the one waiting behind it is",
		run: func(t *testing.T, s Store) Changes {
			enqueue(t, s, note("1", "g"))
			claimIDs(t, s, 1)
			enqueue(t, s, note("2", "g"))
			return enqueue(t, s, note("3", "g"))
		},
		want: map[string]State{"1": StateSending, "2": StateSuperseded, "3": StatePending},
		by:   map[string]string{"2": "3"},
	}, {
		name: "a retry behind a newer one is superseded instead",
		run: func(t *testing.T, s Store) Changes {
			enqueue(t, s, note("1", "g"))
			claimIDs(t, s, 1)
			enqueue(t, s, note("2", "g"))
			return complete(t, s, Outcome{ID: "1", State: StatePending, At: t0, Attempts: 1, NextAttemptAt: t0, Error: "boom"})
		},
		want: map[string]State{"1": StateSuperseded, "2": StatePending},
		by:   map[string]string{"1": "2"},
	}, {
		name: "a retry with nothing newer stays",
		run: func(t *testing.T, s Store) Changes {
			enqueue(t, s, note("1", "g"), note("h", "h"))
			claimIDs(t, s, 1)
			return complete(t, s, Outcome{ID: "1", State: StatePending, At: t0, Attempts: 1, NextAttemptAt: t0, Error: "boom"})
		},
		want: map[string]State{"1": StatePending, "h": StatePending},
	}, {
		name: "a delivered one supersedes nothing older that is dead",
		run: func(t *testing.T, s Store) Changes {
			enqueue(t, s, note("1", "g"))
			claimIDs(t, s, 1)
			complete(t, s, Outcome{ID: "1", State: StateDead, At: t0, Attempts: 1, Error: "rejected"})
			return enqueue(t, s, note("2", "g"))
		},
		want: map[string]State{"1": StateDead, "2": StatePending},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest(t)
			ch := tc.run(t, s)
			var got []string
			for id, want := range tc.want {
				n := state(t, s, id)
				require.Equal(t, want, n.State, id)
				require.Equal(t, tc.by[id], n.SupersededBy, id)
				if want == StateSuperseded {
					got = append(got, id)
				}
			}
			var reported []string
			for _, r := range ch.Superseded {
				require.Equal(t, "r", r.Receiver)
				reported = append(reported, r.ID)
			}
			require.ElementsMatch(t, got, reported)
		})
	}
}

func TestRecover(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openTest(t, path)
	enqueue(t, s, note("a", "A"), note("b", "B"), note("c", "C"))
	require.Equal(t, []string{"a", "b"}, claimIDs(t, s, 2))
	complete(t, s, delivered("b"))
	enqueue(t, s, note("b2", "B"))
	before := state(t, s, "a")
	require.NoError(t, s.Close()) // the process dies with "a" in flight

	s = openTest(t, path)
	require.Equal(t, StateSending, state(t, s, "a").State)
	now := t0.Add(time.Hour)
	ch, err := s.Recover(ctx, now)
	require.NoError(t, err)
	require.Equal(t, 1, ch.Count)
	after := state(t, s, "a")
	require.Equal(t, StatePending, after.State)
	require.Equal(t, before.Request.RequestID, after.Request.RequestID, "a resend keeps its request id so Mind drops a duplicate")
	require.Equal(t, now, after.NextAttemptAt)
	require.Equal(t, StateDelivered, state(t, s, "b").State, "a delivered notification is never sent again")

	ns, err := s.Claim(ctx, now, 10)
	require.NoError(t, err)
	require.Len(t, ns, 3)
	require.Equal(t, []string{"a", "c", "b2"}, []string{ns[0].ID, ns[1].ID, ns[2].ID})
	require.Equal(t, "a", ns[0].Request.RequestID)
}

func TestDeadAndReplay(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	enqueue(t, s, note("a", "A"), note("b", "B"), note("c", "C"))
	claimIDs(t, s, 3)
	complete(t, s,
		Outcome{ID: "a", State: StateDead, At: t0.Add(time.Minute), Attempts: 3, Error: "mind: rejected (HTTP 200, code 400)"},
		Outcome{ID: "b", State: StateDead, At: t0.Add(time.Minute), Attempts: 1, Error: "max_age exceeded"},
		Outcome{ID: "c", State: StateDead, At: t0.Add(time.Minute), Attempts: 1, Error: "x"},
	)
	// "c"'s stream moves on: a later notification is delivered.
	enqueue(t, s, note("c2", "C"))
	claimIDs(t, s, 1)
	complete(t, s, delivered("c2"))

	dead, err := s.ListDead(ctx)
	require.NoError(t, err)
	require.Len(t, dead, 3)
	require.Equal(t, "a", dead[0].ID)
	require.Equal(t, 3, dead[0].Attempts)
	require.Equal(t, "mind: rejected (HTTP 200, code 400)", dead[0].LastError)
	require.Equal(t, t0.Add(time.Minute), dead[0].UpdatedAt)

	now := t0.Add(48 * time.Hour)
	ch, err := s.Replay(ctx, now, "a", "nope", "c2")
	require.NoError(t, err)
	require.Equal(t, 1, ch.Count) // unknown and not-dead ids are ignored
	a := state(t, s, "a")
	require.Equal(t, StatePending, a.State)
	require.NotEqual(t, "a", a.Request.RequestID, "a replay is a deliberate resend: fresh request id")
	require.Zero(t, a.Attempts)
	require.Equal(t, now, a.QueuedAt)
	require.Equal(t, t0, a.CreatedAt)
	require.Equal(t, 1, a.Replays)

	// Replay all: "b" is requeued, "c" is stale (c2 delivered after it).
	ch, err = s.Replay(ctx, now)
	require.NoError(t, err)
	require.Equal(t, 1, ch.Count)
	require.Equal(t, []Ref{{ID: "c", Receiver: "r", GroupID: "C"}}, ch.Superseded)
	require.Equal(t, StatePending, state(t, s, "b").State)
	require.Equal(t, StateSuperseded, state(t, s, "c").State)
	dead, err = s.ListDead(ctx)
	require.NoError(t, err)
	require.Empty(t, dead)

	ns, err := s.Claim(ctx, now, 10)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	require.Equal(t, a.Request.RequestID, ns[0].Request.RequestID)
}

func TestStatsAndPrune(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, Stats{}, st)

	old := note("old", "A")
	old.CreatedAt = t0.Add(-time.Hour)
	enqueue(t, s, old, note("b", "B"), note("c", "C"), note("d", "D"))
	claimIDs(t, s, 3) // old, b, c
	complete(t, s, delivered("b"), Outcome{ID: "c", State: StateDead, At: t0, Attempts: 1, Error: "x"})
	enqueue(t, s, note("d2", "D")) // supersedes d

	st, err = s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, Stats{Pending: 1, Sending: 1, Dead: 1, OldestQueuedAt: t0.Add(-time.Hour)}, st)

	n, err := s.Prune(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 2, n) // b delivered, d superseded
	_, err = s.Get(ctx, "b")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Get(ctx, "c")
	require.NoError(t, err)
}

func TestCompleteIgnoresRowsNotInFlight(t *testing.T) {
	s := newTest(t)
	enqueue(t, s, note("a", "A"))
	ch := complete(t, s, delivered("a"), delivered("unknown"))
	require.Zero(t, ch.Count)
	require.Equal(t, StatePending, state(t, s, "a").State)
	_, err := s.Complete(context.Background(), []Outcome{{ID: "a", State: StateSending}})
	require.EqualError(t, err, `complete a: outcome state "sending"`)
}

func TestCheckWritableNoticesVanishedFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openTest(t, filepath.Join(dir, "relay.db"))
	require.NoError(t, s.CheckWritable(context.Background()))

	// The volume under the store goes away (or is wiped and recreated):
	// SQLite would happily keep writing to the unlinked inode, and a
	// restart would lose it all. This works as root too.
	require.NoError(t, os.Rename(dir, dir+".gone"))
	require.ErrorContains(t, s.CheckWritable(context.Background()), "store not writable: database file:")

	require.NoError(t, os.MkdirAll(dir, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "relay.db"), nil, 0o600))
	require.ErrorContains(t, s.CheckWritable(context.Background()), "was replaced since it was opened")
}

func TestConcurrentProcessesShareTheFile(t *testing.T) {
	// Two stores on one file stand for `relay serve` and `relay dlq`.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	a := openTest(t, path)
	b := openTest(t, path)
	enqueue(t, a, note("x", "X"))
	claimIDs(t, a, 1)
	complete(t, a, Outcome{ID: "x", State: StateDead, At: t0, Attempts: 1, Error: "e"})
	ch, err := b.Replay(ctx, t0)
	require.NoError(t, err)
	require.Equal(t, 1, ch.Count)
	require.Equal(t, StatePending, state(t, a, "x").State)
}

// A row queued to be rendered at send time has no body but its group, and
// reads back with both as written; a skipped send can be recorded as
// superseded.
func TestGroupRowRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "relay.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	n := Notification{ID: "n1", GroupID: "g", Receiver: "r",
		Request: mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: "n1"},
		Group:   []byte(`{"v":1}`)}
	_, err = s.Enqueue(ctx, []Notification{n})
	require.NoError(t, err)
	_, err = s.Enqueue(ctx, []Notification{{ID: "bad", Receiver: "r", Request: mind.Request{Endpoint: "x"}}})
	require.ErrorContains(t, err, "neither a request body nor a group")

	got, err := s.Claim(ctx, time.Now(), 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Nil(t, got[0].Request.Body)
	require.JSONEq(t, `{"v":1}`, string(got[0].Group))

	_, err = s.Complete(ctx, []Outcome{{ID: "n1", State: StateSuperseded, At: time.Now(), SupersededBy: "ack loop"}})
	require.NoError(t, err)
	got1, err := s.Get(ctx, "n1")
	require.NoError(t, err)
	require.Equal(t, StateSuperseded, got1.State)
	require.Equal(t, "ack loop", got1.SupersededBy)
}
