package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/incident"
)

// Incidents live beside the outbox, and every decision about one is a
// transaction of the store: a card of the group is observed in the same
// commit that queues it (Enqueue), and an ack, an unack, a silence or a
// resolution is applied together with the cards it asks for
// (UpdateIncident). Nothing about an incident is kept in a process: a
// second replica on a shared database reads the same truth.
//
// The routed group is stored once, with the notification that carries it;
// an incident names its latest card (Incident.LastCard) and each card row
// records the alerts it showed (Notification.Alerts).

// ErrNoIncident is returned for an incident the store does not have.
var ErrNoIncident = errors.New("incident not found")

// IncidentQuery selects incidents. Zero fields select everything.
type IncidentQuery struct {
	States []incident.State
	// InStateBefore: in their state since before this (escalation:
	// "firing and unacknowledged for N minutes" is States = [Firing],
	// InStateBefore = now - N).
	InStateBefore time.Time
	// UpdatedSince: changed at or after this.
	UpdatedSince time.Time
	// Silenced: only incidents holding or owing silences.
	Silenced bool
	Limit    int
}

// IncidentUpdate is what an UpdateIncident function decides: the
// incident's next state with its timeline, and the notifications to queue
// in the same transaction.
type IncidentUpdate struct {
	Change  incident.Change
	Enqueue []Notification
	// Steps are escalation steps this update takes (its Enqueue pages
	// them); one taken already fails the update with ErrStepTaken.
	Steps []EscalationStep
}

// incidentMigration creates the incident tables and moves the ack loop's
// state there; the group is no longer stored a second time as a snapshot.
var incidentMigration = migration{version: 4, name: "incidents", stmts: []string{
	`ALTER TABLE notifications ADD COLUMN kind TEXT NOT NULL DEFAULT 'group'`,
	`ALTER TABLE notifications ADD COLUMN incident_id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE notifications ADD COLUMN alerts BLOB`,
	// Ack-state cards of schema 3 were told apart by a suffix of their
	// stream and their kind was their status.
	`UPDATE notifications SET kind = status WHERE group_id LIKE '%/ack' AND status IN ('ack-confirm', 'ack-repage')`,
	`CREATE TABLE incidents (
		id          TEXT    PRIMARY KEY,
		group_id    TEXT    NOT NULL,
		receiver    TEXT    NOT NULL,
		occurrence  INTEGER NOT NULL,
		state       TEXT    NOT NULL CHECK (state IN ('firing', 'acked', 'resolved')),
		state_since INTEGER NOT NULL,
		silenced    INTEGER NOT NULL DEFAULT 0,
		last_card   TEXT    NOT NULL DEFAULT '',
		updated_at  INTEGER NOT NULL,
		version     INTEGER NOT NULL,
		data        BLOB    NOT NULL,
		UNIQUE (group_id, occurrence)
	)`,
	`CREATE INDEX incidents_state ON incidents (state, state_since)`,
	`CREATE INDEX incidents_updated ON incidents (updated_at)`,
	`CREATE TABLE incident_events (
		incident_id TEXT    NOT NULL,
		seq         INTEGER NOT NULL,
		at          INTEGER NOT NULL,
		kind        TEXT    NOT NULL,
		by_name     TEXT    NOT NULL DEFAULT '',
		detail      TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (incident_id, seq)
	)`,
	`DROP TABLE snapshots`,
	`DROP TABLE acks`,
}}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func decodeIncident(b []byte) (incident.Incident, error) {
	var inc incident.Incident
	if err := json.Unmarshal(b, &inc); err != nil {
		return incident.Incident{}, fmt.Errorf("decode incident: %w", err)
	}
	return inc, nil
}

func loadIncident(ctx context.Context, q querier, where string, args ...any) (*incident.Incident, error) {
	var data []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM incidents WHERE `+where, args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	inc, err := decodeIncident(data)
	if err != nil {
		return nil, err
	}
	return &inc, nil
}

// writeIncident stores next (its version one higher) and its timeline.
func writeIncident(ctx context.Context, tx *sql.Tx, next *incident.Incident, events []incident.Event) error {
	next.Version++
	data, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode incident %s: %w", next.ID, err)
	}
	since := next.UpdatedAt
	if next.State == incident.Firing || next.State == incident.Acked {
		since = stateSince(next, events)
	}
	silenced := 0
	if next.Silence != nil && (len(next.Silence.Live()) > 0 || len(next.Silence.ToExpire()) > 0 || next.Silence.Wanted) {
		silenced = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incidents
		(id, group_id, receiver, occurrence, state, state_since, silenced, last_card, updated_at, version, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state,
			state_since = CASE WHEN incidents.state = excluded.state THEN incidents.state_since ELSE excluded.state_since END,
			silenced = excluded.silenced, last_card = excluded.last_card, updated_at = excluded.updated_at,
			version = excluded.version, data = excluded.data`,
		next.ID, next.GroupID, next.Receiver, next.Occurrence, string(next.State), nanos(since), silenced,
		next.LastCard, nanos(next.UpdatedAt), next.Version, data); err != nil {
		return fmt.Errorf("write incident %s: %w", next.ID, err)
	}
	if len(events) == 0 {
		return nil
	}
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM incident_events WHERE incident_id = ?`, next.ID).Scan(&seq); err != nil {
		return fmt.Errorf("timeline of %s: %w", next.ID, err)
	}
	for _, e := range events {
		seq++
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_events (incident_id, seq, at, kind, by_name, detail) VALUES (?, ?, ?, ?, ?, ?)`,
			next.ID, seq, nanos(e.At), e.Kind, e.By, e.Detail); err != nil {
			return fmt.Errorf("timeline of %s: %w", next.ID, err)
		}
	}
	return nil
}

