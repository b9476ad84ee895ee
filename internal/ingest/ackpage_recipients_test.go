package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
)

// The ack page says whom the card went to: a receiver on a schedule is
// not "0 人".
func TestAckPageRecipients(t *testing.T) {
	tests := []struct {
		name string
		rc   config.Receiver
		want string
	}{
		{"open_ids", config.Receiver{Name: "r", OpenIDs: []string{"ou_a", "ou_b"}}, "2 人"},
		{"all subscribers", config.Receiver{Name: "r", AllSubscribers: true}, "全部订阅用户"},
		{"only a schedule", config.Receiver{Name: "r", Schedule: "db"}, "值班表 db 的值班人员"},
		{"open_ids and a schedule", config.Receiver{Name: "r", OpenIDs: []string{"ou_a"}, Schedule: "db"}, "1 人及值班表 db 的值班人员"},
	}
	h := &ackHandlers{cfg: func() *config.Config { return &config.Config{} }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := tt.rc
			p := h.page(ack.View{Known: true, Incident: &incident.Incident{GroupID: "g1"}, Group: &alert.Group{}, Receiver: &rc})
			require.Equal(t, tt.want, p.Recipients)
		})
	}
}
