package chat

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/incident"
)

// fake is a Loop with fixed answers.
type fake struct {
	Loop
	open     []Entry
	schedule []OnCall
}

func (f fake) Open(context.Context, string) ([]Entry, error) { return f.open, nil }
func (f fake) Time(t time.Time) string                       { return t.UTC().Format("01-02 15:04") }
func (f fake) OnCall(name string) ([]OnCall, bool) {
	if name == "" {
		return f.schedule, true
	}
	for _, o := range f.schedule {
		if o.Schedule == name {
			return []OnCall{o}, true
		}
	}
	return nil, false
}

func TestOnCallAndEscalationInChat(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	l := fake{
		schedule: []OnCall{
			{Schedule: "db", Zone: "UTC", Now: []string{"alice（ou_a）"}, Next: []Handoff{{At: t0.Add(24 * time.Hour), OnCall: []string{"ou_b"}}}},
			{Schedule: "night", Zone: "Asia/Shanghai"},
		},
		open: []Entry{
			{Incident: incident.Incident{GroupID: "a1b2c3d4e5", State: incident.Firing}, Name: "HighCPU", Firing: 2, Step: 2},
			{Incident: incident.Incident{GroupID: "ffff0000aa", State: incident.Firing}, Name: "DiskFull", Firing: 1, Step: 1, Round: 1},
			{Incident: incident.Incident{GroupID: "0000aaaa11", State: incident.Firing}, Name: "Quiet", Firing: 1},
		},
	}
	tests := []struct {
		text string
		want []string // lines the answer contains
		not  []string
	}{
		{"oncall", []string{"**值班表 db**（UTC）\n现在值班：alice（ou\\_a）\n- 01-06 10:00 起：ou\\_b", "**值班表 night**（Asia/Shanghai）\n现在值班：无人\n近期无交接"}, nil},
		{"值班 night", []string{"**值班表 night**"}, []string{"值班表 db"}},
		{"oncall nope", []string{"没有名为 `nope` 的值班表"}, nil},
		{"alerts", []string{"HighCPU（2 条）<font color='red'>未确认</font> · 已升级至第 2 步",
			"DiskFull（1 条）<font color='red'>未确认</font> · 已升级至第 2 轮第 1 步",
			"Quiet（1 条）<font color='red'>未确认</font>\n"}, nil},
		{"help", []string{"`oncall [值班表]`"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := Answer(context.Background(), l, "ou_a", "alice", ParseCommand(tt.text))
			require.NoError(t, err)
			for _, w := range tt.want {
				require.Contains(t, got, w)
			}
			for _, w := range tt.not {
				require.NotContains(t, got, w)
			}
		})
	}
}
