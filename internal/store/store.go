// Package store keeps the relay's outbox and its incidents: every
// notification accepted from a webhook is written here, durably, before the
// sender gets its 2xx, and stays until Mind has accepted it, a newer
// notification of its group has made it pointless, or it is dead-lettered;
// beside it, each alert group's incidents (package incident), the state
// every ack decision reads (incidents.go).
//
// The Store interface speaks of notifications and outcomes, never of SQL, so
// that another backend (PostgreSQL, for several replicas) can sit behind it.
// The embedded default is SQLite (modernc.org/sqlite, pure Go) in WAL mode
// with synchronous=FULL: a committed write survives a crash or power loss.
//
// # Rules every backend keeps
//
//   - A stream is (Receiver, GroupID). Within a stream notifications leave in
//     the order they were enqueued (Seq), and at most one is in flight
//     (StateSending) at a time.
//   - Superseding: a pending notification is superseded, and never sent, as
//     soon as a newer notification of its stream is pending, in flight or
//     delivered. This is applied on Enqueue, on a retry outcome, on Replay
//     and on Recover.
//   - Claim takes the most urgent stream heads first (Notification.Priority,
//     decided at Enqueue), then the earliest due, then the oldest; the
//     order lives in the rows, so every process agrees on it.
//   - Dedupe keys (Notification.DedupeKey) live in the store with their
//     expiry, so that two replicas accepting the same webhook from two
//     Alertmanager peers queue it once.
//   - Fold replaces a receiver's flood of non-urgent group cards by one
//     digest card, in one transaction; every folded card stays, digested.
//   - The request id (Request.RequestID, Mind's x-request-id) of a
//     notification never changes across retries or restarts, so Mind drops a
//     resend of something it already accepted. Only Replay, a deliberate
//     resend, gives a fresh one.
//
// Schema changes are migrations appended to the list in migrate.go; its
// comment says how.
package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
)

// State is where a notification is in its life.
type State string

// States. Pending and Sending are "in the queue"; the others are final,
// except Dead, which Replay turns back into Pending.
const (
	StatePending    State = "pending"    // waiting to be sent (first time or retry)
	StateSending    State = "sending"    // claimed by a worker, in flight
	StateDelivered  State = "delivered"  // Mind accepted it
	StateSuperseded State = "superseded" // a newer notification of its stream replaced it
	StateDead       State = "dead"       // permanent failure or max_age exceeded
	StateDigested   State = "digested"   // folded into a digest card (SupersededBy names it), not sent alone
)

// Notification is one message towards Mind, as kept in the outbox.
type Notification struct {
	// ID identifies the row for its whole life (logs, dead-letter list,
	// Replay). When empty on Enqueue it is Request.RequestID, or a new
	// UUIDv4 when that is empty too.
	ID string
	// GroupID and Receiver make the stream that orders and supersedes
	// notifications (an Alertmanager group key, a Grafana group). An empty
	// GroupID makes the notification a stream of its own.
	GroupID  string
	Receiver string
	Source   string // "alertmanager", "grafana": informational
	Status   string // "firing", "resolved": informational
	// Request is sent as is when its Body is set. Its RequestID is Mind's
	// x-request-id: kept across retries and restarts; defaults to ID.
	// With an empty Body the card is rendered at send time from Group
	// (the delivery queue's Prepare hook); Endpoint is set either way.
	Request mind.Request
	// Group, when set, is the routed alert group (and who it goes to) as
	// the relay encodes it, kept with the row and read back with it: what
	// the card is rendered from at send time. Opaque here.
	Group []byte
	// Kind says what the notification is: the group's own card, or a card
	// about its incident's ack (rendered at send time from that incident).
	Kind Kind
	// Alerts, on a group card, are the alerts the card shows. Enqueue
	// observes the card with the group's incident in the same transaction
	// (incident.Observe) and records them: a click on this card acks
	// exactly these.
	Alerts []incident.AlertRef
	// IncidentID is the incident the notification is about (set by
	// Enqueue for group cards).
	IncidentID string
	// Priority is how urgent the notification is, decided when it is
	// enqueued: 0 is the most urgent, larger is less. Claim takes the
	// most urgent stream heads first, then the oldest. Cards that answer
	// a person (ack confirmations, chat) are left at 0.
	Priority int
	// DedupeKey, when set, names the notification's content (its
	// receiver, group and alerts as the webhook had them). Enqueue skips
	// a notification whose key another accepted before DedupeUntil
	// (reported in Changes.Deduplicated) and records the key until
	// DedupeUntil otherwise; expired keys are pruned on Enqueue.
	DedupeKey   string
	DedupeUntil time.Time

	// Filled by the store.
	Seq           int64     // enqueue order, increasing
	State         State     //
	CreatedAt     time.Time // accepted from the webhook (defaults to now on Enqueue)
	QueuedAt      time.Time // entered the queue: CreatedAt, or the last Replay; max_age counts from here
	Attempts      int       // sends tried since QueuedAt
	NextAttemptAt time.Time // not claimed before this
	LastError     string    // of the last failed attempt
	UpdatedAt     time.Time // last state change
	DeliveredAt   time.Time // when Mind accepted it; zero otherwise
	SupersededBy  string    // ID of the newer notification that replaced it
	Replays       int       // times taken out of the dead letters
}

