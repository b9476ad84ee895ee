package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

// Priority is how urgent g is (0 most urgent): the rank, in p's order, of
// the most urgent value of p's label among its alerts (firing or
// resolved, so that a group's resolution is as urgent as its page), or of
// its common labels when no alert carries it; a group with no known value
// ranks after every known one.
func Priority(p config.PriorityConfig, g *alert.Group) int {
	best := len(p.Order)
	if p.Label == "" {
		return best
	}
	found := false
	for _, a := range g.Alerts {
		if v, ok := a.Labels[p.Label]; ok {
			found = true
			best = min(best, p.Rank(v))
		}
	}
	if !found {
		if v, ok := g.CommonLabels[p.Label]; ok {
			best = p.Rank(v)
		} else if v, ok := g.GroupLabels[p.Label]; ok {
			best = p.Rank(v)
		}
	}
	return best
}

// ContentKey names what a webhook said to one of the relay's receivers:
// the receiver (the relay's and the sender's), the group key, the group's
// status and each alert's fingerprint, status, start and end. High
// availability Alertmanager peers each send the same notification; they
// produce one key. The alerts' order does not matter.
func ContentKey(g *alert.Group, receiver string) string {
	lines := make([]string, 0, len(g.Alerts))
	for _, a := range g.Alerts {
		id := a.Fingerprint
		if id == "" {
			id = a.Labels.String()
		}
		lines = append(lines, strings.Join([]string{id, a.Status,
			a.StartsAt.UTC().Format(time.RFC3339Nano), a.EndsAt.UTC().Format(time.RFC3339Nano)}, "\x1f"))
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, s := range []string{string(g.Source), receiver, g.Receiver, g.Key(), g.Status} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
