package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The ack loop's state lives beside the outbox:
//
//   - snapshots: the latest alert group the relay sent to each (receiver,
//     group) — what an ack acts on (labels for silence matchers,
//     fingerprints, the source, who it went to). Enqueue writes it in the
//     same transaction as the notification that carries it
//     (Notification.Snapshot), so it costs no extra commit on the webhook
//     path and is never newer or older than what was queued.
//   - acks: one row per group with the group's acknowledgement, as the ack
//     package encodes it.

// ErrNoSnapshot is returned by Snapshot for a group the relay never queued
// a snapshot of (or pruned it).
var ErrNoSnapshot = errors.New("no snapshot of that group")

// Snapshot is the latest alert group sent to one receiver.
type Snapshot struct {
	GroupID        string
	Receiver       string
	Source         string
	Status         string
	NotificationID string
	// Data is the group as the ack package encodes it; opaque here.
	Data []byte
	// CreatedAt is when the notification that wrote it was accepted;
	// UpdatedAt when it was written.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AckRecord is the acknowledgement state of one group.
type AckRecord struct {
	GroupID string
	// State is the ack package's; AckActive rows are kept until they end.
	State string
	// Data is the record as the ack package encodes it; opaque here.
	Data      []byte
	UpdatedAt time.Time
}

// AckActive is the State of an acknowledgement in force.
const AckActive = "acked"

// AckStore keeps the ack loop's state. The SQLite store implements it; get
// it from a Store with AcksOf.
type AckStore interface {
	// Snapshot returns the latest snapshot of a group, or ErrNoSnapshot.
	Snapshot(ctx context.Context, groupID string) (Snapshot, error)
	// Snapshots returns the snapshots with status written at or after
	// since, newest first.
	Snapshots(ctx context.Context, status string, since time.Time) ([]Snapshot, error)
	// PutAck writes a group's record durably (insert or replace).
	PutAck(ctx context.Context, r AckRecord) error
	// Acks returns the records in state AckActive and those updated at or
	// after since.
	Acks(ctx context.Context, since time.Time) ([]AckRecord, error)
	// PruneAcks deletes records not AckActive last updated before before,
	// and snapshots written before before whose group has no active ack.
	PruneAcks(ctx context.Context, before time.Time) (int, error)
}

// AcksOf returns the ack state of a store that keeps one.
func AcksOf(s Store) (AckStore, bool) {
	a, ok := s.(AckStore)
	return a, ok
}

var _ AckStore = (*sqliteStore)(nil)

// ackMigration creates the ack loop's tables.
var ackMigration = migration{version: 2, name: "acks", stmts: []string{
	`CREATE TABLE snapshots (
		group_id        TEXT    PRIMARY KEY,
		receiver        TEXT    NOT NULL,
		source          TEXT    NOT NULL DEFAULT '',
		status          TEXT    NOT NULL DEFAULT '',
		notification_id TEXT    NOT NULL,
		data            BLOB    NOT NULL,
		created_at      INTEGER NOT NULL,
		updated_at      INTEGER NOT NULL
	)`,
	`CREATE INDEX snapshots_status ON snapshots (status, updated_at)`,
	`CREATE TABLE acks (
		group_id   TEXT    PRIMARY KEY,
		state      TEXT    NOT NULL,
		data       BLOB    NOT NULL,
		updated_at INTEGER NOT NULL
	)`,
	`CREATE INDEX acks_state ON acks (state, updated_at)`,
}}

// putSnapshots writes the snapshots ns carry within Enqueue's transaction.
// A snapshot older than the one kept (a slow webhook that lost the race)
// changes nothing.
func putSnapshots(ctx context.Context, tx *sql.Tx, ns []Notification, now time.Time) error {
	// A group commit often holds several notifications of one group (a
	// flapping group, Alertmanager's retries): write only its latest.
	latest := make(map[string]int, len(ns))
	for i, n := range ns {
		if len(n.Snapshot) == 0 {
			continue
		}
		if j, ok := latest[n.GroupID]; !ok || !n.CreatedAt.Before(ns[j].CreatedAt) {
			latest[n.GroupID] = i
		}
	}
	var stmt *sql.Stmt
	for i, n := range ns {
		if len(n.Snapshot) == 0 || latest[n.GroupID] != i {
			continue
		}
		if stmt == nil {
			var err error
			stmt, err = tx.PrepareContext(ctx, `INSERT INTO snapshots
				(group_id, receiver, source, status, notification_id, data, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (group_id) DO UPDATE SET
					receiver = excluded.receiver, source = excluded.source, status = excluded.status,
					notification_id = excluded.notification_id, data = excluded.data,
					created_at = excluded.created_at, updated_at = excluded.updated_at
				WHERE excluded.created_at >= snapshots.created_at`)
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			defer stmt.Close()
		}
		if _, err := stmt.ExecContext(ctx, n.GroupID, n.Receiver, n.Source, n.Status, n.ID, n.Snapshot,
			nanos(n.CreatedAt), nanos(now)); err != nil {
			return fmt.Errorf("snapshot of %s: %w", n.GroupID, err)
		}
	}
	return nil
}

const snapshotColumns = `group_id, receiver, source, status, notification_id, data, created_at, updated_at`

func scanSnapshot(r scanner) (Snapshot, error) {
	var (
		s                Snapshot
		created, updated int64
	)
	if err := r.Scan(&s.GroupID, &s.Receiver, &s.Source, &s.Status, &s.NotificationID, &s.Data, &created, &updated); err != nil {
		return Snapshot{}, err
	}
	s.CreatedAt, s.UpdatedAt = fromNanos(created), fromNanos(updated)
	return s, nil
}

// Snapshot implements AckStore.
func (s *sqliteStore) Snapshot(ctx context.Context, groupID string) (Snapshot, error) {
	sn, err := scanSnapshot(s.db.QueryRowContext(ctx, `SELECT `+snapshotColumns+` FROM snapshots WHERE group_id = ?`, groupID))
	if errors.Is(err, sql.ErrNoRows) {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", groupID, ErrNoSnapshot)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", groupID, err)
	}
	return sn, nil
}

