package ack

import (
	"fmt"
	"testing"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
)

func al(status string, ls map[string]string) alert.Alert {
	var a alert.Alert
	a.Status = status
	a.Labels = ls
	return a
}

func grp(as ...alert.Alert) *alert.Group { return &alert.Group{Alerts: as} }

func TestJudge(t *testing.T) {
	a := al("firing", map[string]string{"alertname": "X", "instance": "a", "severity": "warning"})
	b := al("firing", map[string]string{"alertname": "X", "instance": "b", "severity": "warning"})
	c := al("firing", map[string]string{"alertname": "X", "instance": "c", "severity": "warning"})
	acked := &record{Fingerprints: fingerprints(alert.Alerts{a, b}), SeverityRank: severityRank("warning")}
	resolved := func(x alert.Alert) alert.Alert { x.Status = "resolved"; return x }
	crit := func(x alert.Alert) alert.Alert {
		y := x
		y.Labels = map[string]string{}
		for k, v := range x.Labels {
			y.Labels[k] = v
		}
		y.Labels["severity"] = "critical"
		return y
	}
	for _, tc := range []struct {
		name string
		g    *alert.Group
		want verdict
	}{
		{"the same alerts repeat", grp(a, b), keep},
		{"some acked alerts resolved, the rest fire", grp(resolved(a), b), keep},
		{"a new alert joins", grp(a, b, c), clearNewAlert},
		{"only a new alert fires (the acked ones are silenced)", grp(c), clearNewAlert},
		{"an acked alert re-fires at a higher severity (new labels: a new alert)", grp(crit(a), b), clearNewAlert},
		{"all resolved", grp(resolved(a), resolved(b)), allResolved},
		{"no alerts at all", grp(), keep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, judge(acked, tc.g))
		})
	}

	// Severity not in the labels that make the fingerprint (Grafana sends
	// its own fingerprints): a rise clears the ack.
	x := al("firing", map[string]string{"alertname": "Y", "severity": "warning"})
	x.Fingerprint = "fp-1"
	r := &record{Fingerprints: []string{"fp-1"}, SeverityRank: severityRank("warning")}
	require.Equal(t, keep, judge(r, grp(x)))
	x.Labels = map[string]string{"alertname": "Y", "severity": "critical"}
	require.Equal(t, clearSeverity, judge(r, grp(x)))
	x.Labels = map[string]string{"alertname": "Y", "severity": "info"}
	require.Equal(t, keep, judge(r, grp(x)), "a fall keeps the ack")
}

func TestSeverity(t *testing.T) {
	require.Greater(t, severityRank("critical"), severityRank("warning"))
	require.Greater(t, severityRank("warning"), severityRank("info"))
	require.Equal(t, severityRank("Critical "), severityRank("critical"))
	require.Zero(t, severityRank("whatever"))
	s, r := maxSeverity(alert.Alerts{
		al("firing", map[string]string{"severity": "warning"}),
		al("firing", map[string]string{"severity": "critical"}),
		al("firing", map[string]string{}),
	})
	require.Equal(t, "critical", s)
	require.Equal(t, severityRank("critical"), r)
}

// covers reports whether any silence (matcher set) matches ls, as
// Alertmanager matches them.
func covers(t *testing.T, sets [][]Matcher, ls map[string]string) bool {
	t.Helper()
	for _, set := range sets {
		all := true
		for _, m := range set {
			typ := labels.MatchEqual
			if m.IsRegex {
				typ = labels.MatchRegexp
			}
			lm, err := labels.NewMatcher(typ, m.Name, m.Value)
			require.NoError(t, err)
			if !lm.Matches(ls[m.Name]) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// The silence covers exactly the acknowledged alerts: each of them, and no
// alert that could join the group later.
func TestSilenceMatchers(t *testing.T) {
	base := map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "severity": "warning"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		acked   []map[string]string
		notHit  []map[string]string
		nSets   int
		regexOn string
	}{
		{"one alert: equal matchers on its labels",
			[]map[string]string{with("pod", "api-0")},
			[]map[string]string{with("pod", "api-1"), with("pod", "api-0", "severity", "critical")},
			1, ""},
		{"a group differing in one label: shared labels + exact value list",
			[]map[string]string{with("pod", "api-0"), with("pod", "api-1"), with("pod", "api.2")},
			[]map[string]string{with("pod", "api-3"), with("pod", "apix2"), with("pod", "api-0x"), with("pod", "")},
			1, "pod"},
		{"differing in two labels: one silence per alert",
			[]map[string]string{with("pod", "a", "node", "n1"), with("pod", "b", "node", "n2")},
			[]map[string]string{with("pod", "a", "node", "n2"), with("pod", "b", "node", "n1")},
			2, ""},
		{"a label only some carry: one silence per alert",
			[]map[string]string{with("pod", "a"), with("pod", "b", "container", "c")},
			[]map[string]string{with("pod", "c")},
			2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var as alert.Alerts
			for _, ls := range tc.acked {
				as = append(as, al("firing", ls))
			}
			sets, exact := silenceMatchers(as)
			require.True(t, exact)
			require.Len(t, sets, tc.nSets)
			for _, ls := range tc.acked {
				require.True(t, covers(t, sets, ls), "covers %v", ls)
			}
			for _, ls := range tc.notHit {
				require.False(t, covers(t, sets, ls), "must not cover %v", ls)
			}
			for _, set := range sets {
				for _, m := range set {
					require.True(t, m.IsEqual)
					require.Equal(t, m.Name == tc.regexOn, m.IsRegex, m.Name)
				}
			}
		})
	}

	// Past maxExactSilences alerts that differ in several labels: one
	// silence, shared labels and one value list per label — it covers
	// them all and says it is not exact.
	var many alert.Alerts
	for i := range maxExactSilences + 1 {
		many = append(many, al("firing", with("pod", fmt.Sprint("p", i), "node", fmt.Sprint("n", i))))
	}
	sets, exact := silenceMatchers(many)
	require.False(t, exact)
	require.Len(t, sets, 1)
	for _, a := range many {
		require.True(t, covers(t, sets, a.Labels))
	}
	require.False(t, covers(t, sets, with("pod", "other", "node", "n1")))
}
