package route

import (
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

// FuzzRoute builds a tree from an arbitrary matcher and routes an arbitrary
// label: Build either refuses the matcher, naming where it is, or the tree
// sends exactly the label sets the matcher accepts (as Alertmanager's own
// matcher decides) to the child and the rest to the root, and Split
// accounts for every alert.
func FuzzRoute(f *testing.F) {
	for _, s := range [][3]string{
		{`severity="critical"`, "severity", "critical"},
		{`severity=~"crit.*|page"`, "severity", "page"},
		{`team!="db"`, "team", "db"},
		{`env!~"prod|staging"`, "env", ""},
		{`severity = critical`, "severity", "critical"},
		{`{severity="critical"}`, "severity", "critical"},
		{`"服务"="支付"`, "服务", "支付"},
		{`a=~"("`, "a", "("},
		{`a="\u00e9\""`, "a", `é"`},
		{`a=~".*"`, "b", "x"},
		{``, "", ""},
		{`=`, "=", "="},
		{`a=b,c=d`, "a", "b"},
		{`a="` + strings.Repeat("x", 300) + `"`, "a", strings.Repeat("x", 300)},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, matcher, name, value string) {
		root := &config.Route{Receiver: "default", Routes: []*config.Route{{Receiver: "hit", Matchers: []string{matcher}}}}
		tr, err := Build(root)
		m, perr := config.ParseMatcher(matcher)
		if perr != nil {
			require.Error(t, err, "Build accepted a matcher Alertmanager refuses: %q", matcher)
			require.Contains(t, err.Error(), "route.routes[0].matchers[0]")
			return
		}
		require.NoError(t, err, "Build refused a matcher Alertmanager accepts: %q", matcher)

		lset := map[string]string{}
		if name != "" {
			lset[name] = value
		}
		want := "default"
		if m.Matches(lset[m.Name]) {
			want = "hit"
		}
		require.Equal(t, []string{want}, tr.Match(lset), "matcher %q, labels %q", matcher, lset)

		g := &alert.Group{Alerts: alert.Alerts{
			{Alert: template.Alert{Status: alert.StatusFiring, Labels: lset}},
			{Alert: template.Alert{Status: alert.StatusResolved, Labels: map[string]string{}}},
		}}
		routed := tr.Split(g)
		total := 0
		for _, r := range routed {
			require.NotEmpty(t, r.Group.Alerts, "receiver %s got no alert", r.Receiver)
			total += len(r.Group.Alerts)
		}
		require.Equal(t, len(g.Alerts), total, "each alert goes to exactly one receiver here")
	})
}
