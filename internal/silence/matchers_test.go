package silence

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
			sets, exact := Matchers(as)
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
	sets, exact := Matchers(many)
	require.False(t, exact)
	require.Len(t, sets, 1)
	for _, a := range many {
		require.True(t, covers(t, sets, a.Labels))
	}
	require.False(t, covers(t, sets, with("pod", "other", "node", "n1")))
}
