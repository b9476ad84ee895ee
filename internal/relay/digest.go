package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Notes reads queued notifications: a digest card is rendered from the
// cards it folded. The store is one; NewCards's incidents must be one for
// digests to render.
type Notes interface {
	Get(ctx context.Context, id string) (store.Notification, error)
}

// digestOptions are the digest settings the relay started with.
type digestOptions struct {
	priority  config.PriorityConfig
	maxGroups int
}

// WithDigest sets what digest cards show: the severity label and order
// (delivery.priority) and how many groups they name
// (delivery.digest.max_groups), both read at start. It returns c.
func (c *Cards) WithDigest(p config.PriorityConfig, maxGroups int) *Cards {
	c.digest = digestOptions{priority: p, maxGroups: maxGroups}
	return c
}

// renderDigest builds a digest's card from the cards it folded, as the
// store has them now. A card pruned since is left out; one unreadable
// fails the digest (retried as any render failure is not: it is
// dead-lettered, and its cards stay listed in the store).
func (c *Cards) renderDigest(ctx context.Context, st *State, n store.Notification) (mind.Request, error) {
	notes, ok := c.incidents.(Notes)
	if !ok {
		return mind.Request{}, errors.New("digest: the cards it folded cannot be read here")
	}
	data, err := store.DecodeDigest(n.Group)
	if err != nil {
		return mind.Request{}, err
	}
	in := render.DigestInput{Receiver: n.Receiver, NotificationID: n.ID, MaxGroups: c.digest.maxGroups,
		Names: map[string]int{}}
	if in.MaxGroups <= 0 {
		in.MaxGroups = config.DefaultDigestMax
	}
	var first *GroupData
	for _, id := range data.IDs {
		dn, err := notes.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return mind.Request{}, fmt.Errorf("digest: %w", err)
		}
		d, err := DecodeGroup(dn.Group)
		if err != nil {
			return mind.Request{}, fmt.Errorf("digest: card %s: %w", id, err)
		}
		if first == nil {
			first = d
		}
		for _, a := range d.Group.Alerts {
			name := a.Labels["alertname"]
			if name == "" {
				name = "（无名称）"
			}
			in.Names[name]++
		}
		in.Groups = append(in.Groups, render.DigestGroup{Title: render.DigestTitle(d.Group), GroupID: dn.GroupID,
			Firing: d.Group.Status == alert.StatusFiring, Alerts: len(d.Group.Alerts), Priority: dn.Priority,
			Severity: severity(c.digest.priority, d)})
	}
	if first == nil {
		return mind.Request{}, fmt.Errorf("%w: every card of the digest is gone", store.ErrSkip)
	}
	recv := first.Receiver(st.Config, n.Receiver)
	c.renders.Inc()
	cd, err := st.Renderer.Digest(in)
	if err != nil {
		return mind.Request{}, err
	}
	content, err := cd.JSON()
	if err != nil {
		return mind.Request{}, err
	}
	req, err := mind.NewCardRequest(n.Request.RequestID, recv.OpenIDs, recv.AllSubscribers, content)
	if err != nil {
		return mind.Request{}, fmt.Errorf("receiver %q: %w", recv.Name, err)
	}
	return req, nil
}

// severity is the group's most urgent value of the priority label.
func severity(p config.PriorityConfig, d *GroupData) string {
	if p.Label == "" {
		p.Label = config.DefaultPriorityLabel
	}
	best, rank := "", -1
	for _, a := range d.Group.Alerts {
		if v, ok := a.Labels[p.Label]; ok && (rank < 0 || p.Rank(v) < rank) {
			best, rank = v, p.Rank(v)
		}
	}
	if rank < 0 {
		return d.Group.CommonLabels[p.Label]
	}
	return best
}
