package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
)

// Entry is an open incident as the chat lists it.
type Entry struct {
	Incident incident.Incident
	Name     string // what the group is about
	Firing   int
	// Step is the escalation step its current firing period reached
	// (Round the repeat, 0 the first run); 0: not escalated.
	Step, Round int
}

// OnCall is who is on call on one schedule and the next handoffs.
type OnCall struct {
	Schedule string
	Zone     string
	Now      []string // names (or open_ids) on call now; empty: nobody
	Next     []Handoff
}

// Handoff is a change of who is on call.
type Handoff struct {
	At     time.Time
	OnCall []string
}

// Loop is the ack loop as chat commands use it (ack.Service).
type Loop interface {
	// Open lists the open incidents whose cards went to openID, newest
	// first.
	Open(ctx context.Context, openID string) ([]Entry, error)
	// Ack and Unack act on the incident's latest card; result is an
	// incident.Result* constant.
	Ack(ctx context.Context, inc incident.Incident, w incident.Who, silenceFor time.Duration) (result string, after *incident.Incident, err error)
	Unack(ctx context.Context, inc incident.Incident, w incident.Who) (result string, after *incident.Incident, err error)
	Timeline(ctx context.Context, incidentID string) ([]incident.Event, error)
	// Silences says whether ack.silence is on.
	Silences() bool
	// Time formats a time in the configured zone.
	Time(t time.Time) string
	// OnCall says who is on call on each schedule, or on the one named
	// (ok false: there is no such schedule), now and next.
	OnCall(schedule string) (out []OnCall, ok bool)
}

// Answer runs cmd for the person openID (nickname name) and returns the
// markdown answer.
func Answer(ctx context.Context, l Loop, openID, name string, cmd Command) (string, error) {
	if cmd.Problem != "" {
		return cmd.Problem, nil
	}
	switch cmd.Name {
	case CmdAlerts:
		return list(ctx, l, openID)
	case CmdOnCall:
		return oncall(l, cmd.Schedule), nil
	case CmdSilence:
		if !l.Silences() {
			return "静默未启用：relay 的配置里没有 ack.silence；可以用 `ack <编号>` 确认", nil
		}
	case CmdAck, CmdUnack, CmdIncident:
	default:
		return HelpText, nil
	}
	if len(cmd.ShortID) < 4 {
		return "编号至少 4 位，例如 `" + cmd.Name + " a1b2c3`", nil
	}
	open, err := l.Open(ctx, openID)
	if err != nil {
		return "", err
	}
	var hits []Entry
	for _, e := range open {
		if strings.HasPrefix(e.Incident.GroupID, cmd.ShortID) {
			hits = append(hits, e)
		}
	}
	switch {
	case len(hits) == 0:
		return "没有编号为 `" + mdCode(cmd.ShortID) + "` 且发给你的告警组；发送 `alerts` 查看", nil
	case len(hits) > 1:
		return "编号 `" + mdCode(cmd.ShortID) + "` 对应多个告警组，请多写几位", nil
	}
	e := hits[0]
	if cmd.Name == CmdIncident {
		return timeline(ctx, l, e)
	}
	w := incident.Who{Name: name, OpenID: openID, Via: incident.ViaChat}
	if w.Name == "" {
		w.Name = openID
	}
	var (
		result string
		after  *incident.Incident
	)
	if cmd.Name == CmdUnack {
		result, after, err = l.Unack(ctx, e.Incident, w)
	} else {
		result, after, err = l.Ack(ctx, e.Incident, w, cmd.For)
	}
	if err != nil {
		return "", err
	}
	title := fmt.Sprintf("`%s` %s", render.ShortID(e.Incident.GroupID), mdText(e.Name))
	by := func() string {
		if after != nil && after.Ack != nil {
			return mdText(after.Ack.By)
		}
		return "他人"
	}
	switch {
	case result == incident.ResultAlreadyAcked && cmd.Name == CmdSilence:
		return fmt.Sprintf("%s 已由 %s 确认；静默改为 %s", title, by(), cmd.For), nil
	case result == incident.ResultAlreadyAcked:
		return fmt.Sprintf("%s 已由 %s 于 %s 确认", title, by(), l.Time(after.Ack.At)), nil
	case result == incident.ResultAcked && cmd.For > 0:
		return fmt.Sprintf("已确认 %s，并静默 %s；确认卡片随后发给接收人", title, cmd.For), nil
	case result == incident.ResultAcked:
		return fmt.Sprintf("已确认 %s；确认卡片随后发给接收人", title), nil
	case result == incident.ResultUnacked:
		return fmt.Sprintf("%s：已取消确认", title), nil
	case result == incident.ResultNotAcked:
		return fmt.Sprintf("%s：该告警组未被确认", title), nil
	default:
		return fmt.Sprintf("%s：告警已恢复，无需确认", title), nil
	}
}

