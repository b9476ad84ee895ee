package render

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
)

func TestEscalationAndMentions(t *testing.T) {
	tests := []struct {
		name        string
		in          Input
		first, last string // the first and the last markdown element
	}{
		{"plain card: no banner, no mention", Input{}, "", ""},
		{"escalation step 2", Input{Escalation: &EscalationInfo{Policy: "db", Step: 2, Paged: []string{"db-oncall", "db-lead"}, Unacked: 16*time.Minute + 20*time.Second}},
			"<font color='red'>**告警升级（第 2 步）**</font>\n已通知 db-oncall、db-lead，16 分钟 内无人确认", ""},
		{"second round", Input{Escalation: &EscalationInfo{Step: 1, Round: 1, Paged: []string{"ops"}, Unacked: 150 * time.Minute}},
			"<font color='red'>**告警升级（第 2 轮 · 第 1 步）**</font>\n已通知 ops，2 小时 30 分钟 内无人确认", ""},
		{"mentions, the name escaped and the id kept inside its quotes", Input{Mentions: []Mention{{OpenID: "ou_a", Name: "alice_w"}, {OpenID: "ou_b'><x"}}},
			"", "值班：<at user_id='ou_a'>alice\\_w</at> <at user_id='ou_bx'>ou\\_b'＞＜x</at>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newRenderer(t, testOptions())
			tt.in.Receiver = &config.Receiver{Name: "db-oncall"}
			tt.in.NotificationID = "n-1"
			c, err := r.Render(groupFile(t, "am-0.25-group-1.json"), tt.in)
			require.NoError(t, err)
			var mds []string
			for _, e := range c.Elements {
				if e.Tag == card.TagMarkdown {
					mds = append(mds, e.Content)
				}
			}
			if tt.first == "" && tt.last == "" {
				require.Len(t, mds, 1)
				return
			}
			if tt.first != "" {
				require.Equal(t, tt.first, mds[0])
				require.NotNil(t, ackButton(t, c), "an escalation card has the same ack button")
			}
			if tt.last != "" {
				require.Equal(t, tt.last, mds[len(mds)-1])
			}
		})
	}
}
