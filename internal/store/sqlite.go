package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteStore is the embedded Store: one SQLite file in WAL mode.
//
// It holds a single connection. SQLite serialises writers anyway; with one
// connection they queue in database/sql instead of spinning in SQLite's busy
// handler, and no reader ever sees a half-applied migration. Another process
// (the `relay dlq` command, say) may open the same file: WAL lets it read
// while the server writes, and busy_timeout makes its writes wait.
type sqliteStore struct {
	db   *sql.DB
	path string
	file os.FileInfo // the database file as opened, to notice it vanishing
}

var _ Store = (*sqliteStore)(nil)

const defaultBusyTimeout = 5 * time.Second

func openSQLite(ctx context.Context, opts Options, migs []migration) (*sqliteStore, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite store: path is empty")
	}
	if strings.ContainsRune(opts.Path, '?') {
		return nil, fmt.Errorf("sqlite store: path %q contains '?'", opts.Path)
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlite store: create directory: %w", err)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	// synchronous=FULL: in WAL mode every commit fsyncs the WAL, so a
	// committed notification survives power loss, which NORMAL does not
	// promise (inTx lowers it for bookkeeping). _txlock=immediate: every transaction takes the write lock
	// at BEGIN, so two processes never deadlock upgrading a read lock.
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate",
		path, busy.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &sqliteStore{db: db, path: path}
	if err := s.init(ctx, migs); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite store %s: %w", path, err), db.Close())
	}
	return s, nil
}

func (s *sqliteStore) init(ctx context.Context, migs []migration) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, not wal (is the file on a network filesystem?)", mode)
	}
	var sync int
	if err := s.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync < 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	if err := migrate(ctx, s.db, migs); err != nil {
		return err
	}
	// The database and WAL files now exist; make their directory entries
	// durable too.
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	s.file = fi
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Close closes the database; SQLite checkpoints and removes the WAL.
func (s *sqliteStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite store: close: %w", err)
	}
	return nil
}

// columns are read by scan, in this order.
const columns = `seq, id, group_id, receiver, source, status, endpoint, request_id, body, state,
	created_at, queued_at, attempts, next_attempt_at, last_error, updated_at, delivered_at, superseded_by, replays, group_data,
	kind, incident_id, alerts, priority`

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Notification, error) {
	var (
		n                              Notification
		body                           []byte
		state                          string
		created, queued, next, updated int64
		delivered                      sql.NullInt64
		kind                           string
		alerts                         []byte
	)
	if err := r.Scan(&n.Seq, &n.ID, &n.GroupID, &n.Receiver, &n.Source, &n.Status, &n.Request.Endpoint,
		&n.Request.RequestID, &body, &state, &created, &queued, &n.Attempts, &next, &n.LastError,
		&updated, &delivered, &n.SupersededBy, &n.Replays, &n.Group, &kind, &n.IncidentID, &alerts, &n.Priority); err != nil {
		return Notification{}, err
	}
	n.Kind = Kind(kind)
	if len(alerts) > 0 {
		if err := json.Unmarshal(alerts, &n.Alerts); err != nil {
			return Notification{}, fmt.Errorf("alerts of %s: %w", n.ID, err)
		}
	}
	if len(body) > 0 {
		n.Request.Body = json.RawMessage(body)
	}
	if len(n.Group) == 0 {
		n.Group = nil
	}
	n.State = State(state)
	n.CreatedAt = fromNanos(created)
	n.QueuedAt = fromNanos(queued)
	n.NextAttemptAt = fromNanos(next)
	n.UpdatedAt = fromNanos(updated)
	if delivered.Valid {
		n.DeliveredAt = fromNanos(delivered.Int64)
	}
	return n, nil
}