func list(ctx context.Context, l Loop, openID string) (string, error) {
	open, err := l.Open(ctx, openID)
	if err != nil {
		return "", err
	}
	if len(open) == 0 {
		return "没有发给你的、正在触发的告警", nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**正在触发的告警组（%d）**\n", len(open))
	for i, e := range open {
		if i == 20 {
			fmt.Fprintf(&b, "还有 %d 组未列出\n", len(open)-20)
			break
		}
		state := "<font color='red'>未确认</font>"
		if e.Incident.State == incident.Acked {
			state = fmt.Sprintf("<font color='orange'>已由 %s 确认</font>", mdText(e.Incident.Ack.By))
		}
		if e.Step > 0 {
			if e.Round > 0 {
				state += fmt.Sprintf(" · 已升级至第 %d 轮第 %d 步", e.Round+1, e.Step)
			} else {
				state += fmt.Sprintf(" · 已升级至第 %d 步", e.Step)
			}
		}
		fmt.Fprintf(&b, "- `%s` %s（%d 条）%s\n", render.ShortID(e.Incident.GroupID), mdText(e.Name), e.Firing, state)
	}
	b.WriteString("\n发送 `ack <编号>` 确认，`incident <编号>` 查看经过，`help` 查看全部命令")
	return b.String(), nil
}

// oncall answers `oncall [schedule]`.
func oncall(l Loop, schedule string) string {
	all, ok := l.OnCall(schedule)
	if !ok {
		return "没有名为 `" + mdCode(schedule) + "` 的值班表；发送 `oncall` 查看全部"
	}
	if len(all) == 0 {
		return "relay 的配置里没有值班表（schedules）"
	}
	people := func(ids []string) string {
		if len(ids) == 0 {
			return "无人"
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = mdText(id)
		}
		return strings.Join(out, "、")
	}
	var b strings.Builder
	for i, o := range all {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**值班表 %s**（%s）\n现在值班：%s\n", mdText(o.Schedule), mdText(o.Zone), people(o.Now))
		if len(o.Next) == 0 {
			b.WriteString("近期无交接\n")
			continue
		}
		for _, h := range o.Next {
			fmt.Fprintf(&b, "- %s 起：%s\n", l.Time(h.At), people(h.OnCall))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// EventText says a timeline line in words.
func EventText(e incident.Event) string {
	var s string
	switch e.Kind {
	case incident.EventOpened:
		s = "触发"
	case incident.EventCard:
		s = "发送卡片"
	case incident.EventAcked:
		s = "确认"
	case incident.EventUnacked:
		s = "取消确认"
	case incident.EventReopened:
		s = "重新告警"
		switch e.Detail {
		case "new_alert":
			return s + "（新告警加入）"
		case "severity_rise":
			return s + "（级别升高）"
		}
	case incident.EventSilenced:
		s = "已静默"
	case incident.EventSilenceFailed:
		s = "静默失败"
	case incident.EventSilenceExpired:
		s = "静默解除"
	case "escalated":
		s = "升级"
	case "reminded":
		s = "提醒确认人"
	case incident.EventResolved:
		s = "恢复"
		if e.By == incident.ByRelay {
			return s + "（relay 轮询发现）"
		}
		return s
	default:
		s = e.Kind
	}
	if e.By != "" {
		s += " · " + e.By
	}
	if e.Detail != "" {
		s += "（" + e.Detail + "）"
	}
	return s
}

func timeline(ctx context.Context, l Loop, e Entry) (string, error) {
	evs, err := l.Timeline(ctx, e.Incident.ID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**`%s` %s · 第 %d 次发生**\n", render.ShortID(e.Incident.GroupID), mdText(e.Name), e.Incident.Occurrence)
	const maxLines = 30
	if len(evs) > maxLines {
		fmt.Fprintf(&b, "（前 %d 条略）\n", len(evs)-maxLines)
		evs = evs[len(evs)-maxLines:]
	}
	for _, ev := range evs {
		fmt.Fprintf(&b, "- %s %s\n", l.Time(ev.At), mdText(EventText(ev)))
	}
	return b.String(), nil
}

// mdText escapes markdown in user-provided text and keeps it on one line.
func mdText(v string) string {
	v = strings.Join(strings.Fields(v), " ")
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "'", "[", `\[`, "]", `\]`, "<", "＜", ">", "＞", "#", `\#`)
	if n := []rune(v); len(n) > 60 {
		v = string(n[:60]) + "…"
	}
	return r.Replace(v)
}

func mdCode(v string) string {
	v = strings.Map(func(r rune) rune {
		if r == '`' || unicode.IsControl(r) {
			return -1
		}
		return r
	}, v)
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}
