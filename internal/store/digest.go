package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind"
)

// DigestRule says when a receiver's backlog becomes a digest (Fold).
type DigestRule struct {
	// After: more than this many foldable cards pending for one receiver
	// make a digest; 0 or less never does.
	After int
	// MinPriority: cards with a Priority of at least this are foldable;
	// more urgent ones are always sent alone.
	MinPriority int
	// MinInterval spaces a receiver's digests: a digest made sooner than
	// this after the receiver's last one is not due before then, and what
	// is folded meanwhile joins it.
	MinInterval time.Duration
}

// Digest is one digest Fold queued.
type Digest struct {
	Notification Notification // the digest card, KindDigest, pending
	Digested     []Ref        // the cards it folded now, StateDigested, oldest first
	// Replaced are the receiver's digests still pending: the new one
	// lists their cards too, and they are superseded by it.
	Replaced []Ref
}

// DigestData is the Group of a KindDigest notification: the IDs of the
// cards it replaced, oldest first.
type DigestData struct {
	V   int      `json:"v"`
	IDs []string `json:"digested"`
}

const digestVersion = 1

// DecodeDigest reads a KindDigest notification's Group.
func DecodeDigest(b []byte) (DigestData, error) {
	var d DigestData
	if err := json.Unmarshal(b, &d); err != nil {
		return DigestData{}, fmt.Errorf("decode the digest: %w", err)
	}
	if d.V != digestVersion {
		return DigestData{}, fmt.Errorf("digest has unknown format %d", d.V)
	}
	return d, nil
}

// foldable selects a receiver's cards Fold may replace.
const foldable = `state = 'pending' AND kind = 'group' AND priority >= ?`

// Fold implements Store.
func (s *sqliteStore) Fold(ctx context.Context, now time.Time, rule DigestRule) ([]Digest, error) {
	if rule.After <= 0 {
		return nil, nil
	}
	// A read first: most calls find no flood and take no write lock.
	over, err := floods(ctx, s.db, rule)
	if err != nil || len(over) == 0 {
		return nil, err
	}
	var out []Digest
	err = s.inTx(ctx, bookkeeping, func(tx *sql.Tx) error {
		out = nil
		over, err := floods(ctx, tx, rule)
		if err != nil {
			return err
		}
		for _, receiver := range over {
			d, err := fold(ctx, tx, receiver, now, rule)
			if err != nil {
				return fmt.Errorf("receiver %s: %w", receiver, err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fold: %w", err)
	}
	return out, nil
}

// floods lists the receivers with more than rule.After foldable cards.
func floods(ctx context.Context, q querier, rule DigestRule) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT receiver FROM notifications WHERE `+foldable+`
		GROUP BY receiver HAVING COUNT(*) > ? ORDER BY receiver`, rule.MinPriority, rule.After)
	if err != nil {
		return nil, fmt.Errorf("fold: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("fold: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// fold replaces receiver's foldable cards with one digest card.
func fold(ctx context.Context, tx *sql.Tx, receiver string, now time.Time, rule DigestRule) (Digest, error) {
	id := NewID()
	rows, err := tx.QueryContext(ctx, `UPDATE notifications SET state = 'digested', superseded_by = ?, updated_at = ?
		WHERE receiver = ? AND `+foldable+` RETURNING seq, id, group_id, endpoint, priority`,
		id, nanos(now), receiver, rule.MinPriority)
	if err != nil {
		return Digest{}, err
	}
	type row struct {
		seq                 int64
		id, group, endpoint string
		priority            int
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.id, &r.group, &r.endpoint, &r.priority); err != nil {
			_ = rows.Close()
			return Digest{}, err
		}
		got = append(got, r)
	}
	if err := rows.Close(); err != nil {
		return Digest{}, err
	}
	if err := rows.Err(); err != nil {
		return Digest{}, err
	}
	if len(got) == 0 {
		return Digest{}, fmt.Errorf("no cards to fold")
	}
	// RETURNING promises no order.
	for i := 1; i < len(got); i++ {
		for j := i; j > 0 && got[j].seq < got[j-1].seq; j-- {
			got[j], got[j-1] = got[j-1], got[j]
		}
	}
	d := Digest{}
	data := DigestData{V: digestVersion}
	priority := got[0].priority
	// A digest still waiting (Mind slow, the flood going on) is merged
	// into the new one: one digest card per receiver at a time.
	prev, err := tx.QueryContext(ctx, `UPDATE notifications SET state = 'superseded', superseded_by = ?, updated_at = ?
		WHERE receiver = ? AND state = 'pending' AND kind = 'digest' RETURNING seq, id, group_id, group_data, priority`,
		id, nanos(now), receiver)
	if err != nil {
		return Digest{}, err
	}
	type old struct {
		seq      int64
		ref      Ref
		ids      []string
		priority int
	}
	var olds []old
	for prev.Next() {
		var (
			o    old
			data []byte
		)
		if err := prev.Scan(&o.seq, &o.ref.ID, &o.ref.GroupID, &data, &o.priority); err != nil {
			_ = prev.Close()
			return Digest{}, err
		}
		dd, err := DecodeDigest(data)
		if err != nil {
			_ = prev.Close()
			return Digest{}, err
		}
		o.ref.Receiver, o.ids = receiver, dd.IDs
		olds = append(olds, o)
	}
	if err := prev.Close(); err != nil {
		return Digest{}, err
	}
	slices.SortFunc(olds, func(a, b old) int { return cmp.Compare(a.seq, b.seq) })
	for _, o := range olds {
		d.Replaced = append(d.Replaced, o.ref)
		data.IDs = append(data.IDs, o.ids...)
		priority = min(priority, o.priority)
	}
	for _, r := range got {
		d.Digested = append(d.Digested, Ref{ID: r.id, Receiver: receiver, GroupID: r.group})
		data.IDs = append(data.IDs, r.id)
		priority = min(priority, r.priority)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Digest{}, err
	}
	n := Notification{
		ID: id, GroupID: "digest/" + id, Receiver: receiver, Status: "digest", Kind: KindDigest,
		Priority: priority, Group: b, CreatedAt: now,
		Request: mind.Request{Endpoint: got[0].endpoint, RequestID: id},
	}
	if rule.MinInterval > 0 {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(created_at) FROM notifications
			WHERE receiver = ? AND kind = 'digest' AND state IN ('sending', 'delivered', 'dead')`, receiver).Scan(&last); err != nil {
			return Digest{}, err
		}
		if due := fromNanos(last.Int64).Add(rule.MinInterval); last.Valid && due.After(now) {
			n.NextAttemptAt = due
		}
	}
	n.SetDefaults(now)
	if _, err := insert(ctx, tx, []Notification{n}, now, false); err != nil {
		return Digest{}, err
	}
	n.State = StatePending
	d.Notification = n
	return d, nil
}
