package ack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// Reply is the answer to one Mind event. A click that acted answers with
// the group's updated card (Card), which Mind shows in place of the old one
// (cards are share cards, so for everyone); anything else answers
// {"ok":..,"result":..,"msg":..}. Every well-formed event gets HTTP 200:
// the decision is in the body, and a refusal changes nothing.
type Reply struct {
	Card   *card.Card `json:"-"`
	OK     bool       `json:"ok"`
	Result string     `json:"result"`
	Msg    string     `json:"msg,omitempty"`
}

// HandleEvent acts on one callback body. It fails only with ErrNotEvent
// (not a Mind event: 400) or a store failure (500, Mind may resend).
//
// authenticated says the request carried mind.callback_token. Card clicks
// are safe without it (their signed token is the capability), but a chat
// message's sender is only what the body says: without the callback token
// anyone could act as any open_id, so messages are then refused.
func (s *Service) HandleEvent(ctx context.Context, body []byte, authenticated bool) (Reply, error) {
	ev, err := ParseEvent(body)
	if err != nil {
		return Reply{}, err
	}
	log := s.log.With("event_type", ev.Type, "message_id", ev.MessageID)
	if want := s.state().Config.Mind.AppID; ev.AppID != "" && ev.AppID != want {
		log.Warn("event for another app refused", "app_id", ev.AppID)
		s.m.acks.WithLabelValues(ResultWrongApp).Inc()
		return Reply{Result: ResultWrongApp, Msg: "event is for another app"}, nil
	}
	switch {
	case ev.Clicked:
		return s.click(ctx, ev, log)
	case ev.Message && !authenticated:
		log.Warn("chat message refused: mind.callback_token is not set, so its sender cannot be trusted", "open_id", ev.OpenID)
		s.m.acks.WithLabelValues(ResultUnauthenticated).Inc()
		return Reply{Result: ResultUnauthenticated, Msg: "chat commands need mind.callback_token"}, nil
	case ev.Message:
		return s.message(ctx, ev, log)
	default:
		log.Debug("event ignored")
		return Reply{OK: true, Result: "ignored", Msg: "event type not handled"}, nil
	}
}

var resultMsgs = map[string]string{
	ResultAcked:        "已确认",
	ResultAlreadyAcked: "该告警组已被确认",
	ResultUnacked:      "已取消确认",
	ResultNotAcked:     "该告警组未被确认",
	ResultResolved:     "告警已恢复，无需确认",
	ResultInvalidToken: "确认按钮无效（卡片可能被篡改或来自其他部署）",
	ResultExpiredToken: "确认按钮已过期，请在最新的卡片上确认，或发送 ack <编号>",
	ResultUnknownGroup: "找不到该告警组（可能已清理）",
	ResultError:        "暂时无法确认，请稍后再试",
}

func (s *Service) click(ctx context.Context, ev *Event, log *slog.Logger) (Reply, error) {
	refuse := func(result, why string) (Reply, error) {
		s.m.acks.WithLabelValues(result).Inc()
		log.Warn("card click refused", "result", result, "reason", why, "open_id", ev.OpenID)
		return Reply{Result: result, Msg: resultMsgs[result]}, nil
	}
	if ev.Click == nil || ev.Click.Token == "" {
		return refuse(ResultInvalidToken, "the click carries no button value with a token")
	}
	claims, result, err := s.verify(ev.Click.Token)
	if err != nil {
		return refuse(result, err.Error())
	}
	if claims.Action != token.ActionAck && claims.Action != render.ActionUnack {
		return refuse(ResultInvalidToken, "token action "+claims.Action)
	}
	if ev.Click.Action != "" && ev.Click.Action != claims.Action {
		return refuse(ResultInvalidToken, fmt.Sprintf("button action %q differs from the token's %q", ev.Click.Action, claims.Action))
	}
	w := who{Name: ev.Nickname, OpenID: ev.OpenID, Via: "card"}
	if w.Name == "" {
		w.Name = ev.OpenID
	}
	if w.Name == "" {
		w.Name = "未知用户"
	}
	var out outcome
	if claims.Action == render.ActionUnack {
		out, err = s.unack(ctx, claims.GroupID, w)
	} else {
		out, err = s.ack(ctx, claims.GroupID, w, 0)
	}
	if err != nil {
		log.Error("ack failed", "group_id", claims.GroupID, "err", err)
		return Reply{}, err
	}
	log.Info("card click", "group_id", claims.GroupID, "result", out.Result, "by", w.Name)
	reply := Reply{OK: out.Result == ResultAcked || out.Result == ResultUnacked || out.Result == ResultAlreadyAcked,
		Result: out.Result, Msg: resultMsgs[out.Result]}
	if out.Snap != nil {
		var info *render.AckInfo
		if out.Rec != nil && (out.Rec.active() || out.Rec.State == stateResolved) {
			info = out.Rec.info()
		}
		c, err := s.render(out.Snap, out.Snap.Group, info, out.Snap.NotificationID)
		if err != nil {
			log.Warn("cannot render the updated card", "group_id", claims.GroupID, "err", err)
		} else {
			reply.Card = c
		}
	}
	return reply, nil
}

