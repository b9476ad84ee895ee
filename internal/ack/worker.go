package ack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/silence"
	"github.com/mindoffice/mind-relay/internal/store"
)

// maxSourceCalls bounds the incidents a round works on at once: a slow
// source must not make a round outlast the silences' lease.
const maxSourceCalls = 8

// Run does the work behind the acks until ctx ends: silences wanted or to
// expire at once, and every ack.poll_interval the polling of silenced
// incidents (resolution evidence, lease renewal). Work left when ctx ends
// is in the store and resumes on the next start.
func (s *Service) Run(ctx context.Context) error {
	s.round(ctx, false)
	timer := time.NewTimer(s.pollInterval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			s.round(ctx, false)
		case <-timer.C:
			s.round(ctx, true)
			s.prune(ctx)
			timer.Reset(s.pollInterval())
		}
	}
}

func (s *Service) pollInterval() time.Duration {
	if d := s.cfg().Ack.PollInterval.D(); d > 0 {
		return d
	}
	return config.DefaultPollInterval
}

// round works on every incident holding or owing silences, a bounded
// number at a time, within the shortest lease.
func (s *Service) round(ctx context.Context, poll bool) {
	incs, err := s.st.Incidents(ctx, store.IncidentQuery{Silenced: true})
	if err != nil {
		s.log.Error("cannot list silenced incidents; retrying at the next round", "err", err)
		return
	}
	ctx, cancel := context.WithTimeoutCause(ctx, minLease/2, errors.New("an ack round took longer than half a silence lease"))
	defer cancel()
	sem := make(chan struct{}, maxSourceCalls)
	var wg sync.WaitGroup
	for _, inc := range incs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.work(ctx, inc, poll)
		}()
	}
	wg.Wait()
}

// work does what one incident's silences owe.
func (s *Service) work(ctx context.Context, inc incident.Incident, poll bool) {
	sl := inc.Silence
	if sl == nil {
		return
	}
	t, ok := silence.NewPolicy(s.cfg().Ack.Silence).Target(sl.Kind, sl.Root)
	var src *silence.Source
	if ok {
		var err error
		if src, err = silence.NewSource(t.Kind, t.Root, t.Auth, s.client); err != nil {
			ok = false
		}
	}
	switch {
	case len(sl.ToExpire()) > 0:
		s.expire(ctx, inc, src)
	case sl.Wanted && inc.State == incident.Acked && !ok:
		s.update(ctx, inc.ID, func(cur incident.Incident) incident.Change {
			return incident.SilenceFailed(&cur, silence.NotListed, s.now())
		})
	case sl.Wanted && inc.State == incident.Acked:
		s.createSilence(ctx, inc, src)
	case len(sl.Live()) > 0 && !s.now().Before(sl.Until):
		// The silence ran its course: it lapses at the source, which
		// notifies as usual from now on (resolutions included).
		s.update(ctx, inc.ID, func(cur incident.Incident) incident.Change {
			return incident.SilencesDone(&cur, ids(cur.Silence.Live()), s.now())
		})
	case poll && ok && len(sl.Live()) > 0 && inc.State == incident.Acked:
		s.poll(ctx, inc, src)
	}
}

func ids(ss []incident.Silence) []string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = x.ID
	}
	return out
}

// update commits a change computed from the incident as the store has it.
func (s *Service) update(ctx context.Context, id string, fn func(incident.Incident) incident.Change) {
	_, ch, err := s.change(ctx, id, fn)
	if err != nil {
		s.log.Error("cannot save the incident; retrying later", "incident", id, "err", err)
		return
	}
	if ch.Count > 0 {
		s.queue.Wake()
	}
}

// ackedAlerts are the acknowledged alerts as the incident's latest card
// has them (their labels make the silence).
func (s *Service) ackedAlerts(ctx context.Context, inc incident.Incident) (alert.Alerts, error) {
	_, d, err := s.card(ctx, inc.LastCard)
	if err != nil || d == nil {
		return nil, errors.Join(errors.New("the incident's latest card is gone"), err)
	}
	var out alert.Alerts
	for _, a := range d.Group.Alerts {
		if acked(&inc, a) && a.Status == alert.StatusFiring {
			out = append(out, a)
		}
	}
	return out, nil
}

