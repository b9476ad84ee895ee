package ack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// Run does the work behind the acks until ctx ends: silences, the cards
// acks send, acks that webhooks ended, and every ack.poll_interval the
// polling of silenced groups. Work left when ctx ends (a silence call cut
// short) is in the store and resumes on the next start.
func (s *Service) Run(ctx context.Context) error {
	s.work(ctx)
	timer := time.NewTimer(s.pollInterval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case e := <-s.ends:
			s.endAck(ctx, e)
		case <-timer.C:
			s.poll(ctx)
			s.prune(ctx)
			timer.Reset(s.pollInterval())
		}
		s.work(ctx)
	}
}

func (s *Service) pollInterval() time.Duration {
	if d := s.state().Config.Ack.PollInterval.D(); d > 0 {
		return d
	}
	return time.Minute
}

// work does the jobs every record owes.
func (s *Service) work(ctx context.Context) {
	for id, r := range *s.recs.Load() {
		if len(r.Jobs) > 0 && ctx.Err() == nil {
			s.doJobs(ctx, id)
		}
	}
}

// doJobs does a record's jobs in order. A job does its slow part (calls
// to the source, the queue) without the lock, then applies its result to
// the record as it is then; one that fails stays for the next round.
func (s *Service) doJobs(ctx context.Context, groupID string) {
	for range 8 {
		r := s.get(groupID)
		if r == nil || len(r.Jobs) == 0 || ctx.Err() != nil {
			return
		}
		job := r.Jobs[0]
		var apply func(*record)
		switch job {
		case jobSilence:
			apply = s.createSilence(ctx, r)
		case jobConfirm:
			apply = s.confirm(ctx, r)
		case jobExpire:
			apply = s.expire(ctx, r)
		case jobRepage:
			apply = s.repage(ctx, r)
		default:
			apply = func(c *record) { c.doneJob(job) }
		}
		if apply == nil {
			return
		}
		if !s.update(ctx, groupID, r.At, apply) {
			return
		}
	}
}

// update applies fn to the group's record if it is still the ack at, and
// saves it.
func (s *Service) update(ctx context.Context, groupID string, at time.Time, fn func(*record)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.get(groupID)
	if cur == nil || !cur.At.Equal(at) {
		return false
	}
	c := cur.clone()
	fn(c)
	if err := s.save(ctx, c); err != nil {
		s.log.Error("cannot save acknowledgement; retrying later", "group_id", groupID, "err", err)
		return false
	}
	return true
}

// acked returns the acknowledged alerts as the snapshot has them.
func acked(r *record, snap *snapshot) alert.Alerts {
	var out alert.Alerts
	for _, a := range snap.Group.Alerts {
		if slices.Contains(r.Fingerprints, fingerprint(a)) {
			out = append(out, a)
		}
	}
	return out
}

// source returns the source that holds the record's alerts. The Grafana
// token goes to the configured grafana_url only, never to a URL a webhook
// payload named: a sender must not be able to collect it.
func (s *Service) source(kind, root string) (*Source, error) {
	sc := s.state().Config.Ack.Silence
	bearer := ""
	if kind == KindGrafana && sc != nil && sc.GrafanaURL != "" && root == sc.GrafanaURL {
		bearer = sc.GrafanaToken.Value()
	}
	return NewSource(kind, root, bearer, s.client)
}

// sourceRoot is where the group's alerts can be silenced: the configured
// URL, else the payload's externalURL (Alertmanager's own URL; Grafana's
// root URL).
func (s *Service) sourceRoot(r *record, snap *snapshot) (kind, root string) {
	sc := s.state().Config.Ack.Silence
	kind, root = KindAlertmanager, snap.Group.ExternalURL
	if r.Source == string(alert.SourceGrafana) {
		kind = KindGrafana
		if sc != nil && sc.GrafanaURL != "" {
			root = sc.GrafanaURL
		}
	} else if sc != nil && sc.AlertmanagerURL != "" {
		root = sc.AlertmanagerURL
	}
	return kind, root
}

func kindName(kind string) string {
	if kind == KindGrafana {
		return "Grafana"
	}
	return "Alertmanager"
}

// shortReason is a failure as the card says it.
func shortReason(kind string, err error) string {
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return fmt.Sprintf("%s 拒绝（HTTP %d）", kindName(kind), he.Status)
	}
	return kindName(kind) + " 无法访问"
}

