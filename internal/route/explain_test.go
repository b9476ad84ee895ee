package route

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExplain(t *testing.T) {
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
`)
	tests := []struct {
		name   string
		labels map[string]string
		want   []Matched
	}{
		{"nothing matches: the root", map[string]string{"team": "web"},
			[]Matched{{Route: "route", Receiver: "default"}}},
		{"nested route", map[string]string{"team": "db", "severity": "page"},
			[]Matched{{Route: "route.routes[1].routes[0]", Matchers: []string{`severity=~"critical|page"`}, Receiver: "db-page"}}},
		{"inherited receiver", map[string]string{"team": "db", "env": "dev"},
			[]Matched{{Route: "route.routes[1].routes[1]", Matchers: []string{`env!="prod"`}, Receiver: "db"}}},
		{"continue: both", map[string]string{"team": "db", "severity": "audit", "env": "prod"},
			[]Matched{
				{Route: "route.routes[0]", Matchers: []string{`severity="audit"`}, Receiver: "audit"},
				{Route: "route.routes[1]", Matchers: []string{`team="db"`}, Receiver: "db"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tr.Explain(tt.labels)
			require.Equal(t, tt.want, got)
			var recv []string
			for _, m := range got {
				recv = append(recv, m.Receiver)
			}
			require.Equal(t, tr.Match(tt.labels), recv, "Explain and Match agree")
		})
	}
}