// seenMessage reports whether the message was answered already (Mind may
// resend an event it thinks was lost).
func (s *Service) seenMessage(id string) bool {
	if id == "" {
		return false
	}
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	if _, ok := s.seen[id]; ok {
		return true
	}
	s.seen[id] = s.now()
	return false
}

func (s *Service) message(ctx context.Context, ev *Event, log *slog.Logger) (Reply, error) {
	if ev.OpenID == "" {
		log.Info("message without a sender ignored")
		return Reply{Result: "no_sender", Msg: "no open_id to answer"}, nil
	}
	if s.seenMessage(ev.MessageID) {
		return Reply{OK: true, Result: "duplicate"}, nil
	}
	cmd := ParseCommand(ev.Text)
	text, err := s.command(ctx, ev, cmd)
	if err != nil {
		log.Error("chat command failed", "command", cmd.Name, "err", err)
		text = "暂时无法处理，请稍后再试"
	}
	if err := s.reply(ctx, ev.OpenID, text); err != nil {
		s.forget(ev.MessageID)
		return Reply{}, err
	}
	log.Info("chat command answered", "command", cmd.Name, "open_id", ev.OpenID)
	return Reply{OK: true, Result: "answered", Msg: cmd.Name}, nil
}

func (s *Service) forget(id string) {
	s.seenMu.Lock()
	delete(s.seen, id)
	s.seenMu.Unlock()
}

// reply sends a markdown message to one user through the queue.
func (s *Service) reply(ctx context.Context, openID, text string) error {
	content, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	body, err := json.Marshal(mind.RobotMessage{ReceiveOpenIDs: []string{openID}, MsgType: "markdown", Content: string(content)})
	if err != nil {
		return err
	}
	id := uuid.NewString()
	return s.queue.Submit(ctx, []store.Notification{{
		ID: id, Receiver: ChatReceiver, Source: "chat",
		Request:   mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: id, Body: body},
		CreatedAt: s.now(),
	}})
}

// visible are the firing groups that went to openID, newest first.
func (s *Service) visible(ctx context.Context, openID string) ([]*snapshot, error) {
	sns, err := s.st.Snapshots(ctx, alert.StatusFiring, s.now().Add(-listWindow))
	if err != nil {
		return nil, err
	}
	cfg := s.state().Config
	var out []*snapshot
	for _, sn := range sns {
		snap, err := decodeSnapshot(sn)
		if err != nil || !snap.reaches(cfg, openID) {
			continue
		}
		out = append(out, snap)
	}
	return out, nil
}

