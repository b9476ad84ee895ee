// Package ack is the ack loop: on-call engineers acknowledge (and silence)
// alert groups from the card, from the relay's ack page or with chat
// commands, and the relay keeps the promise that makes acks safe.
//
// An ack is recorded for a group (alert.GroupID: one sender group as sent
// to one relay receiver) and covers the alerts firing when it was given.
// While it holds, repeat notifications render orange (AckFor); a firing
// alert that joins the group, or a higher severity, clears it and the group
// pages red again. It ends when the alerts resolve or someone withdraws it.
//
// With ack.silence set, an ack also silences the acknowledged alerts at
// their source. Alertmanager does not notify a resolution of silenced
// alerts (alertmanager#226), so the silence is kept short and renewed while
// the alerts fire, Run polls the source for them, and once they are gone
// the relay sends the resolved card itself and expires the silence.
//
// Everything an ack sends (the confirmation card, the resolved card, the
// answers to chat commands) goes through the durable queue. The state is
// in the store (store.AckStore) and, for the webhook path, in memory:
// AckFor never touches the store.
package ack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// Queue takes notifications for delivery (delivery.Queue).
type Queue interface {
	Submit(ctx context.Context, ns []store.Notification) error
}

// Options are the service's collaborators.
type Options struct {
	Store store.AckStore
	Queue Queue
	// State is the relay's live state: config (secret, silence settings,
	// receivers) and renderer.
	State func() *relay.State
	// HTTPClient calls the sources (default: its own client).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

const (
	// keepEnded is how long an ended ack stays in memory: long enough to
	// drop the source's own resolved notification after the relay sent its
	// resolved card.
	keepEnded = 24 * time.Hour
	// retention is how long ended acks and old snapshots stay in the store.
	retention = 7 * 24 * time.Hour
	// listWindow is how far back `alerts` looks for firing groups.
	listWindow = 7 * 24 * time.Hour
	// minLease is the shortest silence the source holds at a time.
	minLease = 5 * time.Minute
	// ChatReceiver is the receiver name of chat answers in the queue (a
	// bounded metric label, never an open_id).
	ChatReceiver = "mind-chat"
)

// Service is the ack loop. It is safe for concurrent use.
type Service struct {
	st     store.AckStore
	queue  Queue
	state  func() *relay.State
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	m      *metrics

	mu   sync.Mutex                         // serialises changes to records
	recs atomic.Pointer[map[string]*record] // copy on write; read by AckFor
	wake chan struct{}
	ends chan endRequest

	seenMu sync.Mutex
	seen   map[string]time.Time // message ids answered (Mind may resend an event)

	lastPrune time.Time
}

type endRequest struct {
	groupID string
	at      time.Time // identifies the ack
	state   string
	reason  string
}

var _ relay.AckLookup = (*Service)(nil)

// New loads the acks in force and returns the service; Run does the work
// behind.
func New(ctx context.Context, opts Options, reg prometheus.Registerer) (*Service, error) {
	if opts.Store == nil || opts.Queue == nil || opts.State == nil {
		return nil, errors.New("ack: store, queue and state are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A source that redirects is not followed: credentials and
			// silences go to the host the config or payload named, no other.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s := &Service{
		st:     opts.Store,
		queue:  opts.Queue,
		state:  opts.State,
		client: opts.HTTPClient,
		log:    opts.Logger.With("component", "ack"),
		now:    opts.Now,
		m:      newMetrics(reg),
		wake:   make(chan struct{}, 1),
		ends:   make(chan endRequest, 1024),
		seen:   map[string]time.Time{},
	}
	ars, err := s.st.Acks(ctx, s.now().Add(-keepEnded))
	if err != nil {
		return nil, fmt.Errorf("ack: load: %w", err)
	}
	recs := make(map[string]*record, len(ars))
	for _, ar := range ars {
		r, err := decodeRecord(ar)
		if err != nil {
			s.log.Error("unreadable ack record skipped", "group_id", ar.GroupID, "err", err)
			continue
		}
		recs[r.GroupID] = r
	}
	s.recs.Store(&recs)
	return s, nil
}

func (s *Service) get(groupID string) *record { return (*s.recs.Load())[groupID] }

// put replaces a record in memory; callers hold s.mu.
func (s *Service) put(r *record) {
	next := maps.Clone(*s.recs.Load())
	next[r.GroupID] = r
	s.recs.Store(&next)
}

// save writes r durably, then makes it the record in memory; callers hold
// s.mu.
func (s *Service) save(ctx context.Context, r *record) error {
	ar, err := r.encode()
	if err != nil {
		return err
	}
	ar.UpdatedAt = s.now()
	if err := s.st.PutAck(ctx, ar); err != nil {
		return err
	}
	s.put(r)
	return nil
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Snapshot implements relay.AckLookup. With acks off (no ack.secret)
// there is nothing to act on later, and nothing is kept.
func (s *Service) KeepsSnapshots() bool {
	return s.state().Config.Ack.Enabled()
}

// AckFor implements relay.AckLookup from memory: the webhook path never
// waits for the store. An ack that the group's new state ends (a new
// alert, a higher severity, all resolved) is ended behind, by Run.
func (s *Service) AckFor(_ context.Context, groupID string, g *alert.Group) (*render.AckInfo, error) {
	r := s.get(groupID)
	if r == nil {
		return nil, nil
	}
	if r.active() {
		switch v := judge(r, g); v {
		case keep:
			return r.info(), nil
		case allResolved:
			s.requestEnd(endRequest{groupID, r.At, stateResolved, v.String()})
			return r.info(), nil
		default:
			s.requestEnd(endRequest{groupID, r.At, stateCleared, v.String()})
			return nil, nil
		}
	}
	if r.State == stateResolved && judge(r, g) == allResolved && subset(fingerprints(g.Alerts), r.Fingerprints) {
		if r.ResolvedSent && s.now().Sub(r.EndedAt) < keepEnded {
			return nil, relay.ErrSkip // the relay sent this resolution already
		}
		return r.info(), nil
	}
	return nil, nil
}

func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Service) requestEnd(e endRequest) {
	select {
	case s.ends <- e:
	default:
		// Full: the next notification of the group asks again.
	}
}

// who acknowledges.
type who struct {
	Name   string
	OpenID string
	Via    string // card, web, chat
}

// outcome is what an ack or unack did.
type outcome struct {
	Result string
	Rec    *record   // the group's record after it, if any
	Snap   *snapshot // the group, if known
}

// loadSnapshot returns the group's snapshot, or nil when there is none.
func (s *Service) loadSnapshot(ctx context.Context, groupID string) (*snapshot, error) {
	sn, err := s.st.Snapshot(ctx, groupID)
	if errors.Is(err, store.ErrNoSnapshot) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(sn)
}

// ack acknowledges the group's firing alerts. silenceFor > 0 asks for a
// silence of that length whatever ack.silence says (the chat command).
func (s *Service) ack(ctx context.Context, groupID string, w who, silenceFor time.Duration) (outcome, error) {
	snap, err := s.loadSnapshot(ctx, groupID)
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return outcome{Result: ResultError}, err
	}
	if snap == nil {
		s.m.acks.WithLabelValues(ResultUnknownGroup).Inc()
		return outcome{Result: ResultUnknownGroup}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	cur := s.get(groupID)
	firing := snap.Group.Alerts.Firing()
	if len(firing) == 0 {
		s.m.acks.WithLabelValues(ResultResolved).Inc()
		return outcome{Result: ResultResolved, Rec: cur, Snap: snap}, nil
	}
	if cur != nil && cur.active() && judge(cur, snap.Group) == keep {
		if silenceFor <= 0 {
			s.m.acks.WithLabelValues(ResultAlreadyAcked).Inc()
			return outcome{Result: ResultAlreadyAcked, Rec: cur, Snap: snap}, nil
		}
		// `silence` on an acknowledged group: (re)silence for the new
		// length.
		r := cur.clone()
		if r.Silence == nil {
			r.Silence = &silenceState{}
		}
		r.Silence.For, r.Silence.Until, r.Silence.Error, r.Silence.Done = silenceFor, now.Add(silenceFor), "", false
		if len(r.Silence.IDs) == 0 {
			r.addJob(jobSilence)
		}
		r.addJob(jobConfirm)
		if err := s.save(ctx, r); err != nil {
			s.m.acks.WithLabelValues(ResultError).Inc()
			return outcome{Result: ResultError}, err
		}
		s.poke()
		s.m.acks.WithLabelValues(ResultAlreadyAcked).Inc()
		return outcome{Result: ResultAlreadyAcked, Rec: r, Snap: snap}, nil
	}

	sev, rank := maxSeverity(firing)
	r := &record{
		GroupID:      groupID,
		Receiver:     snap.Receiver,
		Source:       snap.Source,
		State:        stateAcked,
		Fingerprints: fingerprints(firing),
		Severity:     sev,
		SeverityRank: rank,
		By:           w.Name,
		ByOpenID:     w.OpenID,
		Via:          w.Via,
		At:           now,
	}
	for _, a := range firing {
		if !a.StartsAt.IsZero() && (r.StartedAt.IsZero() || a.StartsAt.Before(r.StartedAt)) {
			r.StartedAt = a.StartsAt
		}
	}
	if sc := s.state().Config.Ack.Silence; sc != nil {
		d := silenceFor
		if d <= 0 {
			d = sc.Duration.D()
		}
		r.Silence = &silenceState{For: d, Until: now.Add(d)}
		r.addJob(jobSilence)
	}
	if cur != nil && cur.silenced() {
		// The ack this one replaces left a silence behind: expire it
		// before making the new one.
		r.Jobs = append([]string{jobExpire}, r.Jobs...)
		old := *cur.Silence
		if r.Silence == nil {
			r.Silence = &silenceState{}
		}
		r.Silence.Kind, r.Silence.Root, r.Silence.IDs = old.Kind, old.Root, old.IDs
	}
	r.addJob(jobConfirm)
	if err := s.save(ctx, r); err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return outcome{Result: ResultError}, err
	}
	s.poke()
	s.m.acks.WithLabelValues(ResultAcked).Inc()
	if !r.StartedAt.IsZero() {
		s.m.timeToAck.Observe(max(now.Sub(r.StartedAt).Seconds(), 0))
	}
	s.log.Info("group acknowledged", "group_id", groupID, "receiver", r.Receiver, "by", w.Name, "via", w.Via,
		"alerts", len(r.Fingerprints), "silence", r.Silence != nil)
	return outcome{Result: ResultAcked, Rec: r, Snap: snap}, nil
}

// unack withdraws the group's ack: its silence is expired and the group's
// card goes out again, red.
func (s *Service) unack(ctx context.Context, groupID string, w who) (outcome, error) {
	snap, err := s.loadSnapshot(ctx, groupID)
	if err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return outcome{Result: ResultError}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.get(groupID)
	if cur == nil || !cur.active() {
		if snap == nil {
			s.m.acks.WithLabelValues(ResultUnknownGroup).Inc()
			return outcome{Result: ResultUnknownGroup}, nil
		}
		s.m.acks.WithLabelValues(ResultNotAcked).Inc()
		return outcome{Result: ResultNotAcked, Rec: cur, Snap: snap}, nil
	}
	r := s.ended(cur, stateUnacked, "unack")
	r.EndedBy = w.Name
	if snap != nil && len(snap.Group.Alerts.Firing()) > 0 {
		r.addJob(jobRepage)
	}
	if err := s.save(ctx, r); err != nil {
		s.m.acks.WithLabelValues(ResultError).Inc()
		return outcome{Result: ResultError}, err
	}
	s.poke()
	s.m.acks.WithLabelValues(ResultUnacked).Inc()
	s.log.Info("acknowledgement withdrawn", "group_id", groupID, "by", w.Name, "via", w.Via)
	return outcome{Result: ResultUnacked, Rec: r, Snap: snap}, nil
}

// ended returns a copy of r ended in state for reason: what it still owed
// is dropped, and its silence is to be expired.
func (s *Service) ended(r *record, state, reason string) *record {
	c := r.clone()
	c.State, c.EndedAt, c.EndReason = state, s.now(), reason
	c.doneJob(jobSilence)
	c.doneJob(jobConfirm)
	if c.silenced() {
		c.addJob(jobExpire)
	}
	return c
}

// endAck ends the ack a webhook found ended (AckFor), unless it changed
// meanwhile.
func (s *Service) endAck(ctx context.Context, e endRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.get(e.groupID)
	if cur == nil || !cur.active() || !cur.At.Equal(e.at) {
		return
	}
	r := s.ended(cur, e.state, e.reason)
	if err := s.save(ctx, r); err != nil {
		s.log.Error("cannot end acknowledgement; the next notification tries again", "group_id", e.groupID, "err", err)
		return
	}
	s.log.Info("acknowledgement ended", "group_id", e.groupID, "reason", e.reason)
}

// render builds the card of g for snap's receiver.
func (s *Service) render(snap *snapshot, g *alert.Group, info *render.AckInfo, notificationID string) (*card.Card, error) {
	st := s.state()
	return st.Renderer.Render(g, render.Input{
		Receiver:       snap.receiver(st.Config),
		GroupID:        snap.GroupID,
		NotificationID: notificationID,
		Ack:            info,
	})
}

// queueCard sends g's card to the group's receiver through the queue, in
// the group's stream. withSnapshot makes g the group's snapshot too.
func (s *Service) queueCard(ctx context.Context, snap *snapshot, g *alert.Group, info *render.AckInfo, withSnapshot bool) error {
	id := uuid.NewString()
	if !withSnapshot {
		return s.queueAckCard(ctx, snap, g, info, id)
	}
	c, err := s.render(snap, g, info, id)
	if err != nil {
		return err
	}
	content, err := c.JSON()
	if err != nil {
		return err
	}
	rc := snap.receiver(s.state().Config)
	req, err := mind.NewCardRequest(id, rc.OpenIDs, rc.AllSubscribers, content)
	if err != nil {
		return err
	}
	n := store.Notification{
		ID: id, GroupID: snap.GroupID, Receiver: snap.Receiver, Source: snap.Source,
		Status: statusOf(g), Request: req, CreatedAt: s.now(),
	}
	if n.Snapshot, err = relay.EncodeGroup(g, rc); err != nil {
		return err
	}
	return s.queue.Submit(ctx, []store.Notification{n})
}

// queueAckCard queues a card that only reports the ack state: the
// confirmation (info set) or the group paging again after an unack. It
// goes in a stream of its own (relay.AckStream): in the group's stream it
// would supersede a resolved notification that came in meanwhile. It is
// rendered when it is sent (AckCard decides how, or to skip it), so that
// once the group has moved on — resolved, acked again, unacked — it never
// tells an older story after the group's own cards.
func (s *Service) queueAckCard(ctx context.Context, snap *snapshot, g *alert.Group, info *render.AckInfo, id string) error {
	rc := snap.receiver(s.state().Config)
	endpoint, err := mind.CardEndpoint(rc.OpenIDs, rc.AllSubscribers)
	if err != nil {
		return err
	}
	data, err := relay.EncodeGroup(g, rc)
	if err != nil {
		return err
	}
	kind := relay.AckCardRepage
	if info != nil {
		kind = relay.AckCardConfirm
	}
	return s.queue.Submit(ctx, []store.Notification{{
		ID: id, GroupID: snap.GroupID + relay.AckStream, Receiver: snap.Receiver, Source: snap.Source,
		Status: kind, Request: mind.Request{Endpoint: endpoint, RequestID: id}, Group: data, CreatedAt: s.now(),
	}})
}

// AckCard implements relay.AckLookup for ack-state cards at send time. A
// confirmation goes out only while the group is still acknowledged and
// firing, with the ack as it is now; a repage only while the group fires
// and nobody has acknowledged it again.
func (s *Service) AckCard(ctx context.Context, groupID, kind string) (*render.AckInfo, bool) {
	r := s.get(groupID)
	firing := true // when the store cannot say, the ack record decides alone
	if snap, err := s.loadSnapshot(ctx, groupID); err != nil {
		s.log.Warn("reading the group's snapshot for an ack-state card failed", "group_id", groupID, "err", err)
	} else {
		firing = snap != nil && len(snap.Group.Alerts.Firing()) > 0
	}
	switch kind {
	case relay.AckCardConfirm:
		if r == nil || !r.active() || !firing {
			return nil, true
		}
		return r.info(), false
	case relay.AckCardRepage:
		if (r != nil && r.active()) || !firing {
			return nil, true
		}
		return nil, false
	default:
		return nil, true
	}
}

func statusOf(g *alert.Group) string {
	if len(g.Alerts.Firing()) > 0 {
		return alert.StatusFiring
	}
	return alert.StatusResolved
}

// secret is the live ack secret.
func (s *Service) secret() []byte { return []byte(s.state().Config.Ack.Secret.Value()) }

// verify checks an ack token; result is the acks_total result of a bad one.
func (s *Service) verify(tok string) (token.Claims, string, error) {
	c, err := token.Verify(s.secret(), tok, s.now())
	switch {
	case err == nil && c.GroupID == "":
		return c, ResultInvalidToken, errors.New("token names no group")
	case errors.Is(err, token.ErrExpired):
		return c, ResultExpiredToken, err
	case err != nil:
		return c, ResultInvalidToken, err
	}
	return c, "", nil
}

// groupName is what the group is about, for chat answers and the page.
func groupName(g *alert.Group) string {
	if n := g.CommonLabels["alertname"]; n != "" {
		return n
	}
	if n := g.GroupLabels["alertname"]; n != "" {
		return n
	}
	for _, a := range g.Alerts {
		if n := a.Labels["alertname"]; n != "" {
			return n + " 等"
		}
	}
	return "告警"
}

// lease is how long a silence holds at the source before the relay renews
// it: a relay that is gone cannot hide alerts for longer.
func (s *Service) lease(d time.Duration) time.Duration {
	l := max(minLease, 3*s.state().Config.Ack.PollInterval.D())
	return min(l, d)
}
