// Package route decides which receivers a group of alerts goes to, with an
// Alertmanager-style routing tree: matchers in Alertmanager's own syntax,
// nested routes, `continue`, and the root's receiver as the fallback.
package route

import (
	"fmt"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

// Tree is a compiled routing tree. It is immutable and safe for concurrent use.
type Tree struct {
	root *node
}

type node struct {
	key      string // where it is in the config: route, route.routes[0], …
	receiver string
	matchers labels.Matchers
	cont     bool
	children []*node
}

// Build compiles the config's route tree. Matchers are parsed once, here.
func Build(r *config.Route) (*Tree, error) {
	if r == nil {
		return nil, fmt.Errorf("route: no root route")
	}
	root, err := build(r, "", "route")
	if err != nil {
		return nil, err
	}
	return &Tree{root: root}, nil
}

func build(r *config.Route, parentReceiver, key string) (*node, error) {
	n := &node{key: key, receiver: r.Receiver, cont: r.Continue}
	if n.receiver == "" {
		n.receiver = parentReceiver
	}
	for i, s := range r.Matchers {
		m, err := config.ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("%s.matchers[%d]: bad matcher %q: %w", key, i, s, err)
		}
		n.matchers = append(n.matchers, m)
	}
	for i, sub := range r.Routes {
		c, err := build(sub, n.receiver, fmt.Sprintf("%s.routes[%d]", key, i))
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	return n, nil
}

// Match returns the receivers for one label set, in tree order, without
// duplicates, exactly as Alertmanager's dispatcher would pick routes.
func (t *Tree) Match(lset map[string]string) []string {
	ls := make(model.LabelSet, len(lset))
	for k, v := range lset {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range t.root.match(ls) {
		if !seen[n.receiver] {
			seen[n.receiver] = true
			out = append(out, n.receiver)
		}
	}
	return out
}

// match mirrors alertmanager/dispatch.Route.Match: the deepest matching
// routes win; a matching child stops its siblings unless it has continue.
func (n *node) match(ls model.LabelSet) []*node {
	if !n.matchers.Matches(ls) {
		return nil
	}
	var all []*node
	for _, c := range n.children {
		matches := c.match(ls)
		all = append(all, matches...)
		if matches != nil && !c.cont {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, n)
	}
	return all
}

// Split routes every alert of g by its own labels and returns, for each
// receiver, the group holding just the alerts that go there. When all alerts
// go to the same receivers, every receiver gets g itself.
func (t *Tree) Split(g *alert.Group) []Routed {
	order := []string{}
	byRecv := map[string][]int{}
	for i, a := range g.Alerts {
		for _, r := range t.Match(a.Labels) {
			if _, ok := byRecv[r]; !ok {
				order = append(order, r)
			}
			byRecv[r] = append(byRecv[r], i)
		}
	}
	if len(g.Alerts) == 0 {
		// Nothing to split on: route the group by its common labels.
		for _, r := range t.Match(g.CommonLabels) {
			order = append(order, r)
			byRecv[r] = nil
		}
	}
	out := make([]Routed, 0, len(order))
	for _, r := range order {
		idx := byRecv[r]
		if len(idx) == len(g.Alerts) {
			out = append(out, Routed{Receiver: r, Group: g})
			continue
		}
		out = append(out, Routed{Receiver: r, Group: subset(g, idx)})
	}
	return out
}

// Routed is a group bound for one receiver.
type Routed struct {
	Receiver string
	Group    *alert.Group
}

// subset returns a copy of g with only the alerts at idx, its status and
// common labels and annotations recomputed for them.
func subset(g *alert.Group, idx []int) *alert.Group {
	s := *g
	s.Alerts = make(alert.Alerts, 0, len(idx))
	for _, i := range idx {
		s.Alerts = append(s.Alerts, g.Alerts[i])
	}
	s.Status = alert.StatusResolved
	if len(s.Alerts.Firing()) > 0 {
		s.Status = alert.StatusFiring
	}
	s.CommonLabels = common(s.Alerts, func(a alert.Alert) map[string]string { return a.Labels })
	s.CommonAnnotations = common(s.Alerts, func(a alert.Alert) map[string]string { return a.Annotations })
	return &s
}

func common(as alert.Alerts, kv func(alert.Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(as) == 0 {
		return out
	}
	for k, v := range kv(as[0]) {
		out[k] = v
	}
	for _, a := range as[1:] {
		m := kv(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}
