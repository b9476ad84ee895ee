package ack

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// DigestView is what the digest page shows: every group a digest card
// folded, each as the ack page would show it.
type DigestView struct {
	Result string // why the token was refused; empty when it was not
	// Known is set when the token named a digest the relay knows.
	Known    bool
	Receiver string
	Groups   []DigestEntry
	// Acked is how many groups a POST acknowledged.
	Acked int
}

// DigestEntry is one folded card and its incident.
type DigestEntry struct {
	CardID string
	View   View
}

// ViewDigest describes the token's digest; it changes nothing.
func (s *Service) ViewDigest(ctx context.Context, tok string) (DigestView, error) {
	ids, receiver, result, err := s.digest(ctx, tok)
	if err != nil || result != "" {
		return DigestView{Result: result}, err
	}
	return s.digestView(ctx, receiver, ids)
}

// AckDigest acknowledges, from the digest page, the listed groups named
// by cards (card IDs from the page's form; none means every one that can
// be acknowledged); name (may be empty) says who. Cards the digest does
// not list are ignored.
func (s *Service) AckDigest(ctx context.Context, tok, name string, cards []string) (DigestView, error) {
	ids, receiver, result, err := s.digest(ctx, tok)
	if err != nil || result != "" {
		if result != "" {
			s.m.acks.WithLabelValues(result).Inc()
		}
		return DigestView{Result: result}, err
	}
	w := incident.Who{Name: receiver, Via: incident.ViaPage}
	if name = cleanName(name); name != "" {
		w.Name = "web:" + name
	}
	if w.Name == "" {
		w.Name = "web"
	}
	before, err := s.digestView(ctx, receiver, ids)
	if err != nil {
		return before, err
	}
	acked := 0
	var errs []error
	for _, e := range before.Groups {
		if !e.View.CanAck || (len(cards) > 0 && !slices.Contains(cards, e.CardID)) {
			continue
		}
		out, err := s.Ack(ctx, e.CardID, w, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("card %s: %w", e.CardID, err))
			continue
		}
		if out.Result == ResultAcked {
			acked++
		}
	}
	v, err := s.digestView(ctx, receiver, ids)
	v.Acked = acked
	return v, errors.Join(append(errs, err)...)
}

// digest verifies a digest page token and reads the cards its digest
// folded; result says why a token is refused.
func (s *Service) digest(ctx context.Context, tok string) (ids []string, receiver, result string, err error) {
	claims, result, verr := s.verify(tok)
	if verr == nil && claims.Action != render.ActionDigest {
		result, verr = ResultInvalidToken, fmt.Errorf("token action %q", claims.Action)
	}
	if verr != nil {
		s.log.Info("digest page: token refused", "result", result, "reason", verr.Error())
		return nil, "", result, nil
	}
	n, err := s.st.Get(ctx, claims.NotificationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ResultUnknownGroup, nil
	}
	if err != nil {
		return nil, "", ResultError, err
	}
	if n.Kind != store.KindDigest || n.Receiver != claims.Receiver {
		return nil, "", ResultInvalidToken, nil
	}
	d, err := store.DecodeDigest(n.Group)
	if err != nil {
		return nil, "", ResultError, err
	}
	return d.IDs, n.Receiver, "", nil
}

func (s *Service) digestView(ctx context.Context, receiver string, ids []string) (DigestView, error) {
	v := DigestView{Known: true, Receiver: receiver}
	for _, id := range ids {
		gv, err := s.view(ctx, id, PageOK)
		if err != nil {
			return DigestView{Result: ResultError}, err
		}
		if gv.Known {
			v.Groups = append(v.Groups, DigestEntry{CardID: id, View: gv})
		}
	}
	return v, nil
}