func kindName(kind string) string {
	if kind == silence.KindGrafana {
		return "Grafana"
	}
	return "Alertmanager"
}

// shortReason is a failure as the card says it.
func shortReason(kind string, err error) string {
	if he, ok := errors.AsType[*silence.HTTPError](err); ok {
		return fmt.Sprintf("%s 拒绝（HTTP %d）", kindName(kind), he.Status)
	}
	return kindName(kind) + " 无法访问"
}

// createSilence silences the acknowledged alerts for a short lease, and
// records the silences whatever became of the ack meanwhile.
func (s *Service) createSilence(ctx context.Context, inc incident.Incident, src *silence.Source) {
	fail := func(reason string) {
		s.m.silences.WithLabelValues(SilenceFailed).Inc()
		s.update(ctx, inc.ID, func(cur incident.Incident) incident.Change { return incident.SilenceFailed(&cur, reason, s.now()) })
	}
	alerts, err := s.ackedAlerts(ctx, inc)
	if err != nil {
		s.log.Error("cannot silence", "incident", inc.ID, "err", err)
		fail("告警组数据缺失")
		return
	}
	if len(alerts) == 0 {
		fail("告警已不在告警组中")
		return
	}
	sl := inc.Silence
	sets, exact := silence.Matchers(alerts)
	now := s.now()
	endsAt := earlier(now.Add(s.lease(sl.For)), sl.Until)
	var made []incident.Silence
	for _, set := range sets {
		id, err := src.PutSilence(ctx, silence.Silence{
			Matchers: set, StartsAt: now, EndsAt: endsAt, CreatedBy: inc.Ack.By,
			Comment: fmt.Sprintf("Acknowledged in Mind by %s via mind-relay (incident %s). Renewed while the alerts fire, "+
				"until %s at most; expired when they resolve or the ack is withdrawn.", inc.Ack.By, inc.ID, sl.Until.UTC().Format(time.RFC3339)),
		})
		if err != nil {
			s.log.Warn("cannot create silence", "incident", inc.ID, "kind", src.Kind, "err", err)
			for _, done := range made { // all or nothing
				_ = src.ExpireSilence(context.WithoutCancel(ctx), done.ID)
			}
			fail(shortReason(src.Kind, err))
			return
		}
		made = append(made, incident.Silence{ID: id, EndsAt: endsAt})
	}
	s.m.silences.WithLabelValues(SilenceCreated).Add(float64(len(made)))
	s.log.Info("silence created", "incident", inc.ID, "kind", src.Kind, "silences", len(made), "ends_at", endsAt, "until", sl.Until, "exact", exact)
	s.update(ctx, inc.ID, func(cur incident.Incident) incident.Change {
		return incident.Silenced(&cur, made, src.SilenceLink(made[0].ID), s.now())
	})
	s.poke() // a silence made for an ack withdrawn meanwhile is expired now
}

// expire expires the silences of an ack that is over. Once their lease is
// over they have lapsed anyway, and failures stop mattering.
func (s *Service) expire(ctx context.Context, inc incident.Incident, src *silence.Source) {
	var done []string
	for _, sil := range inc.Silence.ToExpire() {
		if src != nil {
			if err := src.ExpireSilence(ctx, sil.ID); err != nil && s.now().Before(sil.EndsAt) {
				s.m.silences.WithLabelValues(SilenceFailed).Inc()
				s.log.Warn("cannot expire silence; retrying", "incident", inc.ID, "err", err)
				continue
			}
			s.m.silences.WithLabelValues(SilenceExpired).Inc()
		}
		done = append(done, sil.ID)
	}
	if len(done) > 0 {
		s.log.Info("silence expired", "incident", inc.ID, "silences", len(done), "state", inc.State)
		s.update(ctx, inc.ID, func(cur incident.Incident) incident.Change { return incident.SilencesDone(&cur, done, s.now()) })
		if inc.Silence.Wanted {
			s.poke() // the new ack's silence is next
		}
	}
}

