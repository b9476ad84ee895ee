package silence

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mindoffice/mind-relay/internal/alert"
)

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

// Matchers returns the matchers of the silences that cover the
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
func Matchers(as alert.Alerts) (sets [][]Matcher, exact bool) {
	if len(as) == 0 {
		return nil, true
	}
	if len(as) == 1 {
		return [][]Matcher{EqualMatchers(as[0].Labels)}, true
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
		return [][]Matcher{append(EqualMatchers(common), valueList(varying[0], as))}, true
	}
	if len(as) <= maxExactSilences {
		for _, a := range as {
			sets = append(sets, EqualMatchers(a.Labels))
		}
		return sets, true
	}
	set := EqualMatchers(common)
	for _, k := range varying {
		if everyHas(k) {
			set = append(set, valueList(k, as))
		}
	}
	return [][]Matcher{set}, false
}

func EqualMatchers(labels map[string]string) []Matcher {
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

// CommonLabels are the labels every alert of as shares.
func CommonLabels(as alert.Alerts) map[string]string {
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