// createSilence silences the acknowledged alerts for a short lease.
func (s *Service) createSilence(ctx context.Context, r *record) func(*record) {
	fail := func(reason string) func(*record) {
		s.m.silences.WithLabelValues(SilenceFailed).Inc()
		return func(c *record) {
			c.doneJob(jobSilence)
			if c.Silence != nil {
				c.Silence.Error = reason
			}
		}
	}
	snap, err := s.loadSnapshot(ctx, r.GroupID)
	if err != nil || snap == nil {
		s.log.Error("cannot silence: no snapshot of the group", "group_id", r.GroupID, "err", err)
		return fail("告警组数据缺失")
	}
	alerts := acked(r, snap)
	if len(alerts) == 0 {
		return fail("告警已不在告警组中")
	}
	kind, root := s.sourceRoot(r, snap)
	if root == "" {
		return fail("未配置 " + kindName(kind) + " 地址")
	}
	src, err := s.source(kind, root)
	if err != nil {
		s.log.Error("cannot silence", "group_id", r.GroupID, "err", err)
		return fail(kindName(kind) + " 地址无效")
	}
	sets, exact := silenceMatchers(alerts)
	now := s.now()
	until := r.Silence.Until
	endsAt := earlier(now.Add(s.lease(r.Silence.For)), until)
	var ids []string
	var starts []time.Time
	for _, set := range sets {
		id, err := src.PutSilence(ctx, Silence{
			Matchers:  set,
			StartsAt:  now,
			EndsAt:    endsAt,
			CreatedBy: r.By,
			Comment: fmt.Sprintf("Acknowledged in Mind by %s via mind-relay (group %s). Renewed while the alerts fire, "+
				"until %s at most; expired when they resolve or the ack is withdrawn.", r.By, r.GroupID, until.UTC().Format(time.RFC3339)),
		})
		if err != nil {
			s.log.Warn("cannot create silence", "group_id", r.GroupID, "kind", kind, "err", err)
			for _, done := range ids { // all or nothing
				_ = src.ExpireSilence(context.WithoutCancel(ctx), done)
			}
			return fail(shortReason(kind, err))
		}
		ids = append(ids, id)
		starts = append(starts, now)
	}
	s.m.silences.WithLabelValues(SilenceCreated).Add(float64(len(ids)))
	s.log.Info("silence created", "group_id", r.GroupID, "kind", kind, "silences", len(ids), "ends_at", endsAt, "until", until, "exact", exact)
	return func(c *record) {
		c.doneJob(jobSilence)
		if c.Silence == nil {
			c.Silence = &silenceState{}
		}
		sl := c.Silence
		sl.Kind, sl.Root, sl.IDs, sl.StartsAt, sl.Matchers, sl.Exact, sl.EndsAt = kind, root, ids, starts, sets, exact, endsAt
		sl.Filter, sl.Link, sl.Error, sl.Done = equalMatchers(commonLabels(alerts)), src.SilenceLink(ids[0]), "", false
		if !c.active() {
			c.addJob(jobExpire) // withdrawn while it was being made
		}
	}
}

// confirm queues the confirmation card: the group's card, orange, saying
// who acknowledged it, when, and the silence.
func (s *Service) confirm(ctx context.Context, r *record) func(*record) {
	done := func(c *record) { c.doneJob(jobConfirm) }
	if !r.active() {
		return done
	}
	snap, err := s.loadSnapshot(ctx, r.GroupID)
	if err != nil {
		return nil
	}
	if snap == nil {
		return done
	}
	if err := s.queueCard(ctx, snap, snap.Group, r.info(), false); err != nil {
		s.log.Error("cannot queue the confirmation card; retrying", "group_id", r.GroupID, "err", err)
		return nil
	}
	return done
}

// repage queues the group's card again, unacknowledged, after an unack.
func (s *Service) repage(ctx context.Context, r *record) func(*record) {
	done := func(c *record) { c.doneJob(jobRepage) }
	snap, err := s.loadSnapshot(ctx, r.GroupID)
	if err != nil {
		return nil
	}
	if snap == nil || len(snap.Group.Alerts.Firing()) == 0 {
		return done
	}
	if err := s.queueCard(ctx, snap, snap.Group, nil, false); err != nil {
		s.log.Error("cannot queue the card after unack; retrying", "group_id", r.GroupID, "err", err)
		return nil
	}
	return done
}

// expire expires the record's silences. Once the lease is over they have
// lapsed anyway, and failures stop mattering.
func (s *Service) expire(ctx context.Context, r *record) func(*record) {
	done := func(c *record) {
		c.doneJob(jobExpire)
		if c.Silence != nil {
			c.Silence.Done = true
		}
	}
	sl := r.Silence
	if sl == nil || len(sl.IDs) == 0 {
		return done
	}
	src, err := s.source(sl.Kind, sl.Root)
	if err != nil {
		return done
	}
	for _, id := range sl.IDs {
		if err := src.ExpireSilence(ctx, id); err != nil {
			if s.now().After(sl.EndsAt) {
				break
			}
			s.m.silences.WithLabelValues(SilenceFailed).Inc()
			s.log.Warn("cannot expire silence; retrying", "group_id", r.GroupID, "err", err)
			return nil
		}
		s.m.silences.WithLabelValues(SilenceExpired).Inc()
	}
	s.log.Info("silence expired", "group_id", r.GroupID, "reason", r.EndReason)
	return done
}

// poll looks after each silenced ack: resolved at the source → the
// resolved card and the silence expired; still firing → the lease renewed,
// up to the silence's end.
func (s *Service) poll(ctx context.Context) {
	for _, r := range *s.recs.Load() {
		if ctx.Err() != nil {
			return
		}
		if r.active() && r.silenced() && len(r.Jobs) == 0 {
			s.pollOne(ctx, r)
		}
	}
}

