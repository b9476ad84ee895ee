package ack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/chat"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/event"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/schedule"
	"github.com/mindoffice/mind-relay/internal/store"
	"github.com/mindoffice/mind-relay/internal/token"
)

// Reply is the answer to one Mind event. A click that acted answers with
// the card's updated version (Card), which Mind shows in place of the old
// one (cards are share cards, so for everyone); anything else answers
// {"ok":..,"result":..,"msg":..}. Every well-formed event gets HTTP 200:
// the decision is in the body, and a refusal changes nothing.
type Reply struct {
	Card   *card.Card `json:"-"`
	OK     bool       `json:"ok"`
	Result string     `json:"result"`
	Msg    string     `json:"msg,omitempty"`
}

// HandleEvent acts on one callback body. It fails only with
// event.ErrNotEvent (not a Mind event: 400) or a store failure (500, Mind
// may resend).
//
// authenticated says the request carried mind.callback_token. Card clicks
// are safe without it (their signed token is the capability), but a chat
// message's sender is only what the body says: without the callback token
// anyone could act as any open_id, so messages are then refused — from
// the event's header, before the message is read.
func (s *Service) HandleEvent(ctx context.Context, body []byte, authenticated bool) (Reply, error) {
	h, err := event.ParseHeader(body)
	if err != nil {
		return Reply{}, err
	}
	log := s.log.With("event_type", h.Type)
	if want := s.cfg().Mind.AppID; h.AppID != want {
		if _, err := event.ParseEvent(body); err != nil {
			return Reply{}, err // no event at all: 400
		}
		log.Warn("event for another app, or for none, refused", "app_id", h.AppID)
		s.m.acks.WithLabelValues(ResultWrongApp).Inc()
		return Reply{Result: ResultWrongApp, Msg: "event is for another app"}, nil
	}
	if h.IsMessage() && !authenticated {
		log.Warn("chat message refused: mind.callback_token is not set, so its sender cannot be trusted")
		s.m.acks.WithLabelValues(ResultUnauthenticated).Inc()
		return Reply{Result: ResultUnauthenticated, Msg: "chat commands need mind.callback_token"}, nil
	}
	ev, err := event.ParseEvent(body)
	if err != nil {
		return Reply{}, err
	}
	log = log.With("message_id", ev.MessageID)
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

// Msg is what a result says to a person.
func Msg(result string) string { return resultMsgs[result] }

func (s *Service) click(ctx context.Context, ev *event.Event, log *slog.Logger) (Reply, error) {
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
	w := incident.Who{Name: ev.Nickname, OpenID: ev.OpenID, Via: incident.ViaCard}
	if w.Name == "" {
		w.Name = ev.OpenID
	}
	if w.Name == "" {
		w.Name = "未知用户"
	}
	var out Outcome
	if claims.Action == render.ActionUnack {
		out, err = s.Unack(ctx, claims.NotificationID, w)
	} else {
		out, err = s.Ack(ctx, claims.NotificationID, w, 0)
	}
	if err != nil {
		log.Error("ack failed", "card", claims.NotificationID, "err", err)
		return Reply{}, err
	}
	log.Info("card click", "card", claims.NotificationID, "result", out.Result, "by", w.Name)
	reply := Reply{OK: out.Result == ResultAcked || out.Result == ResultUnacked || out.Result == ResultAlreadyAcked,
		Result: out.Result, Msg: resultMsgs[out.Result]}
	if out.Card != nil && out.Incident != nil {
		d, err := relay.DecodeGroup(out.Card.Group)
		if err == nil {
			reply.Card, err = s.render(out.Card, d, out.Incident)
		}
		if err != nil {
			log.Warn("cannot render the updated card", "card", claims.NotificationID, "err", err)
		}
	}
	return reply, nil
}

func (s *Service) message(ctx context.Context, ev *event.Event, log *slog.Logger) (Reply, error) {
	if ev.OpenID == "" {
		log.Info("message without a sender ignored")
		return Reply{Result: "no_sender", Msg: "no open_id to answer"}, nil
	}
	cmd := chat.ParseCommand(ev.Text)
	text, err := chat.Answer(ctx, loop{s}, ev.OpenID, ev.Nickname, cmd)
	if err != nil {
		log.Error("chat command failed", "command", cmd.Name, "err", err)
		text = "暂时无法处理，请稍后再试"
	}
	if err := s.reply(ctx, ev.OpenID, ev.MessageID, text); err != nil {
		return Reply{}, err
	}
	log.Info("chat command answered", "command", cmd.Name, "open_id", ev.OpenID)
	return Reply{OK: true, Result: "answered", Msg: cmd.Name}, nil
}

// reply sends a markdown message to one user through the queue. Its id is
// derived from the message it answers: Mind resending the event (it
// thinks the first was lost) queues the answer once, on every replica.
func (s *Service) reply(ctx context.Context, openID, messageID, text string) error {
	content, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	body, err := json.Marshal(mind.RobotMessage{ReceiveOpenIDs: []string{openID}, MsgType: "markdown", Content: string(content)})
	if err != nil {
		return err
	}
	id := store.NewID()
	if messageID != "" {
		id = incident.SideEffectID("chat:"+openID, messageID, 0)
	}
	return s.queue.Submit(ctx, []store.Notification{{
		ID: id, Receiver: ChatReceiver, Source: "chat", Kind: store.KindChat,
		Request:   mind.Request{Endpoint: mind.EndpointRobotMessage, RequestID: id, Body: body},
		CreatedAt: s.now(),
	}})
}

// loop is the Service as chat commands see it.
type loop struct{ s *Service }

func (l loop) Silences() bool { return l.s.cfg().Ack.Silence != nil }

func (l loop) Time(t time.Time) string { return FormatTime(l.s.cfg(), t) }

func (l loop) Timeline(ctx context.Context, id string) ([]incident.Event, error) {
	return l.s.st.Timeline(ctx, id)
}

func (l loop) Ack(ctx context.Context, inc incident.Incident, w incident.Who, d time.Duration) (string, *incident.Incident, error) {
	out, err := l.s.Ack(ctx, inc.LastCard, w, d)
	return out.Result, out.Incident, err
}

func (l loop) Unack(ctx context.Context, inc incident.Incident, w incident.Who) (string, *incident.Incident, error) {
	out, err := l.s.Unack(ctx, inc.LastCard, w)
	return out.Result, out.Incident, err
}

// Open lists the open incidents whose cards went to openID.
func (l loop) Open(ctx context.Context, openID string) ([]chat.Entry, error) {
	s := l.s
	incs, err := s.st.Incidents(ctx, store.IncidentQuery{
		States: []incident.State{incident.Firing, incident.Acked}, UpdatedSince: s.now().Add(-listWindow)})
	if err != nil {
		return nil, err
	}
	cfg := s.cfg()
	var out []chat.Entry
	for _, inc := range incs {
		rc := cfg.ReceiverByName(inc.Receiver)
		var g *alert.Group
		// Whoever got a card of it may act on it: the receiver's
		// open_ids, and those its schedule or an escalation paged,
		// recorded when their card was sent.
		got := false
		if rc == nil || !rc.AllSubscribers && !contains(rc.OpenIDs, openID) {
			to, err := s.st.Recipients(ctx, inc.ID)
			if err != nil {
				return nil, err
			}
			got = contains(to, openID)
		}
		if rc == nil || rc.AllSubscribers || contains(rc.OpenIDs, openID) || got {
			_, d, err := s.card(ctx, inc.LastCard)
			if err != nil || d == nil {
				continue
			}
			if rc == nil && !got && !d.AllSubscribers && !contains(d.OpenIDs, openID) {
				continue
			}
			g = d.Group
		}
		if g == nil {
			continue
		}
		e := chat.Entry{Incident: inc, Name: GroupName(g), Firing: len(inc.Firing())}
		if rc != nil && rc.Escalation != "" {
			steps, err := s.st.EscalationSteps(ctx, inc.ID)
			if err != nil {
				return nil, err
			}
			e.Step, e.Round = reached(steps)
		}
		out = append(out, e)
	}
	return out, nil
}

// reached is the step and round the latest firing period's escalation
// reached.
func reached(steps []store.EscalationStep) (step, round int) {
	var epoch time.Time
	for _, st := range steps {
		if st.Step == 0 { // a reminder's record
			continue
		}
		switch {
		case st.Epoch.After(epoch):
			epoch, step, round = st.Epoch, st.Step, st.Round
		case st.Epoch.Equal(epoch) && (st.Round > round || st.Round == round && st.Step > step):
			step, round = st.Step, st.Round
		}
	}
	return step, round
}

// OnCall is who is on call on the config's schedules now and at the next
// three handoffs, named as mentions.users names them.
func (l loop) OnCall(name string) ([]chat.OnCall, bool) {
	cfg := l.s.cfg()
	schedules := cfg.OnCall.All()
	if name != "" {
		sc := cfg.OnCall.Get(name)
		if sc == nil {
			return nil, false
		}
		schedules = []*schedule.Schedule{sc}
	}
	names := map[string]string{}
	for n, id := range cfg.Mentions.Users {
		if cur, ok := names[id]; !ok || n < cur {
			names[id] = n
		}
	}
	who := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id
			if n := names[id]; n != "" {
				out[i] = n + "（" + id + "）"
			}
		}
		return out
	}
	now := l.s.now()
	out := make([]chat.OnCall, 0, len(schedules))
	for _, sc := range schedules {
		at := now.In(sc.Location())
		o := chat.OnCall{Schedule: sc.Name(), Zone: sc.Location().String(), Now: who(sc.OnCall(at))}
		for _, h := range sc.Handoffs(at, 3) {
			o.Next = append(o.Next, chat.Handoff{At: h.At, OnCall: who(h.OnCall)})
		}
		out = append(out, o)
	}
	return out, true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// FormatTime is a time in the configured zone, as pages and chat say it.