func (s *Service) command(ctx context.Context, ev *Event, cmd Command) (string, error) {
	if cmd.Problem != "" {
		return cmd.Problem, nil
	}
	switch cmd.Name {
	case CmdAlerts:
		return s.listAlerts(ctx, ev.OpenID)
	case CmdSilence:
		if s.state().Config.Ack.Silence == nil {
			return "静默未启用：relay 的配置里没有 ack.silence；可以用 `ack <编号>` 确认", nil
		}
	case CmdAck, CmdUnack:
	default:
		return helpText, nil
	}
	groups, err := s.visible(ctx, ev.OpenID)
	if err != nil {
		return "", err
	}
	var hits []*snapshot
	for _, g := range groups {
		if len(cmd.ShortID) >= 4 && strings.HasPrefix(g.GroupID, cmd.ShortID) {
			hits = append(hits, g)
		}
	}
	switch {
	case len(cmd.ShortID) < 4:
		return "编号至少 4 位，例如 `" + cmd.Name + " a1b2c3`", nil
	case len(hits) == 0:
		return "没有编号为 `" + mdCode(cmd.ShortID) + "` 且发给你的告警组；发送 `alerts` 查看", nil
	case len(hits) > 1:
		return "编号 `" + mdCode(cmd.ShortID) + "` 对应多个告警组，请多写几位", nil
	}
	g := hits[0]
	w := who{Name: ev.Nickname, OpenID: ev.OpenID, Via: "chat"}
	if w.Name == "" {
		w.Name = ev.OpenID
	}
	var out outcome
	if cmd.Name == CmdUnack {
		out, err = s.unack(ctx, g.GroupID, w)
	} else {
		out, err = s.ack(ctx, g.GroupID, w, cmd.For)
	}
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("`%s` %s", render.ShortID(g.GroupID), mdText(groupName(g.Group)))
	switch {
	case out.Result == ResultAlreadyAcked && cmd.Name == CmdSilence:
		return fmt.Sprintf("%s 已由 %s 确认；静默改为 %s", name, mdText(out.Rec.By), cmd.For), nil
	case out.Result == ResultAlreadyAcked:
		return fmt.Sprintf("%s 已由 %s 于 %s 确认", name, mdText(out.Rec.By), s.fmtTime(out.Rec.At)), nil
	case out.Result == ResultAcked && cmd.For > 0:
		return fmt.Sprintf("已确认 %s，并静默 %s；确认卡片随后发给接收人", name, cmd.For), nil
	case out.Result == ResultAcked:
		return fmt.Sprintf("已确认 %s；确认卡片随后发给接收人", name), nil
	}
	return fmt.Sprintf("%s：%s", name, resultMsgs[out.Result]), nil
}

func (s *Service) listAlerts(ctx context.Context, openID string) (string, error) {
	groups, err := s.visible(ctx, openID)
	if err != nil {
		return "", err
	}
	if len(groups) == 0 {
		return "没有发给你的、正在触发的告警", nil
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].UpdatedAt.After(groups[j].UpdatedAt) })
	var b strings.Builder
	fmt.Fprintf(&b, "**正在触发的告警组（%d）**\n", len(groups))
	for i, g := range groups {
		if i == 20 {
			fmt.Fprintf(&b, "还有 %d 组未列出\n", len(groups)-20)
			break
		}
		state := "<font color='red'>未确认</font>"
		if r := s.get(g.GroupID); r != nil && r.active() && judge(r, g.Group) == keep {
			state = fmt.Sprintf("<font color='orange'>已由 %s 确认</font>", mdText(r.By))
		}
		fmt.Fprintf(&b, "- `%s` %s（%d 条）%s\n", render.ShortID(g.GroupID), mdText(groupName(g.Group)), len(g.Group.Alerts.Firing()), state)
	}
	b.WriteString("\n发送 `ack <编号>` 确认，`help` 查看全部命令")
	return b.String(), nil
}

