package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// withEscalations is minimal with a second receiver, ops, on policy
// "db" plus the escalations block, which starts on line 12.
func withEscalations(escalations string) string {
	return minimal + "  - {name: ops, open_ids: [ou_ops], escalation: db}\n  - {name: lead, open_ids: [ou_lead]}\nescalations:\n" + escalations
}

func TestEscalationsLoad(t *testing.T) {
	c, err := Load([]byte(withEscalations(`  - name: db
    repeat: 2
    steps:
      - {after: 5m, notify: [lead]}
      - {after: 15m, notify: [lead, default]}
`)), t.TempDir())
	require.NoError(t, err)
	e := c.EscalationByName(c.ReceiverByName("ops").Escalation)
	require.NotNil(t, e)
	require.Equal(t, 2, e.Repeat)
	require.Equal(t, []string{"lead", "default"}, e.Steps[1].Notify)
	require.Equal(t, 15*time.Minute, e.Cycle())
	require.Nil(t, c.EscalationByName("nope"))
}

func TestEscalationsBad(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown receiver in a step", withEscalations("  - name: db\n    steps:\n      - {after: 5m, notify: [lead, dba]}\n"),
			`escalations[0].steps[0].notify[1] (line 14): receiver "dba" is not defined in receivers`},
		{"steps not increasing", withEscalations("  - name: db\n    steps:\n      - {after: 10m, notify: [lead]}\n      - {after: 10m, notify: [default]}\n      - {after: 5m, notify: [default]}\n"),
			"escalations[0].steps[1].after (line 15): steps must be in increasing order of after: 10m is not after the previous step's 10m\n" +
				"escalations[0].steps[2].after (line 16): steps must be in increasing order of after: 5m is not after the previous step's 10m"},
		{"a step at 0", withEscalations("  - name: db\n    steps:\n      - {after: 0s, notify: [lead]}\n"),
			"escalations[0].steps[0].after (line 14): must be positive: the receiver's own card is the page at 0"},
		{"unknown escalation", minimal + "  - {name: ops, open_ids: [ou_ops], escalation: db}\n",
			`receivers[1].escalation (line 9): escalation "db" is not defined in escalations`},
		{"no steps, no notify, no name, bad repeat", withEscalations("  - name: db\n    steps: []\n  - repeat: -1\n    steps:\n      - {after: 1m}\n"),
			"escalations[0].steps (line 13): is empty: list at least one step\n" +
				"escalations[1].name (line 14): is required\n" +
				"escalations[1].repeat (line 14): must be between 0 and 100, not -1\n" +
				"escalations[1].steps[0].notify (line 16): is empty: list the receivers this step pages"},
		{"duplicate", withEscalations("  - {name: db, steps: [{after: 1m, notify: [lead]}]}\n  - {name: db, steps: [{after: 1m, notify: [lead]}]}\n"),
			`escalations[1].name (line 13): escalation "db" is defined twice`},
		{"mentions users as a list", minimal + "mentions: {users: [ou_a]}\n",
			"mentions.users (line 9): expected a mapping of names to strings, got a list"},
		{"a mention without an open_id", minimal + "mentions: {users: {alice: ' ou_a'}}\n",
			`mentions.users.alice (line 9): needs a name and an open_id without spaces, got " ou_a"`},
		{"ack timers without a secret", minimal + "ack: {remind_after: 10m}\n",
			"ack.remind_after (line 9): needs ack.secret: without ack buttons nobody acknowledges"},
		{"reminder after the timeout", minimal + "ack: {secret: s3cr3t-s3cr3t-s3cr3t, remind_after: 1h, timeout: 30m}\n",
			"ack.remind_after (line 9): must be shorter than ack.timeout (30m), or the ack is withdrawn before the reminder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), t.TempDir())
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
		})
	}
}

func TestMentionsLoad(t *testing.T) {
	c, err := Load([]byte(minimal+"mentions:\n  label: owner\n  users: {alice: ou_x, bob: ou_y}\n"), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, MentionsConfig{Label: "owner", Users: map[string]string{"alice": "ou_x", "bob": "ou_y"}}, c.Mentions)
}

func TestEscalationWarnings(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"none", withEscalations("  - {name: db, steps: [{after: 5m, notify: [lead]}]}\n") + "ack: {secret: s3cr3t-s3cr3t-s3cr3t}\n", nil},
		{"unused, self-paging, no ack buttons", withEscalations("  - {name: db, steps: [{after: 5m, notify: [lead, ops]}]}\n  - {name: spare, steps: [{after: 5m, notify: [lead]}]}\n"), []string{
			`receivers[1] (ops): step 1 of escalation "db" pages the receiver itself again`,
			`receivers[1] (ops) escalates with "db" but ack.secret is empty: nobody can ack, so every step pages`,
			`escalations[1] (spare): no receiver names it, so it never runs`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load([]byte(tt.yaml), t.TempDir())
			require.NoError(t, err)
			require.Equal(t, tt.want, c.escalationWarnings())
		})
	}
}