func (s *Service) pollOne(ctx context.Context, r *record) {
	sl := r.Silence
	now := s.now()
	if !now.Before(sl.Until) {
		// The silence ran its course: it lapses at the source, which
		// notifies as usual from now on (resolutions included).
		s.update(ctx, r.GroupID, r.At, func(c *record) { c.Silence.Done = true })
		return
	}
	snap, err := s.loadSnapshot(ctx, r.GroupID)
	if err != nil || snap == nil {
		return
	}
	src, err := s.source(sl.Kind, sl.Root)
	if err != nil {
		return
	}
	listed, err := src.ActiveAlerts(ctx, sl.Filter)
	if err != nil {
		s.log.Warn("cannot poll the source for acknowledged alerts", "group_id", r.GroupID, "err", err)
		return
	}
	alerts := acked(r, snap)
	firing := false
	for _, a := range alerts {
		if stillThere(a, listed) {
			firing = true
			break
		}
	}
	if !firing {
		s.resolve(ctx, r, snap, alerts)
		return
	}
	if sl.EndsAt.Sub(now) >= s.lease(sl.For)/2 || !sl.EndsAt.Before(sl.Until) {
		return
	}
	s.extend(ctx, r, src)
}

// stillThere reports whether a is among the source's alerts: the same
// fingerprint, or (Grafana adds labels of its own) every one of its labels.
func stillThere(a alert.Alert, listed []SourceAlert) bool {
	fp := fingerprint(a)
	for _, l := range listed {
		if l.Fingerprint == fp {
			return true
		}
		match := len(a.Labels) > 0
		for k, v := range a.Labels {
			if l.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// resolve sends the resolved card the silence kept the source from
// sending, and ends the ack.
func (s *Service) resolve(ctx context.Context, r *record, snap *snapshot, alerts alert.Alerts) {
	now := s.now()
	g := *snap.Group
	g.Status = alert.StatusResolved
	g.Alerts = make(alert.Alerts, 0, len(alerts))
	for _, a := range alerts {
		a.Status = alert.StatusResolved
		if a.EndsAt.IsZero() || a.EndsAt.After(now) {
			a.EndsAt = now // the source no longer lists it: resolved by now
		}
		g.Alerts = append(g.Alerts, a)
	}
	if err := s.queueCard(ctx, snap, &g, r.info(), true); err != nil {
		s.log.Error("cannot queue the resolved card; retrying at the next poll", "group_id", r.GroupID, "err", err)
		return
	}
	s.update(ctx, r.GroupID, r.At, func(c *record) {
		c.State, c.EndedAt, c.EndReason, c.ResolvedSent = stateResolved, now, "resolved", true
		c.addJob(jobExpire)
	})
	s.log.Info("acknowledged alerts resolved at the source; resolved card queued", "group_id", r.GroupID)
}

// extend renews the silences' lease.
func (s *Service) extend(ctx context.Context, r *record, src *Source) {
	sl := r.Silence
	endsAt := earlier(s.now().Add(s.lease(sl.For)), sl.Until)
	ids := slices.Clone(sl.IDs)
	for i, id := range sl.IDs {
		cur, err := src.GetSilence(ctx, id)
		if err != nil {
			s.m.silences.WithLabelValues(SilenceFailed).Inc()
			s.log.Warn("cannot read silence to renew it", "group_id", r.GroupID, "err", err)
			return
		}
		cur.EndsAt = endsAt
		if cur.Status != nil && cur.Status.State == "expired" {
			// Someone expired it at the source: respect that.
			s.update(ctx, r.GroupID, r.At, func(c *record) { c.Silence.Done = true })
			return
		}
		nid, err := src.PutSilence(ctx, cur)
		if err != nil {
			s.m.silences.WithLabelValues(SilenceFailed).Inc()
			s.log.Warn("cannot renew silence", "group_id", r.GroupID, "err", err)
			return
		}
		ids[i] = nid
		s.m.silences.WithLabelValues(SilenceExtended).Inc()
	}
	s.update(ctx, r.GroupID, r.At, func(c *record) {
		c.Silence.IDs, c.Silence.EndsAt = ids, endsAt
		c.Silence.Link = src.SilenceLink(ids[0])
	})
}

// prune forgets what is old, at most hourly.
func (s *Service) prune(ctx context.Context) {
	now := s.now()
	if now.Sub(s.lastPrune) < time.Hour {
		return
	}
	s.lastPrune = now
	if n, err := s.st.PruneAcks(ctx, now.Add(-retention)); err != nil {
		s.log.Warn("cannot prune ack state", "err", err)
	} else if n > 0 {
		s.log.Debug("ack state pruned", "rows", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*record{}
	for id, r := range *s.recs.Load() {
		if r.active() || len(r.Jobs) > 0 || now.Sub(r.EndedAt) < keepEnded {
			next[id] = r
		}
	}
	s.recs.Store(&next)
	s.seenMu.Lock()
	for id, t := range s.seen {
		if now.Sub(t) > time.Hour {
			delete(s.seen, id)
		}
	}
	s.seenMu.Unlock()
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