func scanAll(rows *sql.Rows) ([]Notification, error) {
	defer func() { _ = rows.Close() }()
	var out []Notification
	for rows.Next() {
		n, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Durability of a transaction.
//
// Only what backs the promise to the webhook senders must survive a power
// loss: accepted notifications (Enqueue) and an operator's Replay. They
// commit with synchronous=FULL, one fsync of the WAL each. The scheduler's
// bookkeeping (Claim, Complete, Recover, Prune) commits with NORMAL: no
// fsync, yet safe. A process crash loses nothing (the OS has the pages),
// and a power loss can only lose the last such commits, never tear one;
// the next durable commit fsyncs the WAL and so every frame before it.
// What a lost commit can do is harmless by design: a lost claim leaves the
// row pending, a lost outcome leaves it "sending", which Recover returns to
// pending and which is resent under its request id for Mind to drop.
const (
	durable     = true
	bookkeeping = false
)

// inTx runs fn in a transaction (BEGIN IMMEDIATE) and commits it, fsynced
// when durable. It holds the connection throughout, so the synchronous
// level it sets applies to its own transaction only.
func (s *sqliteStore) inTx(ctx context.Context, sync bool, fn func(*sql.Tx) error) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer func() { _ = conn.Close() }()
	level := "FULL"
	if !sync {
		level = "NORMAL"
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+level); err != nil {
		return fmt.Errorf("set synchronous: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Enqueue implements Store.
func (s *sqliteStore) Enqueue(ctx context.Context, ns []Notification) (Changes, error) {
	var ch Changes
	if len(ns) == 0 {
		return ch, nil
	}
	now := time.Now()
	prepared := make([]Notification, len(ns))
	for i, n := range ns {
		n.SetDefaults(now)
		if err := n.Validate(); err != nil {
			return ch, fmt.Errorf("enqueue: %w", err)
		}
		prepared[i] = n
	}
	err := s.inTx(ctx, durable, func(tx *sql.Tx) error {
		var err error
		ch, err = insert(ctx, tx, prepared, now, true)
		return err
	})
	if err != nil {
		return Changes{}, fmt.Errorf("enqueue: %w", err)
	}
	return ch, nil
}

// insert queues ns within tx. With observing, a group card is first
// observed by its group's incident (which may say it need not be sent);
// cards an incident change asks for are not (the change decided them).
// What the new rows make pointless is superseded.
func insert(ctx context.Context, tx *sql.Tx, ns []Notification, now time.Time, observing bool) (Changes, error) {
	var ch Changes
	ins, err := tx.PrepareContext(ctx, `INSERT INTO notifications
		(id, group_id, receiver, source, status, endpoint, request_id, body, state,
		 created_at, queued_at, attempts, next_attempt_at, updated_at, group_data, kind, incident_id, alerts, priority)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return ch, err
	}
	defer func() { _ = ins.Close() }()
	streams := newStreamSet()
	pruned := false
	for _, n := range ns {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE id = ?)`, n.ID).Scan(&exists); err != nil {
			return ch, fmt.Errorf("insert %s: %w", n.ID, err)
		}
		if exists {
			continue
		}
		if n.DedupeKey != "" {
			if !pruned {
				pruned = true
				if _, err := tx.ExecContext(ctx, `DELETE FROM dedupe WHERE until <= ?`, nanos(now)); err != nil {
					return ch, fmt.Errorf("prune dedupe keys: %w", err)
				}
			}
			dup, err := dedupe(ctx, tx, n, now)
			if err != nil {
				return ch, fmt.Errorf("insert %s: %w", n.ID, err)
			}
			if dup {
				ch.Deduplicated = append(ch.Deduplicated, Ref{ID: n.ID, Receiver: n.Receiver, GroupID: n.GroupID})
				continue
			}
		}
		if observing && (n.Kind == KindGroup || n.Kind == "") && n.Alerts != nil {
			skip, err := observe(ctx, tx, &n, now)
			if err != nil {
				return ch, err
			}
			if skip {
				ch.Skipped = append(ch.Skipped, Ref{ID: n.ID, Receiver: n.Receiver, GroupID: n.GroupID})
				continue
			}
		}
		body := []byte(n.Request.Body)
		if body == nil {
			body = []byte{} // rendered at send time; the column is NOT NULL
		}
		var group, alerts []byte
		if len(n.Group) > 0 {
			group = n.Group
		}
		if n.Alerts != nil {
			if alerts, err = json.Marshal(n.Alerts); err != nil {
				return ch, fmt.Errorf("insert %s: %w", n.ID, err)
			}
		}
		kind := n.Kind
		if kind == "" {
			kind = KindGroup
		}
		res, err := ins.ExecContext(ctx, n.ID, n.GroupID, n.Receiver, n.Source, n.Status,
			n.Request.Endpoint, n.Request.RequestID, body,
			nanos(n.CreatedAt), nanos(n.QueuedAt), nanos(n.NextAttemptAt), nanos(now), group,
			string(kind), n.IncidentID, alerts, n.Priority)
		if err != nil {
			return ch, fmt.Errorf("insert %s: %w", n.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			ch.Count++
			streams.add(n.Receiver, n.GroupID)
		}
	}
	ch.Superseded, err = supersede(ctx, tx, streams, now)
	return ch, err
}

// dedupe reports whether n's content key was accepted within its window
// (the key is live at now); otherwise it records the key until
// n.DedupeUntil. The key's primary key makes concurrent writers agree.
func dedupe(ctx context.Context, tx *sql.Tx, n Notification, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO dedupe (key, until) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE dedupe.until <= ?3`,
		n.DedupeKey, nanos(n.DedupeUntil), nanos(now))
	if err != nil {
		return false, fmt.Errorf("dedupe: %w", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("dedupe: %w", err)
	}
	return k == 0, nil
}

// streamSet is a set of (receiver, group) pairs in insertion order.
type streamSet struct {
	seen map[[2]string]bool
	list [][2]string
}

func newStreamSet() *streamSet { return &streamSet{seen: map[[2]string]bool{}} }

func (s *streamSet) add(receiver, group string) {
	k := [2]string{receiver, group}
	if !s.seen[k] {
		s.seen[k] = true
		s.list = append(s.list, k)
	}
}

// supersede marks superseded every pending notification of the given
// streams that has a newer pending, sending or delivered one.
func supersede(ctx context.Context, tx *sql.Tx, streams *streamSet, now time.Time) ([]Ref, error) {
	if len(streams.list) == 0 {
		return nil, nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE notifications
		SET state = 'superseded', updated_at = ?1,
		    superseded_by = (SELECT n.id FROM notifications n
		                     WHERE n.receiver = ?2 AND n.group_id = ?3 AND n.state IN ('pending', 'sending', 'delivered')
		                     ORDER BY n.seq DESC LIMIT 1)
		WHERE receiver = ?2 AND group_id = ?3 AND state = 'pending'
		  AND seq < (SELECT MAX(n.seq) FROM notifications n
		             WHERE n.receiver = ?2 AND n.group_id = ?3 AND n.state IN ('pending', 'sending', 'delivered'))
		RETURNING id`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stmt.Close() }()
	var out []Ref
	for _, k := range streams.list {
		rows, err := stmt.QueryContext(ctx, nanos(now), k[0], k[1])
		if err != nil {
			return nil, fmt.Errorf("supersede: %w", err)
		}
		for rows.Next() {
			r := Ref{Receiver: k[0], GroupID: k[1]}
			if err := rows.Scan(&r.ID); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("supersede: %w", err)
			}
			out = append(out, r)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("supersede: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("supersede: %w", err)
		}
	}
	return out, nil
}

// claimable is the condition on a pending row n that it heads its stream
// and its stream has nothing in flight.
const claimable = `n.state = 'pending'
	AND NOT EXISTS (SELECT 1 FROM notifications o
	                WHERE o.receiver = n.receiver AND o.group_id = n.group_id AND o.state = 'sending')
	AND NOT EXISTS (SELECT 1 FROM notifications o
	                WHERE o.receiver = n.receiver AND o.group_id = n.group_id AND o.state = 'pending' AND o.seq < n.seq)`

// Claim implements Store.
func (s *sqliteStore) Claim(ctx context.Context, now time.Time, limit int) ([]Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []Notification
	// INDEXED BY: walked in the claim order, the index lets the query stop
	// after limit claimable rows. Left to itself SQLite picked the due-time
	// index, judged every pending row's stream and sorted them all: with
	// 1,000 queued, deliveries fell from 500/s to 80/s.
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE notifications SET state = 'sending', updated_at = ?1
			WHERE seq IN (SELECT n.seq FROM notifications n INDEXED BY notifications_claim
			              WHERE n.next_attempt_at <= ?1 AND `+claimable+`
			              ORDER BY n.priority, n.next_attempt_at, n.seq LIMIT ?2)
			RETURNING `+columns, nanos(now), limit)
		if err != nil {
			return err
		}
		out, err = scanAll(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	sortClaimed(out)
	return out, nil
}

// sortClaimed returns the claimed rows most urgent first, then in
// enqueue order: RETURNING promises no order.
func sortClaimed(ns []Notification) {
	slices.SortFunc(ns, func(a, b Notification) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Seq, b.Seq))
	})
}

// NextDue implements Store.
func (s *sqliteStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(n.next_attempt_at) FROM notifications n WHERE `+claimable).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromNanos(next.Int64), true, nil
}

// Complete implements Store.
func (s *sqliteStore) Complete(ctx context.Context, outcomes []Outcome) (Changes, error) {
	var ch Changes
	if len(outcomes) == 0 {
		return ch, nil
	}
	for _, o := range outcomes {
		switch o.State {
		case StateDelivered, StatePending, StateDead, StateSuperseded:
		default:
			return ch, fmt.Errorf("complete %s: outcome state %q", o.ID, o.State)
		}
	}
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		ch = Changes{}
		streams := newStreamSet()
		for _, o := range outcomes {
			var (
				receiver, group string
				err             error
			)
			switch o.State {
			case StateDelivered:
				err = tx.QueryRowContext(ctx, `UPDATE notifications
					SET state = 'delivered', attempts = ?, delivered_at = ?, updated_at = ?
					WHERE id = ? AND state = 'sending' RETURNING receiver, group_id`,
					o.Attempts, nanos(o.At), nanos(o.At), o.ID).Scan(&receiver, &group)
			case StatePending:
				err = tx.QueryRowContext(ctx, `UPDATE notifications
					SET state = 'pending', attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
					WHERE id = ? AND state = 'sending' RETURNING receiver, group_id`,
					o.Attempts, nanos(o.NextAttemptAt), o.Error, nanos(o.At), o.ID).Scan(&receiver, &group)
			case StateDead:
				err = tx.QueryRowContext(ctx, `UPDATE notifications
					SET state = 'dead', attempts = ?, last_error = ?, updated_at = ?
					WHERE id = ? AND state = 'sending' RETURNING receiver, group_id`,
					o.Attempts, o.Error, nanos(o.At), o.ID).Scan(&receiver, &group)
			case StateSuperseded:
				err = tx.QueryRowContext(ctx, `UPDATE notifications
					SET state = 'superseded', attempts = ?, last_error = ?, updated_at = ?, superseded_by = ?
					WHERE id = ? AND state = 'sending' RETURNING receiver, group_id`,
					o.Attempts, o.Error, nanos(o.At), o.SupersededBy, o.ID).Scan(&receiver, &group)
			}
			if errors.Is(err, sql.ErrNoRows) {
				continue // not in flight (any more): nothing to record
			}
			if err != nil {
				return fmt.Errorf("%s: %w", o.ID, err)
			}
			ch.Count++
			if o.State == StatePending {
				streams.add(receiver, group)
			}
		}
		var err error
		ch.Superseded, err = supersede(ctx, tx, streams, latest(outcomes))
		return err
	})
	if err != nil {
		return Changes{}, fmt.Errorf("complete: %w", err)
	}
	return ch, nil
}

