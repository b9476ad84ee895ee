package ack

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// verdict is what an active ack means for a group as it now is.
type verdict int

const (
	// keep: the ack still holds; the card renders acknowledged.
	keep verdict = iota
	// clearNewAlert: a firing alert joined that nobody acknowledged.
	clearNewAlert
	// clearSeverity: an alert fires at a higher severity than was
	// acknowledged.
	clearSeverity
	// allResolved: every alert of the group is resolved.
	allResolved
)

func (v verdict) String() string {
	switch v {
	case clearNewAlert:
		return "new_alert"
	case clearSeverity:
		return "severity_rise"
	case allResolved:
		return "resolved"
	default:
		return "keep"
	}
}

// judge applies the ack rules to g: a new firing fingerprint or a severity
// above the acknowledged one clears the ack (the group pages again); a
// group with no firing alert is resolved; otherwise the ack holds, also
// when some of the acknowledged alerts resolved.
func judge(r *record, g *alert.Group) verdict {
	firing := g.Alerts.Firing()
	if len(firing) == 0 {
		if len(g.Alerts) == 0 {
			return keep
		}
		return allResolved
	}
	for _, a := range firing {
		if !slices.Contains(r.Fingerprints, fingerprint(a)) {
			return clearNewAlert
		}
	}
	for _, a := range firing {
		if severityRank(a.Labels["severity"]) > r.SeverityRank {
			return clearSeverity
		}
	}
	return keep
}

// fingerprint is the alert's fingerprint as the sender gave it, or the one
// Alertmanager computes from its labels when it gave none.
func fingerprint(a alert.Alert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	ls := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// fingerprints of alerts, sorted and unique.
func fingerprints(as alert.Alerts) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, fingerprint(a))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// severityRanks orders the severity label values in common use; anything
// else ranks 0, with none and info.
var severityRanks = map[string]int{
	"none": 0, "debug": 0, "info": 0, "informational": 0, "notice": 0, "low": 0, "p5": 0,
	"warning": 1, "warn": 1, "minor": 1, "medium": 1, "p4": 1, "p3": 1,
	"error": 2, "major": 2, "high": 2, "p2": 2,
	"critical": 3, "crit": 3, "page": 3, "disaster": 3, "p1": 3, "p0": 4,
	"fatal": 4, "emergency": 4,
}

func severityRank(s string) int { return severityRanks[strings.ToLower(strings.TrimSpace(s))] }

// maxSeverity is the highest severity among alerts, and its rank.
func maxSeverity(as alert.Alerts) (string, int) {
	best, rank := "", -1
	for _, a := range as {
		s := a.Labels["severity"]
		if r := severityRank(s); r > rank || (r == rank && best == "" && s != "") {
			best, rank = s, r
		}
	}
	return best, max(rank, 0)
}

// Matcher is one matcher of an Alertmanager API v2 silence.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// maxExactSilences bounds how many silences one ack creates when only a
// silence per alert covers exactly the acknowledged alerts.
const maxExactSilences = 20

// silenceMatchers returns the matchers of the silences that cover the
// acknowledged alerts and, as far as Alertmanager's matchers can say it,
// no other: an alert that joins the group later must page, and a silence
// would keep Alertmanager from sending it.
//
//   - One alert: an equal matcher on each of its labels.
//   - Alerts that differ in one label only, which all of them carry (the
//     usual group: many instances of one alert): equal matchers on the
//     labels they share and a regex matcher listing that label's values
//     exactly (Alertmanager anchors it).
//   - Otherwise one silence per alert, each with equal matchers on all its
//     labels; past maxExactSilences alerts, the shared labels and one exact
//     value list per differing label, which may also cover combinations of
//     those values that did not fire (exact says whether it is exact).
func silenceMatchers(as alert.Alerts) (sets [][]Matcher, exact bool) {
	if len(as) == 0 {
		return nil, true
	}
	if len(as) == 1 {
		return [][]Matcher{equalMatchers(as[0].Labels)}, true
	}
	common := map[string]string{}
	for k, v := range as[0].Labels {
		common[k] = v
	}
	keys := map[string]bool{}
	for _, a := range as {
		for k := range a.Labels {
			keys[k] = true
		}
		for k, v := range common {
			if a.Labels[k] != v {
				delete(common, k)
			}
		}
	}
	var varying []string
	for k := range keys {
		if _, ok := common[k]; !ok {
			varying = append(varying, k)
		}
	}
	sort.Strings(varying)
	everyHas := func(k string) bool {
		for _, a := range as {
			if _, ok := a.Labels[k]; !ok {
				return false
			}
		}
		return true
	}
	if len(varying) == 1 && everyHas(varying[0]) {
		return [][]Matcher{append(equalMatchers(common), valueList(varying[0], as))}, true
	}
	if len(as) <= maxExactSilences {
		for _, a := range as {
			sets = append(sets, equalMatchers(a.Labels))
		}
		return sets, true
	}
	set := equalMatchers(common)
	for _, k := range varying {
		if everyHas(k) {
			set = append(set, valueList(k, as))
		}
	}
	return [][]Matcher{set}, false
}

func equalMatchers(labels map[string]string) []Matcher {
	out := make([]Matcher, 0, len(labels))
	for k, v := range labels {
		out = append(out, Matcher{Name: k, Value: v, IsEqual: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// valueList is a regex matcher that matches exactly the values of label
// among as.
func valueList(label string, as alert.Alerts) Matcher {
	var vals []string
	for _, a := range as {
		vals = append(vals, regexp.QuoteMeta(a.Labels[label]))
	}
	sort.Strings(vals)
	vals = slices.Compact(vals)
	return Matcher{Name: label, Value: strings.Join(vals, "|"), IsRegex: true, IsEqual: true}
}

// commonLabels are the labels every alert of as shares.
func commonLabels(as alert.Alerts) map[string]string {
	if len(as) == 0 {
		return nil
	}
	common := map[string]string{}
	for k, v := range as[0].Labels {
		common[k] = v
	}
	for _, a := range as[1:] {
		for k, v := range common {
			if a.Labels[k] != v {
				delete(common, k)
			}
		}
	}
	return common
}