func (s *Service) fmtTime(t time.Time) string {
	loc := s.state().Config.Location
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
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

// Page is what the ack page shows for a token.
type Page struct {
	Status int    // HTTP status
	Result string // what a POST did; "" for a GET
	Msg    string
	// Known is set when the token named a group the relay knows.
	Known      bool
	ShortID    string
	Title      string
	Receiver   string
	Recipients string
	State      string // firing, acked, resolved
	AckBy      string
	AckAt      string
	Silence    string
	Alerts     []PageAlert
	Omitted    int
	CanAck     bool
}

// PageAlert is one alert on the ack page.
type PageAlert struct {
	Summary string
	Labels  string
	Since   string
	Firing  bool
}

const pageMaxAlerts = 20

// ViewPage describes the token's group; it changes nothing.
func (s *Service) ViewPage(ctx context.Context, tok string) Page {
	claims, result, err := s.verify(tok)
	if err == nil && claims.Action != token.ActionAck {
		result, err = ResultInvalidToken, fmt.Errorf("token action %q", claims.Action)
	}
	if err != nil {
		s.log.Info("ack page: token refused", "result", result, "reason", err.Error())
		return Page{Status: pageStatus(result), Result: result, Msg: resultMsgs[result]}
	}
	snap, err := s.loadSnapshot(ctx, claims.GroupID)
	if err != nil {
		s.log.Error("ack page", "group_id", claims.GroupID, "err", err)
		return Page{Status: http.StatusInternalServerError, Result: ResultError, Msg: resultMsgs[ResultError]}
	}
	if snap == nil {
		return Page{Status: http.StatusNotFound, Result: ResultUnknownGroup, Msg: resultMsgs[ResultUnknownGroup]}
	}
	return s.page(snap, s.get(claims.GroupID))
}

// AckByPage acknowledges the token's group from the ack page; name (may
// be empty) says who.
func (s *Service) AckByPage(ctx context.Context, tok, name string) Page {
	claims, result, err := s.verify(tok)
	if err == nil && claims.Action != token.ActionAck {
		result, err = ResultInvalidToken, fmt.Errorf("token action %q", claims.Action)
	}
	if err != nil {
		s.m.acks.WithLabelValues(result).Inc()
		s.log.Warn("ack page: ack refused", "result", result, "reason", err.Error())
		return Page{Status: pageStatus(result), Result: result, Msg: resultMsgs[result]}
	}
	w := who{Name: claims.Receiver, Via: "web"}
	if name = cleanName(name); name != "" {
		w.Name = "web:" + name
	}
	if w.Name == "" {
		w.Name = "web"
	}
	out, err := s.ack(ctx, claims.GroupID, w, 0)
	if err != nil {
		s.log.Error("ack page: ack failed", "group_id", claims.GroupID, "err", err)
		return Page{Status: http.StatusInternalServerError, Result: ResultError, Msg: resultMsgs[ResultError]}
	}
	if out.Snap == nil {
		return Page{Status: http.StatusNotFound, Result: out.Result, Msg: resultMsgs[out.Result]}
	}
	p := s.page(out.Snap, out.Rec)
	p.Result, p.Msg = out.Result, resultMsgs[out.Result]
	return p
}

func pageStatus(result string) int {
	switch result {
	case ResultExpiredToken:
		return http.StatusGone
	case ResultUnknownGroup:
		return http.StatusNotFound
	default:
		return http.StatusForbidden
	}
}

func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.Join(strings.Fields(name), " "))
	if r := []rune(name); len(r) > 40 {
		name = string(r[:40])
	}
	return name
}

func (s *Service) page(snap *snapshot, r *record) Page {
	g := snap.Group
	cfg := s.state().Config
	rc := snap.receiver(cfg)
	p := Page{
		Status: http.StatusOK, Known: true, ShortID: render.ShortID(snap.GroupID),
		Title: groupName(g), Receiver: rc.Name, State: "firing",
	}
	if rc.AllSubscribers {
		p.Recipients = "全部订阅用户"
	} else {
		p.Recipients = fmt.Sprintf("%d 人", len(rc.OpenIDs))
	}
	firing := g.Alerts.Firing()
	switch {
	case len(firing) == 0:
		p.State = "resolved"
	case r != nil && r.active() && judge(r, g) == keep:
		p.State = "acked"
	default:
		p.CanAck = true
	}
	if r != nil && (p.State == "acked" || (p.State == "resolved" && r.State == stateResolved)) {
		p.AckBy, p.AckAt = r.By, s.fmtTime(r.At)
		if r.Silence != nil && len(r.Silence.IDs) > 0 && !r.Silence.Done {
			p.Silence = "静默至 " + s.fmtTime(r.Silence.Until)
		}
	}
	for i, a := range g.Alerts {
		if i == pageMaxAlerts {
			p.Omitted = len(g.Alerts) - pageMaxAlerts
			break
		}
		pa := PageAlert{Summary: alertSummary(a), Firing: a.Status == alert.StatusFiring}
		var kv []string
		for _, k := range sortedKeys(a.Labels) {
			if _, common := g.CommonLabels[k]; !common || len(g.Alerts) == 1 {
				kv = append(kv, k+"="+a.Labels[k])
			}
		}
		pa.Labels = strings.Join(kv, " · ")
		if !a.StartsAt.IsZero() {
			pa.Since = s.fmtTime(a.StartsAt)
		}
		p.Alerts = append(p.Alerts, pa)
	}
	return p
}

func alertSummary(a alert.Alert) string {
	for _, v := range []string{a.Annotations["summary"], a.Annotations["message"], a.Labels["alertname"]} {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return "告警"
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