func latest(outcomes []Outcome) time.Time {
	var t time.Time
	for _, o := range outcomes {
		if o.At.After(t) {
			t = o.At
		}
	}
	return t
}

// Recover implements Store.
func (s *sqliteStore) Recover(ctx context.Context, now time.Time) (Changes, error) {
	var ch Changes
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		ch = Changes{}
		rows, err := tx.QueryContext(ctx, `UPDATE notifications
			SET state = 'pending', next_attempt_at = ?1, updated_at = ?1
			WHERE state = 'sending' RETURNING receiver, group_id`, nanos(now))
		if err != nil {
			return err
		}
		streams := newStreamSet()
		for rows.Next() {
			var receiver, group string
			if err := rows.Scan(&receiver, &group); err != nil {
				_ = rows.Close()
				return err
			}
			ch.Count++
			streams.add(receiver, group)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		ch.Superseded, err = supersede(ctx, tx, streams, now)
		return err
	})
	if err != nil {
		return Changes{}, fmt.Errorf("recover: %w", err)
	}
	return ch, nil
}

// Get implements Store.
func (s *sqliteStore) Get(ctx context.Context, id string) (Notification, error) {
	n, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM notifications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Notification{}, fmt.Errorf("get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Notification{}, fmt.Errorf("get %s: %w", id, err)
	}
	return n, nil
}