// Kind is what a notification is.
type Kind string

// Kinds of notification.
const (
	KindGroup      Kind = "group"       // the group's own card
	KindAckConfirm Kind = "ack-confirm" // an ack's confirmation
	KindAckRepage  Kind = "ack-repage"  // the group's card again after an unack
	KindChat       Kind = "chat"        // an answer to a chat command
	KindDigest     Kind = "digest"      // one card for a receiver's flood of group cards (Fold)
	KindEscalation Kind = "escalation"  // the incident's card, paged by an escalation step
	KindReminder   Kind = "reminder"    // a reminder to the acker that the incident still fires
)

// Ref names a notification in a change report.
type Ref struct {
	ID       string
	Receiver string
	GroupID  string
}

// Changes reports what a write did beyond its obvious effect.
type Changes struct {
	// Count is what the call reports on: rows inserted (Enqueue; an ID
	// that already exists is skipped), rows requeued (Replay, Recover),
	// outcomes applied (Complete).
	Count int
	// Superseded are the pending notifications this write superseded.
	Superseded []Ref
	// Skipped are group cards Enqueue did not queue: their incident says
	// the relay sent that resolution already.
	Skipped []Ref
	// Deduplicated are notifications Enqueue did not queue: one with
	// their DedupeKey was accepted within its window.
	Deduplicated []Ref
}

// Outcome is the result of one claimed notification, reported back with
// Complete.
type Outcome struct {
	ID string
	// State is StateDelivered, StatePending (try again), StateDead, or
	// StateSuperseded: not sent because something else already told the
	// receiver (the ack loop sent its card).
	State State
	At    time.Time // when it happened
	// Attempts is the notification's attempt count after this outcome.
	Attempts int
	// NextAttemptAt is when to try again (StatePending).
	NextAttemptAt time.Time
	// Error is the last error (StatePending, StateDead).
	Error string
	// SupersededBy says what replaced it (StateSuperseded).
	SupersededBy string
}

// Stats is the shape of the queue.
type Stats struct {
	Pending int
	Sending int
	Dead    int
	// OldestQueuedAt is the QueuedAt of the oldest pending or sending
	// notification; zero when there is none.
	OldestQueuedAt time.Time
}

