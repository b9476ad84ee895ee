package route

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

const base = `
mind: {app_id: robot_test}
receivers:
  - {name: default, open_ids: [ou_default]}
  - {name: db, open_ids: [ou_db]}
  - {name: db-page, open_ids: [ou_dbpage]}
  - {name: payments, open_ids: [ou_pay]}
  - {name: audit, open_ids: [ou_audit]}
  - {name: everyone, all_subscribers: true}
`

func tree(t *testing.T, routeYAML string) *Tree {
	t.Helper()
	c, err := config.Load([]byte(base+routeYAML), t.TempDir())
	require.NoError(t, err)
	tr, err := Build(c.Route)
	require.NoError(t, err)
	return tr
}

func TestMatch(t *testing.T) {
	tr := tree(t, `
route:
  receiver: default
  routes:
    - matchers: ['severity="audit"']
      receiver: audit
      continue: true
    - matchers: ['team="db"']
      receiver: db
      routes:
        - matchers: ['severity=~"critical|page"']
          receiver: db-page
        - matchers: ['env!="prod"']
    - matchers: ['team=~"pay.*"', 'severity!="info"']
      receiver: payments
      continue: true
    - matchers: ['team=~"pay.*"']
      receiver: everyone
    - matchers: [ 'service="checkout"' ]
      receiver: everyone
`)
	tests := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"no route matches: root receiver", map[string]string{"team": "web"}, []string{"default"}},
		{"nested route wins over parent", map[string]string{"team": "db", "severity": "critical", "env": "prod"}, []string{"db-page"}},
		{"regex is anchored", map[string]string{"team": "db", "severity": "critical-ish", "env": "prod"}, []string{"db"}},
		{"child without receiver inherits parent's", map[string]string{"team": "db", "severity": "warning", "env": "dev"}, []string{"db"}},
		{"continue keeps matching siblings", map[string]string{"team": "payments", "severity": "warning"}, []string{"payments", "everyone"}},
		{"all matchers must match", map[string]string{"team": "payments", "severity": "info"}, []string{"everyone"}},
		{"continue then stop at first non-continue match", map[string]string{"severity": "audit", "team": "db", "env": "prod"}, []string{"audit", "db"}},
		{"a match without continue stops siblings", map[string]string{"team": "payx", "service": "checkout", "severity": "page"}, []string{"payments", "everyone"}},
		{"empty label set", map[string]string{}, []string{"default"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tr.Match(tc.labels))
		})
	}
}

func TestMatchUTF8AndClassicSyntax(t *testing.T) {
	tr := tree(t, `
route:
  receiver: default
  routes:
    - matchers: ['team = "db"']
      receiver: db
    - matchers: [severity=critical]
      receiver: db-page
    - matchers: ['"service.name"="api"']
      receiver: payments
`)
	require.Equal(t, []string{"db"}, tr.Match(map[string]string{"team": "db"}))
	require.Equal(t, []string{"db-page"}, tr.Match(map[string]string{"severity": "critical"}))
	require.Equal(t, []string{"payments"}, tr.Match(map[string]string{"service.name": "api"}))
}

func TestSplit(t *testing.T) {
	tr := tree(t, `
route:
  receiver: default
  routes:
    - matchers: ['team="db"']
      receiver: db
      continue: true
    - matchers: ['severity="critical"']
      receiver: db-page
`)
	mk := func(status string, labels map[string]string) alert.Alert {
		var a alert.Alert
		a.Status, a.Labels = status, labels
		return a
	}
	g := &alert.Group{
		Status: "firing",
		Alerts: alert.Alerts{
			mk("firing", map[string]string{"alertname": "X", "team": "db", "severity": "critical"}),
			mk("resolved", map[string]string{"alertname": "X", "team": "web", "severity": "critical"}),
			mk("resolved", map[string]string{"alertname": "X", "team": "db", "severity": "warning"}),
		},
		CommonLabels: map[string]string{"alertname": "X"},
	}
	got := tr.Split(g)
	require.Len(t, got, 2)

	require.Equal(t, "db", got[0].Receiver)
	require.Len(t, got[0].Group.Alerts, 2)
	require.Equal(t, "firing", got[0].Group.Status)
	require.Equal(t, map[string]string{"alertname": "X", "team": "db"}, map[string]string(got[0].Group.CommonLabels))

	require.Equal(t, "db-page", got[1].Receiver)
	require.Len(t, got[1].Group.Alerts, 2)
	require.Equal(t, map[string]string{"alertname": "X", "severity": "critical"}, map[string]string(got[1].Group.CommonLabels))
	require.Equal(t, "firing", got[1].Group.Status)
	require.Len(t, g.Alerts, 3, "the sender's group is not modified")

	// A group whose alerts all go the same way is passed through as is.
	same := &alert.Group{Alerts: alert.Alerts{g.Alerts[1]}}
	out := tr.Split(same)
	require.Len(t, out, 1)
	require.Same(t, same, out[0].Group)
	require.Equal(t, "db-page", out[0].Receiver)
}
