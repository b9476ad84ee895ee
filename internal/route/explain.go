package route

import (
	"github.com/prometheus/common/model"
)

// Matched is a route that one label set matched: where it is in the config
// (route, route.routes[0].routes[1], …), its own matchers and the receiver
// it sends to (its own or the one it inherits).
type Matched struct {
	Route    string
	Matchers []string
	Receiver string
}

// Explain returns the routes lset matches, in the order Match picks their
// receivers, for the template preview's "which route matched".
func (t *Tree) Explain(lset map[string]string) []Matched {
	ls := make(model.LabelSet, len(lset))
	for k, v := range lset {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	var out []Matched
	for _, n := range t.root.match(ls) {
		m := Matched{Route: n.key, Receiver: n.receiver}
		for _, x := range n.matchers {
			m.Matchers = append(m.Matchers, x.String())
		}
		out = append(out, m)
	}
	return out
}