// poll asks the source whether the acknowledged alerts still fire: the
// evidence decides a resolution (the resolved card and the silences'
// expiry, in one commit); while they fire, the lease is renewed.
func (s *Service) poll(ctx context.Context, inc incident.Incident, src *silence.Source) {
	alerts, err := s.ackedAlerts(ctx, inc)
	if err != nil || len(alerts) == 0 {
		return
	}
	listed, err := src.ActiveAlerts(ctx, silence.EqualMatchers(silence.CommonLabels(alerts)))
	if err != nil {
		s.log.Warn("cannot poll the source for acknowledged alerts", "incident", inc.ID, "err", err)
		return
	}
	sight := incident.Sighting{At: s.now()}
	for _, a := range alerts {
		if l, ok := stillThere(a, listed); ok {
			sight.Listed = true
			if l.EndsAt.After(sight.EndsAt) {
				sight.EndsAt = l.EndsAt
			}
		}
	}
	if !sight.Listed {
		if started, err := src.Started(ctx); err == nil {
			sight.SourceStart = started
		}
	}
	var resolved bool
	_, _, err = s.change(ctx, inc.ID, func(cur incident.Incident) incident.Change {
		if cur.State != incident.Acked {
			return incident.Change{}
		}
		c, gone := incident.Poll(&cur, sight, incident.ResolveGrace)
		resolved = gone
		if !gone {
			return c
		}
		r := incident.ResolveByRelay(c.Next, sight.At)
		r.Events = append(c.Events, r.Events...)
		return r
	})
	if err != nil {
		s.log.Error("cannot save the poll; retrying at the next poll", "incident", inc.ID, "err", err)
		return
	}
	if resolved {
		s.queue.Wake()
		s.poke()
		s.log.Info("acknowledged alerts resolved at the source; resolved card queued", "incident", inc.ID)
		return
	}
	if sight.Listed {
		s.renew(ctx, inc, src)
	}
}

// stillThere finds a among the source's alerts: the same fingerprint, or
// (Grafana adds labels of its own) every one of its labels.
func stillThere(a alert.Alert, listed []silence.SourceAlert) (silence.SourceAlert, bool) {
	fp := incident.Fingerprint(a)
	for _, l := range listed {
		if l.Fingerprint == fp {
			return l, true
		}
		match := len(a.Labels) > 0
		for k, v := range a.Labels {
			if l.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return l, true
		}
	}
	return silence.SourceAlert{}, false
}

// renew extends the silences' lease when half of it is gone.
func (s *Service) renew(ctx context.Context, inc incident.Incident, src *silence.Source) {
	sl := inc.Silence
	lease := s.lease(sl.For)
	endsAt := earlier(s.now().Add(lease), sl.Until)
	for _, h := range sl.Live() {
		if h.EndsAt.Sub(s.now()) >= lease/2 || !h.EndsAt.Before(sl.Until) {
			continue
		}
		cur, err := src.GetSilence(ctx, h.ID)
		if err != nil {
			s.m.silences.WithLabelValues(SilenceFailed).Inc()
			s.log.Warn("cannot read silence to renew it", "incident", inc.ID, "err", err)
			return
		}
		if cur.Status != nil && cur.Status.State == "expired" {
			// Someone expired it at the source: respect that.
			s.update(ctx, inc.ID, func(c incident.Incident) incident.Change {
				return incident.SilencesDone(&c, []string{h.ID}, s.now())
			})
			continue
		}
		cur.EndsAt = endsAt
		nid, err := src.PutSilence(ctx, cur)
		if err != nil {
			s.m.silences.WithLabelValues(SilenceFailed).Inc()
			s.log.Warn("cannot renew silence", "incident", inc.ID, "err", err)
			return
		}
		s.m.silences.WithLabelValues(SilenceExtended).Inc()
		s.update(ctx, inc.ID, func(c incident.Incident) incident.Change {
			return incident.Renewed(&c, h.ID, incident.Silence{ID: nid, EndsAt: endsAt}, src.SilenceLink(nid))
		})
	}
}

// prune forgets resolved incidents, at most hourly.
func (s *Service) prune(ctx context.Context) {
	now := s.now()
	if now.Sub(s.lastPrune) < time.Hour {
		return
	}
	s.lastPrune = now
	if n, err := s.st.PruneIncidents(ctx, now.Add(-retention)); err != nil {
		s.log.Warn("cannot prune incidents", "err", err)
	} else if n > 0 {
		s.log.Debug("incidents pruned", "incidents", n)
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