func FormatTime(cfg *config.Config, t time.Time) string {
	loc := cfg.Location
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// View is what the ack page shows for a token: the incident, the group of
// its latest card and its timeline. The page itself is the HTTP layer's.
type View struct {
	Result string // what a POST did, or why the token was refused
	// Known is set when the token named a card the relay knows.
	Known    bool
	Incident *incident.Incident
	Group    *alert.Group
	Receiver *config.Receiver
	Timeline []incident.Event
	CanAck   bool
}

// Page results besides the ack results.
const (
	PageOK = ""
)

// ViewPage describes the token's incident; it changes nothing.
func (s *Service) ViewPage(ctx context.Context, tok string) (View, error) {
	claims, result, err := s.verify(tok)
	if err == nil && claims.Action != token.ActionAck {
		result, err = ResultInvalidToken, fmt.Errorf("token action %q", claims.Action)
	}
	if err != nil {
		s.log.Info("ack page: token refused", "result", result, "reason", err.Error())
		return View{Result: result}, nil
	}
	return s.view(ctx, claims.NotificationID, PageOK)
}

// AckByPage acknowledges the token's card from the ack page; name (may be
// empty) says who.
func (s *Service) AckByPage(ctx context.Context, tok, name string) (View, error) {
	claims, result, err := s.verify(tok)
	if err == nil && claims.Action != token.ActionAck {
		result, err = ResultInvalidToken, fmt.Errorf("token action %q", claims.Action)
	}
	if err != nil {
		s.m.acks.WithLabelValues(result).Inc()
		s.log.Warn("ack page: ack refused", "result", result, "reason", err.Error())
		return View{Result: result}, nil
	}
	w := incident.Who{Name: claims.Receiver, Via: incident.ViaPage}
	if name = cleanName(name); name != "" {
		w.Name = "web:" + name
	}
	if w.Name == "" {
		w.Name = "web"
	}
	out, err := s.Ack(ctx, claims.NotificationID, w, 0)
	if err != nil {
		return View{Result: ResultError}, err
	}
	return s.view(ctx, claims.NotificationID, out.Result)
}

func (s *Service) view(ctx context.Context, cardID, result string) (View, error) {
	n, _, err := s.card(ctx, cardID)
	if err != nil {
		return View{Result: ResultError}, err
	}
	if n == nil || n.IncidentID == "" {
		return View{Result: ResultUnknownGroup}, nil
	}
	inc, err := s.st.Incident(ctx, n.IncidentID)
	if errors.Is(err, store.ErrNoIncident) {
		return View{Result: ResultUnknownGroup}, nil
	}
	if err != nil {
		return View{Result: ResultError}, err
	}
	last, d, err := s.card(ctx, inc.LastCard)
	if err != nil || last == nil {
		return View{Result: ResultError}, errors.Join(fmt.Errorf("incident %s: latest card gone", inc.ID), err)
	}
	tl, err := s.st.Timeline(ctx, inc.ID)
	if err != nil {
		return View{Result: ResultError}, err
	}
	v := View{Result: result, Known: true, Incident: &inc, Group: d.Group,
		Receiver: d.Receiver(s.cfg(), inc.Receiver), Timeline: tl}
	v.CanAck = inc.State == incident.Firing && !inc.AckCovers(n.Alerts)
	return v, nil
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