// stateSince is when the incident entered its state: the time of the
// change among events, else its last update (the upsert keeps the older
// value while the state stays).
func stateSince(inc *incident.Incident, events []incident.Event) time.Time {
	for _, e := range events {
		switch e.Kind {
		case incident.EventOpened, incident.EventReopened, incident.EventAcked, incident.EventUnacked:
			return e.At
		}
	}
	return inc.UpdatedAt
}

// observe applies a group card to its group's latest incident within
// Enqueue's transaction; skip reports that the card need not be queued.
func observe(ctx context.Context, tx *sql.Tx, n *Notification, now time.Time) (skip bool, err error) {
	cur, err := loadIncident(ctx, tx, `group_id = ? ORDER BY occurrence DESC LIMIT 1`, n.GroupID)
	if err != nil {
		return false, fmt.Errorf("incident of %s: %w", n.GroupID, err)
	}
	at := n.CreatedAt
	if at.IsZero() {
		at = now
	}
	ch := incident.Observe(cur, incident.Observation{
		GroupID: n.GroupID, Receiver: n.Receiver, Source: n.Source,
		NotificationID: n.ID, Alerts: n.Alerts, At: at,
	})
	if ch.Skip {
		return true, nil
	}
	if ch.Next == nil {
		return false, nil
	}
	n.IncidentID = ch.Next.ID
	return false, writeIncident(ctx, tx, ch.Next, ch.Events)
}

// Incident implements Store.
func (s *sqliteStore) Incident(ctx context.Context, id string) (incident.Incident, error) {
	inc, err := loadIncident(ctx, s.db, `id = ?`, id)
	if err != nil {
		return incident.Incident{}, fmt.Errorf("incident %s: %w", id, err)
	}
	if inc == nil {
		return incident.Incident{}, fmt.Errorf("incident %s: %w", id, ErrNoIncident)
	}
	return *inc, nil
}

// Incidents implements Store.
func (s *sqliteStore) Incidents(ctx context.Context, q IncidentQuery) ([]incident.Incident, error) {
	var (
		where []string
		args  []any
	)
	if len(q.States) > 0 {
		ph := make([]string, len(q.States))
		for i, st := range q.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if !q.InStateBefore.IsZero() {
		where = append(where, "state_since < ?")
		args = append(args, nanos(q.InStateBefore))
	}
	if !q.UpdatedSince.IsZero() {
		where = append(where, "updated_at >= ?")
		args = append(args, nanos(q.UpdatedSince))
	}
	if q.Silenced {
		where = append(where, "silenced = 1")
	}
	query := `SELECT data FROM incidents`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY updated_at DESC"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []incident.Incident
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("incidents: %w", err)
		}
		inc, err := decodeIncident(data)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// UpdateIncident implements Store.
func (s *sqliteStore) UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (IncidentUpdate, error)) (incident.Incident, Changes, error) {
	var (
		out incident.Incident
		ch  Changes
	)
	now := time.Now()
	err := s.inTx(ctx, durable, func(tx *sql.Tx) error {
		ch = Changes{}
		cur, err := loadIncident(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if cur == nil {
			return ErrNoIncident
		}
		up, err := fn(*cur)
		if err != nil {
			return err
		}
		out = *cur
		if next := up.Change.Next; next != nil {
			if next.ID != cur.ID {
				return fmt.Errorf("update changed the incident's id %s to %s", cur.ID, next.ID)
			}
			next.Version = cur.Version
			if err := writeIncident(ctx, tx, next, up.Change.Events); err != nil {
				return err
			}
			out = *next
		}
		if err := writeSteps(ctx, tx, up.Steps); err != nil {
			return err
		}
		if len(up.Enqueue) == 0 {
			return nil
		}
		ns := make([]Notification, len(up.Enqueue))
		for i, n := range up.Enqueue {
			n.SetDefaults(now)
			if n.IncidentID == "" {
				n.IncidentID = id
			}
			if err := n.Validate(); err != nil {
				return err
			}
			ns[i] = n
		}
		c, err := insert(ctx, tx, ns, now, false)
		ch = c
		return err
	})
	if err != nil {
		return incident.Incident{}, Changes{}, fmt.Errorf("update incident %s: %w", id, err)
	}
	return out, ch, nil
}

// Timeline implements Store.
func (s *sqliteStore) Timeline(ctx context.Context, id string) ([]incident.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, kind, by_name, detail FROM incident_events WHERE incident_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", id, err)
	}
	defer func() { _ = rows.Close() }()
	var out []incident.Event
	for rows.Next() {
		var (
			e  incident.Event
			at int64
		)
		if err := rows.Scan(&at, &e.Kind, &e.By, &e.Detail); err != nil {
			return nil, fmt.Errorf("timeline of %s: %w", id, err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneIncidents implements Store.
func (s *sqliteStore) PruneIncidents(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_events WHERE incident_id IN
			(SELECT id FROM incidents WHERE state = 'resolved' AND silenced = 0 AND updated_at < ?)`, nanos(before)); err != nil {
			return err
		}
		for _, table := range []string{"incident_recipients", "escalation_steps"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE incident_id IN
				(SELECT id FROM incidents WHERE state = 'resolved' AND silenced = 0 AND updated_at < ?)`, nanos(before)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM incidents WHERE state = 'resolved' AND silenced = 0 AND updated_at < ?
			AND id NOT IN (SELECT i.id FROM incidents i WHERE i.group_id = incidents.group_id ORDER BY i.occurrence DESC LIMIT 1)`, nanos(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune incidents: %w", err)
	}
	return int(n), nil
}