// ListDead implements Store.
func (s *sqliteStore) ListDead(ctx context.Context) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM notifications WHERE state = 'dead' ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list dead: %w", err)
	}
	out, err := scanAll(rows)
	if err != nil {
		return nil, fmt.Errorf("list dead: %w", err)
	}
	return out, nil
}

// Replay implements Store.
//
// A replay is a deliberate resend, asked for by an operator, possibly long
// after Mind last saw the notification. It gets a fresh request id: with
// the old one Mind might still drop it as a duplicate of an attempt it
// accepted ("short-term idempotency"), and the operator would see nothing.
func (s *sqliteStore) Replay(ctx context.Context, now time.Time, ids ...string) (Changes, error) {
	var ch Changes
	err := s.inTx(ctx, durable, func(tx *sql.Tx) error {
		ch = Changes{}
		if len(ids) == 0 {
			rows, err := tx.QueryContext(ctx, `SELECT id FROM notifications WHERE state = 'dead' ORDER BY seq`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					_ = rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE notifications
			SET state = 'pending', request_id = ?2, queued_at = ?1, attempts = 0, next_attempt_at = ?1,
			    updated_at = ?1, replays = replays + 1
			WHERE id = ?3 AND state = 'dead' RETURNING receiver, group_id`)
		if err != nil {
			return err
		}
		defer func() { _ = stmt.Close() }()
		streams := newStreamSet()
		replayed := map[string]bool{}
		for _, id := range ids {
			var receiver, group string
			err := stmt.QueryRowContext(ctx, nanos(now), NewID(), id).Scan(&receiver, &group)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			replayed[id] = true
			streams.add(receiver, group)
		}
		ch.Superseded, err = supersede(ctx, tx, streams, now)
		if err != nil {
			return err
		}
		ch.Count = len(replayed)
		for _, r := range ch.Superseded {
			if replayed[r.ID] {
				ch.Count--
			}
		}
		return nil
	})
	if err != nil {
		return Changes{}, fmt.Errorf("replay: %w", err)
	}
	return ch, nil
}

// Prune implements Store.
func (s *sqliteStore) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		// An open incident's latest card holds the group its page and
		// silences read: it stays.
		res, err := tx.ExecContext(ctx, `DELETE FROM notifications
			WHERE state IN ('delivered', 'superseded', 'digested') AND updated_at < ?
			AND id NOT IN (SELECT last_card FROM incidents WHERE state <> 'resolved' OR silenced = 1)`, nanos(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	return int(n), nil
}

// Stats implements Store.
func (s *sqliteStore) Stats(ctx context.Context) (Stats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*), MIN(queued_at) FROM notifications
		WHERE state IN ('pending', 'sending', 'dead') GROUP BY state`)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var st Stats
	for rows.Next() {
		var (
			state  string
			count  int
			oldest int64
		)
		if err := rows.Scan(&state, &count, &oldest); err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		switch State(state) {
		case StatePending:
			st.Pending = count
		case StateSending:
			st.Sending = count
		case StateDead:
			st.Dead = count
			continue
		}
		if t := fromNanos(oldest); st.OldestQueuedAt.IsZero() || t.Before(st.OldestQueuedAt) {
			st.OldestQueuedAt = t
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// CheckWritable implements Store: the database file must still be the one
// opened (a deleted or replaced file takes writes that a restart loses) and
// a small transaction must commit, fsync included.
func (s *sqliteStore) CheckWritable(ctx context.Context) error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("store not writable: database file: %w", err)
	}
	if !os.SameFile(fi, s.file) {
		return fmt.Errorf("store not writable: %s was replaced since it was opened", s.path)
	}
	err = s.inTx(ctx, durable, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO health (id, checked_at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store not writable: %w", err)
	}
	return nil
}
