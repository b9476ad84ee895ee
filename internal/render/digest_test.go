package render

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/token"
)

func TestDigestCard(t *testing.T) {
	secret := []byte("digest-test-secret-0123456789")
	now := time.Unix(1_790_000_000, 0)
	r, err := New(Options{AckSecret: secret, ExternalURL: "https://relay.example", TokenTTL: time.Hour,
		Now: func() time.Time { return now }}, nil, nil)
	require.NoError(t, err)
	groups := func(n int, title string) []DigestGroup {
		var out []DigestGroup
		for i := range n {
			out = append(out, DigestGroup{Title: fmt.Sprintf("%s %d", title, i), GroupID: fmt.Sprintf("%016d", i),
				Firing: i%2 == 0, Alerts: 2, Priority: 3 - i%2, Severity: "warning"})
		}
		return out
	}
	tests := []struct {
		name      string
		in        DigestInput
		title     string
		contains  []string
		named     int // groups named on the card
		notFiring bool
	}{
		{"few", DigestInput{Groups: groups(4, "DiskFull"), Names: map[string]int{"DiskFull": 8}, MaxGroups: 50},
			"告警汇总：4 个告警组（2 个触发中）", []string{"**共 8 条告警，按名称：**\n- DiskFull × 8", "[warning] DiskFull 1（已恢复，2 条）"}, 4, false},
		{"more than max_groups: the most urgent named", DigestInput{Groups: groups(30, "X"), Names: map[string]int{"X": 60}, MaxGroups: 5},
			"告警汇总：30 个告警组（15 个触发中）", []string{"以下是最紧急的 5 个", "X 1（已恢复"}, 5, false},
		{"markdown in a title is escaped", DigestInput{Groups: groups(1, "**bold** [x](y)"), Names: map[string]int{"a*b": 2}, MaxGroups: 5},
			"告警汇总：1 个告警组（1 个触发中）", []string{`\*\*bold\*\* \[x\](y) 0`, `a\*b × 2`}, 1, false},
		{"too many lines for one card: fewer named, still valid", DigestInput{Groups: groups(2000, strings.Repeat("长标题", 30)), Names: map[string]int{"Y": 4000}, MaxGroups: 2000},
			"告警汇总：2000 个告警组（1000 个触发中）", []string{"以下是最紧急的"}, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Receiver, tc.in.NotificationID = "oncall", "digest-1"
			c, err := r.Digest(tc.in)
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			require.Equal(t, tc.title, c.Header.Title.Content)
			text := ""
			for _, e := range c.Elements {
				text += e.Content + "\n"
			}
			for _, s := range tc.contains {
				require.Contains(t, text, s)
			}
			if tc.named >= 0 {
				require.Equal(t, tc.named, strings.Count(text, "条）`"))
			} else {
				require.Less(t, strings.Count(text, "条）`"), 2000)
			}
			last := c.Elements[len(c.Elements)-1]
			require.Equal(t, card.TagAction, last.Tag)
			tok, ok := strings.CutPrefix(last.Actions[0].URL, "https://relay.example/digest/")
			require.True(t, ok)
			claims, err := token.Verify(secret, tok, now)
			require.NoError(t, err)
			require.Equal(t, ActionDigest, claims.Action)
			require.Equal(t, "digest-1", claims.NotificationID)
			require.Equal(t, "oncall", claims.Receiver)
			require.True(t, now.Add(time.Hour).Equal(claims.ExpiresAt))
		})
	}
}
