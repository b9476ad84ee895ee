package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// escalationMigration records who got an incident's cards (they may ack
// it) and the escalation steps taken, each once.
var escalationMigration = migration{version: 5, name: "escalation", stmts: []string{
	`CREATE TABLE incident_recipients (
		incident_id TEXT    NOT NULL,
		open_id     TEXT    NOT NULL,
		at          INTEGER NOT NULL,
		PRIMARY KEY (incident_id, open_id)
	)`,
	`CREATE TABLE escalation_steps (
		id          TEXT    PRIMARY KEY,
		incident_id TEXT    NOT NULL,
		policy      TEXT    NOT NULL,
		epoch       INTEGER NOT NULL,
		round       INTEGER NOT NULL,
		step        INTEGER NOT NULL,
		at          INTEGER NOT NULL
	)`,
	`CREATE INDEX escalation_steps_incident ON escalation_steps (incident_id, epoch)`,
}}

// EscalationStep is one step of an escalation policy taken for an
// incident: its id is derived from the incident, the firing period
// (Epoch: when the incident last started firing unacknowledged), the round
// and the step, so that taking it twice is refused.
type EscalationStep struct {
	ID         string
	IncidentID string
	Policy     string
	Epoch      time.Time
	Round      int // 0 for the first run of the steps, 1 for the first repeat
	Step       int // 1-based
	At         time.Time
}

// ErrStepTaken is returned by UpdateIncident when an escalation step of the
// update was taken already: nothing of the update is committed.
var ErrStepTaken = errors.New("escalation step already taken")

// writeSteps records steps within tx, failing with ErrStepTaken when one
// exists: the update that would page a second time is rolled back.
func writeSteps(ctx context.Context, tx *sql.Tx, steps []EscalationStep) error {
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, `INSERT INTO escalation_steps (id, incident_id, policy, epoch, round, step, at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			st.ID, st.IncidentID, st.Policy, nanos(st.Epoch), st.Round, st.Step, nanos(st.At))
		if err != nil {
			return fmt.Errorf("escalation step %s: %w", st.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("escalation step %s: %w", st.ID, err)
		} else if n == 0 {
			return fmt.Errorf("step %d of round %d of incident %s: %w", st.Step, st.Round, st.IncidentID, ErrStepTaken)
		}
	}
	return nil
}

// EscalationSteps implements Store.
func (s *sqliteStore) EscalationSteps(ctx context.Context, incidentID string) ([]EscalationStep, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, policy, epoch, round, step, at FROM escalation_steps
		WHERE incident_id = ? ORDER BY at, round, step`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("escalation steps of %s: %w", incidentID, err)
	}
	defer func() { _ = rows.Close() }()
	var out []EscalationStep
	for rows.Next() {
		st := EscalationStep{IncidentID: incidentID}
		var epoch, at int64
		if err := rows.Scan(&st.ID, &st.Policy, &epoch, &st.Round, &st.Step, &at); err != nil {
			return nil, fmt.Errorf("escalation steps of %s: %w", incidentID, err)
		}
		st.Epoch, st.At = fromNanos(epoch), fromNanos(at)
		out = append(out, st)
	}
	return out, rows.Err()
}

// RecordRecipients implements Store.
func (s *sqliteStore) RecordRecipients(ctx context.Context, incidentID string, openIDs []string, at time.Time) error {
	if incidentID == "" || len(openIDs) == 0 {
		return nil
	}
	// Bookkeeping, on the send path of every card: a power loss may lose
	// the last records, costing a chat ack of theirs, never a page.
	err := s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		for _, id := range openIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_recipients (incident_id, open_id, at) VALUES (?, ?, ?)
				ON CONFLICT (incident_id, open_id) DO NOTHING`, incidentID, id, nanos(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the recipients of incident %s: %w", incidentID, err)
	}
	return nil
}

// Recipients implements Store.
func (s *sqliteStore) Recipients(ctx context.Context, incidentID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT open_id FROM incident_recipients WHERE incident_id = ? ORDER BY at, open_id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("recipients of incident %s: %w", incidentID, err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("recipients of incident %s: %w", incidentID, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