// Snapshots implements AckStore.
func (s *sqliteStore) Snapshots(ctx context.Context, status string, since time.Time) ([]Snapshot, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+snapshotColumns+` FROM snapshots
		WHERE status = ? AND updated_at >= ? ORDER BY updated_at DESC`, status, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	defer rows.Close()
	var out []Snapshot
	for rows.Next() {
		sn, err := scanSnapshot(rows)
		if err != nil {
			return nil, fmt.Errorf("snapshots: %w", err)
		}
		out = append(out, sn)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	return out, nil
}

// PutAck implements AckStore. An ack is a promise to the person who gave
// it: it commits durably.
func (s *sqliteStore) PutAck(ctx context.Context, r AckRecord) error {
	if r.GroupID == "" || r.State == "" {
		return errors.New("put ack: no group or state")
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = time.Now()
	}
	err := s.inTx(ctx, durable, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO acks (group_id, state, data, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (group_id) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`,
			r.GroupID, r.State, r.Data, nanos(r.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put ack %s: %w", r.GroupID, err)
	}
	return nil
}

// Acks implements AckStore.
func (s *sqliteStore) Acks(ctx context.Context, since time.Time) ([]AckRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT group_id, state, data, updated_at FROM acks
		WHERE state = ? OR updated_at >= ? ORDER BY updated_at`, AckActive, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("acks: %w", err)
	}
	defer rows.Close()
	var out []AckRecord
	for rows.Next() {
		var (
			r       AckRecord
			updated int64
		)
		if err := rows.Scan(&r.GroupID, &r.State, &r.Data, &updated); err != nil {
			return nil, fmt.Errorf("acks: %w", err)
		}
		r.UpdatedAt = fromNanos(updated)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("acks: %w", err)
	}
	return out, nil
}

// PruneAcks implements AckStore.
func (s *sqliteStore) PruneAcks(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM acks WHERE state <> ? AND updated_at < ?`, AckActive, nanos(before))
		if err != nil {
			return err
		}
		a, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM snapshots WHERE updated_at < ?
			AND group_id NOT IN (SELECT group_id FROM acks WHERE state = ?)`, nanos(before), AckActive)
		if err != nil {
			return err
		}
		b, _ := res.RowsAffected()
		n = a + b
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune acks: %w", err)
	}
	return int(n), nil
}
