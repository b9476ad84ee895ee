package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// migration is one step of the SQLite schema history.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations is the SQLite schema history, applied in order on Open.
//
// To change the schema, append a migration whose version is the last one
// plus one, e.g.
//
//	{version: 2, name: "acks", stmts: []string{
//		`CREATE TABLE acks (...)`,
//		`CREATE INDEX acks_notification ON acks (notification_id)`,
//	}},
//
// and add a case to TestMigrations if it moves data. Never edit, reorder or
// remove a migration that has been released: databases in the field have
// run it already. Each migration runs in one transaction together with its
// schema_migrations row, so it is applied entirely or not at all, and a
// second process opening the same file at the same moment waits and then
// skips it. A database whose version is newer than the last migration here
// is refused: an older binary would misread it.
var migrations = []migration{
	{version: 1, name: "outbox", stmts: []string{
		`CREATE TABLE notifications (
			seq             INTEGER PRIMARY KEY AUTOINCREMENT,
			id              TEXT    NOT NULL UNIQUE,
			group_id        TEXT    NOT NULL,
			receiver        TEXT    NOT NULL,
			source          TEXT    NOT NULL DEFAULT '',
			status          TEXT    NOT NULL DEFAULT '',
			endpoint        TEXT    NOT NULL,
			request_id      TEXT    NOT NULL,
			body            BLOB    NOT NULL,
			state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'superseded', 'dead')),
			created_at      INTEGER NOT NULL,
			queued_at       INTEGER NOT NULL,
			attempts        INTEGER NOT NULL DEFAULT 0,
			next_attempt_at INTEGER NOT NULL,
			last_error      TEXT    NOT NULL DEFAULT '',
			updated_at      INTEGER NOT NULL,
			delivered_at    INTEGER,
			superseded_by   TEXT    NOT NULL DEFAULT '',
			replays         INTEGER NOT NULL DEFAULT 0
		)`,
		// Streams: head of stream, in flight, newest (superseding).
		`CREATE INDEX notifications_stream ON notifications (receiver, group_id, state, seq)`,
		// Due rows, counts by state, pruning.
		`CREATE INDEX notifications_state ON notifications (state, next_attempt_at)`,
		`CREATE INDEX notifications_updated ON notifications (state, updated_at)`,
		// One row that CheckWritable rewrites.
		`CREATE TABLE health (
			id         INTEGER PRIMARY KEY CHECK (id = 1),
			checked_at INTEGER NOT NULL
		)`,
	}},
	{version: 2, name: "acks", stmts: []string{
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
	}},
	// The routed alert group a card is rendered from at send time; empty
	// for rows whose body was rendered before they were queued.
	{version: 3, name: "render at send", stmts: []string{
		`ALTER TABLE notifications ADD COLUMN group_data BLOB`,
	}},
	incidentMigration,   // incidents.go
	escalationMigration, // escalation.go
	// Storms: urgency decided at enqueue orders the claims, a flood of
	// cards can be folded into a digest (a new state, so the table is
	// rebuilt: SQLite cannot change a CHECK), and the content keys of
	// recently accepted webhooks drop their duplicates.
	{version: 6, name: "priority, digests and dedupe", stmts: []string{
		`CREATE TABLE notifications_v6 (
			seq             INTEGER PRIMARY KEY AUTOINCREMENT,
			id              TEXT    NOT NULL UNIQUE,
			group_id        TEXT    NOT NULL,
			receiver        TEXT    NOT NULL,
			source          TEXT    NOT NULL DEFAULT '',
			status          TEXT    NOT NULL DEFAULT '',
			endpoint        TEXT    NOT NULL,
			request_id      TEXT    NOT NULL,
			body            BLOB    NOT NULL,
			state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'superseded', 'dead', 'digested')),
			created_at      INTEGER NOT NULL,
			queued_at       INTEGER NOT NULL,
			attempts        INTEGER NOT NULL DEFAULT 0,
			next_attempt_at INTEGER NOT NULL,
			last_error      TEXT    NOT NULL DEFAULT '',
			updated_at      INTEGER NOT NULL,
			delivered_at    INTEGER,
			superseded_by   TEXT    NOT NULL DEFAULT '',
			replays         INTEGER NOT NULL DEFAULT 0,
			group_data      BLOB,
			kind            TEXT    NOT NULL DEFAULT 'group',
			incident_id     TEXT    NOT NULL DEFAULT '',
			alerts          BLOB,
			priority        INTEGER NOT NULL DEFAULT 0
		)`,
		`INSERT INTO notifications_v6 (seq, id, group_id, receiver, source, status, endpoint, request_id, body, state,
			created_at, queued_at, attempts, next_attempt_at, last_error, updated_at, delivered_at, superseded_by, replays,
			group_data, kind, incident_id, alerts)
		 SELECT seq, id, group_id, receiver, source, status, endpoint, request_id, body, state,
			created_at, queued_at, attempts, next_attempt_at, last_error, updated_at, delivered_at, superseded_by, replays,
			group_data, kind, incident_id, alerts FROM notifications`,
		`DROP TABLE notifications`,
		`ALTER TABLE notifications_v6 RENAME TO notifications`,
		`CREATE INDEX notifications_stream ON notifications (receiver, group_id, state, seq)`,
		`CREATE INDEX notifications_state ON notifications (state, next_attempt_at)`,
		`CREATE INDEX notifications_updated ON notifications (state, updated_at)`,
		`CREATE INDEX notifications_claim ON notifications (state, priority, next_attempt_at, seq)`,
		`CREATE TABLE dedupe (
			key   TEXT    PRIMARY KEY,
			until INTEGER NOT NULL
		)`,
		`CREATE INDEX dedupe_until ON dedupe (until)`,
	}},
}

// migrate brings db to the last version of migs.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	for i, m := range migs {
		if m.version != i+1 {
			return fmt.Errorf("migration %q has version %d, want %d", m.name, m.version, i+1)
		}
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migs {
		if err := apply(ctx, db, m, len(migs)); err != nil {
			return err
		}
	}
	return nil
}

// apply runs m unless the database has it already.
func apply(ctx context.Context, db *sql.DB, m migration, last int) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock from here
	if err != nil {
		return fmt.Errorf("migration %d (%s): begin: %w", m.version, m.name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > last {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): refusing to use it", current, last)
	}
	if current >= m.version {
		return rollback(tx)
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("migration %d (%s): record: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d (%s): commit: %w", m.version, m.name, err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