// Store is the durable outbox. All methods are safe for concurrent use.
//
// Enqueue and Replay return only once their commit survives a power loss.
// The scheduler's bookkeeping (Claim, Complete, Recover, Prune) may be
// committed more cheaply: losing its last commits to a power cut must only
// ever leave rows pending or sending, which Recover and the unchanged
// request id make harmless (the SQLite store skips the fsync for them).
type Store interface {
	// Enqueue inserts ns in one transaction as StatePending and supersedes
	// what they make pointless. Notifications whose ID already exists are
	// skipped, so enqueueing the same notification twice is harmless.
	Enqueue(ctx context.Context, ns []Notification) (Changes, error)
	// Claim moves up to limit notifications that are due at now to
	// StateSending and returns them: it picks the most urgent (lowest
	// Priority) first, then the earliest due, then the oldest, and
	// returns them most urgent first, then in enqueue order; only the oldest
	// pending notification of each stream, and only in streams with
	// nothing in flight. The order is decided from the rows alone, so
	// every process claiming from one store agrees on it.
	Claim(ctx context.Context, now time.Time, limit int) ([]Notification, error)
	// NextDue is the earliest NextAttemptAt among the notifications Claim
	// could return; ok is false when there is none.
	NextDue(ctx context.Context) (next time.Time, ok bool, err error)
	// Complete records outcomes of claimed notifications in one
	// transaction. Outcomes for notifications no longer in StateSending are
	// ignored. A notification sent back to StatePending is superseded
	// instead if its stream has a newer one.
	Complete(ctx context.Context, outcomes []Outcome) (Changes, error)
	// Recover returns every StateSending notification, in flight when a
	// previous process stopped, to StatePending, due at now, with its
	// request id unchanged. Call it once before claiming, from the one
	// process that delivers.
	Recover(ctx context.Context, now time.Time) (Changes, error)
	// Get returns one notification; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (Notification, error)
	// ListDead returns the dead letters, oldest first.
	ListDead(ctx context.Context) ([]Notification, error)
	// Replay returns the named dead letters (all with no ids; ids not
	// dead are ignored) to StatePending with a fresh request id, QueuedAt
	// = now and Attempts = 0. Count is the rows requeued; a replayed row
	// whose stream has since moved on is superseded at once.
	Replay(ctx context.Context, now time.Time, ids ...string) (Changes, error)
	// Fold folds each receiver's flood into a digest: when more than
	// rule.After pending group cards of one receiver have a Priority of
	// at least rule.MinPriority, they all become StateDigested, their
	// SupersededBy the digest's ID, and one KindDigest notification of
	// the receiver is queued in their place (its Group is DigestData), in
	// one transaction. Urgent cards (a lower Priority) and cards of any
	// other kind are never folded.
	Fold(ctx context.Context, now time.Time, rule DigestRule) ([]Digest, error)
	// Prune deletes delivered, superseded and digested notifications last
	// updated before before, and reports how many.
	Prune(ctx context.Context, before time.Time) (int, error)
	// Stats counts the queue.
	Stats(ctx context.Context) (Stats, error)

	// Incident returns one incident; ErrNoIncident when there is none.
	Incident(ctx context.Context, id string) (incident.Incident, error)
	// Incidents returns the incidents q selects, last updated first (then
	// by id, descending: the order IncidentQuery.After pages). It is one
	// query: "firing and unacknowledged for N minutes" is
	// IncidentQuery{States: [Firing], InStateBefore: now - N}.
	Incidents(ctx context.Context, q IncidentQuery) ([]incident.Incident, error)
	// UpdateIncident applies fn to the incident as it is now, and commits
	// its result — the incident's next state, its timeline lines and the
	// notifications to queue — in one durable transaction; concurrent
	// updates of one incident are serialised (a PostgreSQL backend locks
	// the row). fn must not do I/O: it may be called again.
	UpdateIncident(ctx context.Context, id string, fn func(incident.Incident) (IncidentUpdate, error)) (incident.Incident, Changes, error)
	// Timeline returns an incident's events, oldest first.
	Timeline(ctx context.Context, id string) ([]incident.Event, error)
	// EscalationSteps returns the escalation steps taken for an
	// incident, oldest first (UpdateIncident records them).
	EscalationSteps(ctx context.Context, incidentID string) ([]EscalationStep, error)
	// RecordRecipients remembers that an incident's card was sent to
	// openIDs (who may then ack it); Recipients lists them.
	RecordRecipients(ctx context.Context, incidentID string, openIDs []string, at time.Time) error
	Recipients(ctx context.Context, incidentID string) ([]string, error)
	// PruneIncidents deletes resolved incidents (and their timelines)
	// last updated before before, except each group's latest.
	PruneIncidents(ctx context.Context, before time.Time) (int, error)

	// CheckWritable fails unless a durable write succeeds now: the
	// readiness check.
	CheckWritable(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// ErrSkip, from a renderer at send time, means the notification need not
// be sent: what it would say has reached the receiver another way, or its
// incident moved on. The queue records it superseded, unsent.
var ErrSkip = errors.New("notification need not be sent")

// ErrInvalid marks a notification that can never be sent (no receiver, no
// endpoint, a body that is not JSON): a bug of the caller, not a fault a
// retry fixes.
var ErrInvalid = errors.New("invalid notification")

// ErrNotFound is returned by Get for an unknown ID.
var ErrNotFound = errors.New("notification not found")

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Options chooses and tunes the store.
type Options struct {
	// Driver is DriverSQLite (the default when empty) or DriverPostgres.
	Driver string
	// Path is the SQLite database file; its directory is created.
	Path string
	// DSN is the PostgreSQL connection string.
	DSN string
	// BusyTimeout is how long SQLite waits for a lock held by another
	// connection or process (default 5s).
	BusyTimeout time.Duration
}

// OptionsFromConfig turns the store section of the configuration into
// Options.
func OptionsFromConfig(c config.StoreConfig) Options {
	return Options{Driver: c.Driver, Path: c.Path, DSN: c.DSN.Value()}
}

// Open opens (creating and migrating when needed) the store opts names.
func Open(ctx context.Context, opts Options) (Store, error) {
	switch opts.Driver {
	case "", DriverSQLite:
		return openSQLite(ctx, opts, migrations)
	case DriverPostgres:
		return nil, errors.New("store driver \"postgres\" is not yet supported; use \"sqlite\"")
	default:
		return nil, fmt.Errorf("unknown store driver %q (want %q)", opts.Driver, DriverSQLite)
	}
}

// NewID returns a random UUIDv4, the form Mind documents for x-request-id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// SetDefaults fills what Enqueue would: ID (Request.RequestID, else a new
// UUIDv4), Request.RequestID (ID), GroupID (ID: a stream of its own),
// CreatedAt (now), QueuedAt (CreatedAt) and NextAttemptAt (QueuedAt).
func (n *Notification) SetDefaults(now time.Time) {
	if n.ID == "" {
		n.ID = n.Request.RequestID
		if n.ID == "" {
			n.ID = NewID()
		}
	}
	if n.Request.RequestID == "" {
		n.Request.RequestID = n.ID
	}
	if n.GroupID == "" {
		n.GroupID = n.ID
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	if n.QueuedAt.IsZero() {
		n.QueuedAt = n.CreatedAt
	}
	if n.NextAttemptAt.IsZero() {
		n.NextAttemptAt = n.QueuedAt
	}
}

// Validate reports what makes n impossible to send.
func (n Notification) Validate() error {
	switch {
	case n.ID == "":
		return errors.New("notification has no ID")
	case n.Receiver == "":
		return fmt.Errorf("notification %s has no receiver", n.ID)
	case n.Request.Endpoint == "":
		return fmt.Errorf("notification %s has no endpoint", n.ID)
	case n.Request.RequestID == "":
		return fmt.Errorf("notification %s has no request id", n.ID)
	case len(n.Request.Body) == 0 && len(n.Group) == 0:
		return fmt.Errorf("notification %s has neither a request body nor a group to render it from", n.ID)
	case len(n.Request.Body) > 0 && !json.Valid(n.Request.Body):
		return fmt.Errorf("notification %s: request body is not JSON", n.ID)
	}
	return nil
}
