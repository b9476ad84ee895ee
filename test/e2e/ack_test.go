package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
	"github.com/mindoffice/mind-relay/internal/testutil/amtest"
	"github.com/mindoffice/mind-relay/internal/token"
)

const e2eAckSecret = "e2e-ack-secret-0123456789"

// ackConfig is the base config with the ack loop's silence on and a fast
// poll, plus extra YAML at the top level.
func ackConfig(ackExtra, extra string) string {
	return strings.Replace(baseConfig(extra), "ack:\n  secret: "+e2eAckSecret+"\n",
		"ack:\n  secret: "+e2eAckSecret+"\n  poll_interval: 200ms\n"+ackExtra, 1)
}

// click is a card click as Mind posts it (interface.md).
func click(openID, nickname, action, tok string) string {
	b, _ := json.Marshal(map[string]any{
		"schema": "1.0",
		"header": map[string]any{"event_type": "card.action.trigger", "app_id": mindtest.DefaultAppID, "create_time": 1737359666789},
		"event": map[string]any{"open_id": openID, "sender_nickname": nickname, "message_id": "m-" + openID,
			"value": map[string]any{"card_id": "c-1", "action": action, "token": tok}},
	})
	return string(b)
}

func chat(openID, messageID, text string) string {
	content, _ := json.Marshal(map[string]string{"text": text})
	b, _ := json.Marshal(map[string]any{
		"schema": "1.0",
		"header": map[string]any{"event_type": "im.message.robot.receive_v1", "app_id": mindtest.DefaultAppID, "create_time": 1737359666789},
		"event": map[string]any{"open_id": openID, "sender_nickname": "值班工程师", "message_id": messageID,
			"content_type": 101, "content": string(content)},
	})
	return string(b)
}

func ackToken(t *testing.T, c *card.Card) string {
	t.Helper()
	b := findButton(c, "确认")
	require.NotNil(t, b, "the card has an ack button")
	tok, _ := b.Value["token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

func activeSilences(t *testing.T, am *amtest.Alertmanager) []amtest.Silence {
	t.Helper()
	all, err := am.Silences(context.Background())
	require.NoError(t, err)
	var out []amtest.Silence
	for _, s := range all {
		if s.Status.State == "active" {
			out = append(out, s)
		}
	}
	return out
}

// The whole loop against a real Alertmanager: the card's ack token, posted
// as Mind posts a click, silences the alert (matchers, createdBy, end
// time), the confirmation card reaches Mind, a second click changes
// nothing, and once the alert resolves — which the silence hides from
// Alertmanager's notifications — the relay's poller sends the resolved
// card naming the acker and expires the silence.
func TestAckSilencesInRealAlertmanager(t *testing.T) {
	amtest.Binary(t)
	fake := mindtest.NewServer(t)
	amAddr := amtest.FreePort(t)
	relay := startRelay(t, fake, ackConfig("  silence:\n    duration: 2h\n    alertmanager_url: http://"+amAddr+"\n", ""))
	am := amtest.StartAt(t, amAddr, amtest.WebhookConfig(relay.URL+"/webhook/alertmanager", "am-token-123"))

	labels := map[string]string{"alertname": "PostgresDown", "team": "db", "severity": "critical", "instance": "pg-1:5432"}
	start := time.Now().Add(-2 * time.Minute).UTC()
	am.Post(t, amtest.Alert{Labels: labels, Annotations: map[string]string{"summary": "Postgres pg-1 is down"}, StartsAt: start})

	msgs, err := fake.WaitForMessages(1, 20*time.Second)
	require.NoError(t, err)
	firing := msgs[0]
	require.Equal(t, card.ColorRed, firing.Card.Header.Template)
	tok := ackToken(t, firing.Card)
	link := findButton(firing.Card, "网页确认")
	require.NotNil(t, link, "external_url is set: the card links to the ack page")
	require.Equal(t, "http://relay.example.com/ack/"+tok, link.URL)

	// The click: answered at once with the updated (orange) card.
	clickedAt := time.Now()
	code, body := post(t, relay.URL+"/mind/callback", click("ou_db1", "值班工程师", "ack", tok), nil)
	require.Equal(t, http.StatusOK, code, body)
	var updated card.Card
	require.NoError(t, json.Unmarshal([]byte(body), &updated), body)
	require.Equal(t, card.ColorOrange, updated.Header.Template)
	require.True(t, strings.HasPrefix(updated.Header.Title.Content, "已确认 by 值班工程师"), updated.Header.Title.Content)
	require.NotNil(t, findButton(&updated, "取消确认"), "an acked card offers to withdraw the ack")

	// The silence, as Alertmanager lists it.
	var sil amtest.Silence
	require.Eventually(t, func() bool {
		ss := activeSilences(t, am)
		if len(ss) == 1 {
			sil = ss[0]
		}
		return len(ss) == 1
	}, 10*time.Second, 50*time.Millisecond, "one active silence")
	got := map[string]string{}
	for _, m := range sil.Matchers {
		require.False(t, m.IsRegex, m.Name)
		require.True(t, m.IsEqual == nil || *m.IsEqual, m.Name)
		got[m.Name] = m.Value
	}
	require.Equal(t, labels, got, "equal matchers on exactly the alert's labels")
	require.Equal(t, "值班工程师", sil.CreatedBy)
	require.Contains(t, sil.Comment, "mind-relay")
	require.Contains(t, sil.Comment, "Mind")
	// A short lease (5m), renewed while the alert fires, within the
	// configured 2h.
	require.WithinDuration(t, clickedAt.Add(5*time.Minute), sil.EndsAt, 30*time.Second)

	// The confirmation card, through the queue, to the same receivers.
	msgs, err = fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	confirm := msgs[1]
	require.Equal(t, []string{"ou_db1", "ou_db2"}, confirm.Robot.ReceiveOpenIDs)
	require.Equal(t, card.ColorOrange, confirm.Card.Header.Template)
	text := cardText(confirm.Card)
	require.Contains(t, text, "已由 值班工程师 确认")
	require.Contains(t, text, "静默至")
	require.Contains(t, text, am.URL+"/#/silences/"+sil.ID, "links to the silence")

	// A second click, and one on the same (old) card by someone else:
	// nothing new.
	for _, who := range []string{"ou_db1", "ou_db2"} {
		code, body = post(t, relay.URL+"/mind/callback", click(who, "另一位", "ack", tok), nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "已确认 by 值班工程师", "still acked by the first")
	}
	time.Sleep(600 * time.Millisecond) // three polls
	require.Len(t, activeSilences(t, am), 1, "no second silence")
	all, err := am.Silences(context.Background())
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, 2, len(fake.Messages()), "no second confirmation")

	// Resolve. Alertmanager keeps the resolution to itself (silenced);
	// the relay's poller notices and sends the resolved card.
	am.Post(t, amtest.Alert{Labels: labels, StartsAt: start, EndsAt: time.Now().Add(-time.Second).UTC()})
	msgs, err = fake.WaitForMessages(3, 15*time.Second)
	require.NoError(t, err)
	resolved := msgs[2]
	require.Equal(t, card.ColorGreen, resolved.Card.Header.Template)
	require.True(t, strings.HasPrefix(resolved.Card.Header.Title.Content, "已恢复"), resolved.Card.Header.Title.Content)
	text = cardText(resolved.Card)
	require.Contains(t, text, "已由 值班工程师 确认")
	require.Contains(t, text, "触发后", "time to ack")
	require.Contains(t, text, "告警共持续", "how long it fired")
	require.Equal(t, []string{"ou_db1", "ou_db2"}, resolved.Robot.ReceiveOpenIDs)

	require.Eventually(t, func() bool {
		all, err := am.Silences(context.Background())
		return err == nil && len(all) == 1 && all[0].Status.State == "expired"
	}, 10*time.Second, 50*time.Millisecond, "the silence is expired")

	// Alertmanager's own notifications (group_interval 1s) add no second
	// resolved card.
	time.Sleep(3 * time.Second)
	require.Equal(t, 3, len(fake.Messages()), "no second resolved card")
	require.Empty(t, fake.Rejections())
	require.Contains(t, metrics(t, relay.URL), `mind_relay_acks_total{result="acked"} 1`)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_acks_total{result="already_acked"} 2`)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_silences_total{result="created"} 1`)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_silences_total{result="expired"} 1`)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_time_to_ack_seconds_count 1`)
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// firingCard posts a firing group to the relay and returns its card.
func firingCard(t *testing.T, relay *relayProc, fake *mindtest.Server, n int) mindtest.Message {
	t.Helper()
	code, body := post(t, relay.URL+"/webhook/alertmanager", readTestdata(t, "alertmanager/am-0.25-firing.json"),
		map[string]string{"Authorization": "Bearer am-token-123"})
	require.Equal(t, http.StatusOK, code, body)
	msgs, err := fake.WaitForMessages(n, 10*time.Second)
	require.NoError(t, err)
	return msgs[n-1]
}

// Forged, altered and expired tokens, a click without a value, a token for
// a group the relay never saw, garbage: each is refused clearly, logged and
// counted, and changes nothing.
func TestCallbackRefusals(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("", ""))
	good := ackToken(t, firingCard(t, relay, fake, 1).Card)

	now := time.Now()
	sign := func(secret string, c token.Claims) string {
		tok, err := token.Sign([]byte(secret), c)
		require.NoError(t, err)
		return tok
	}
	claims, err := token.Verify([]byte(e2eAckSecret), good, now)
	require.NoError(t, err)
	expired := claims
	expired.IssuedAt, expired.ExpiresAt = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	unknown := claims
	unknown.NotificationID = "ffffffff-ffff-4fff-bfff-ffffffffffff" // a card the relay never queued
	p, s, _ := strings.Cut(good, ".")
	altered := strings.Replace(p, p[len(p)-4:], "AAAA", 1) + "." + s

	noValue := `{"schema":"1.0","header":{"event_type":"card.action.trigger","app_id":"` + mindtest.DefaultAppID + `"},"event":{"open_id":"ou_db1"}}`
	noApp := strings.Replace(click("ou_x", "x", "ack", good), `"app_id":"`+mindtest.DefaultAppID+`",`, "", 1)
	require.NotContains(t, noApp, "app_id")
	for _, tc := range []struct {
		name, body string
		code       int
		result     string
	}{
		{"forged with another secret", click("ou_x", "x", "ack", sign("not-the-relay-secret-0123", claims)), 200, "invalid_token"},
		{"altered payload", click("ou_x", "x", "ack", altered), 200, "invalid_token"},
		{"not a token", click("ou_x", "x", "ack", "hello"), 200, "invalid_token"},
		{"expired", click("ou_x", "x", "ack", sign(e2eAckSecret, expired)), 200, "expired_token"},
		{"value's action differs from the token's", click("ou_x", "x", "unack", good), 200, "invalid_token"},
		{"no value", noValue, 200, "invalid_token"},
		{"unknown group", click("ou_x", "x", "ack", sign(e2eAckSecret, unknown)), 200, "unknown_group"},
		{"no header.app_id", noApp, 200, "wrong_app"},
		{"garbage", "{not json", 400, ""},
		{"no event", `{"schema":"1.0","header":{"event_type":"card.action.trigger"}}`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, relay.URL+"/mind/callback", tc.body, nil)
			require.Equal(t, tc.code, code, body)
			var r struct {
				OK     bool   `json:"ok"`
				Result string `json:"result"`
				Msg    string `json:"msg"`
				Error  string `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &r), body)
			if tc.code == 400 {
				require.Contains(t, r.Error, "not a Mind event")
				return
			}
			require.False(t, r.OK)
			require.Equal(t, tc.result, r.Result)
			require.NotEmpty(t, r.Msg, "a reason a person can read")
		})
	}
	require.Contains(t, relay.Logs.String(), "card click refused")
	m := metrics(t, relay.URL)
	require.Contains(t, m, `mind_relay_acks_total{result="invalid_token"} 5`)
	require.Contains(t, m, `mind_relay_acks_total{result="expired_token"} 1`)
	require.Contains(t, m, `mind_relay_acks_total{result="unknown_group"} 1`)
	require.Contains(t, m, `mind_relay_acks_total{result="wrong_app"} 1`)
	require.Contains(t, m, `mind_relay_acks_total{result="acked"} 0`)

	// Nothing changed: no confirmation was sent, and the genuine token
	// still acks.
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 1, len(fake.Messages()))
	code, body := post(t, relay.URL+"/mind/callback", click("ou_db1", "值班工程师", "ack", good), nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"template":"orange"`)
	_, err = fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
}

// mind.callback_token: header or ?token=, else 401 and nothing happens.
func TestCallbackToken(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, strings.Replace(ackConfig("", ""), "  app_secret:", "  callback_token: cb-token-42\n  app_secret:", 1))
	tok := ackToken(t, firingCard(t, relay, fake, 1).Card)
	ev := click("ou_db1", "值班工程师", "ack", tok)

	code, _ := post(t, relay.URL+"/mind/callback", ev, nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = post(t, relay.URL+"/mind/callback?token=wrong", ev, nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = post(t, relay.URL+"/mind/callback", ev, map[string]string{"X-Relay-Callback-Token": "cb-token-4"})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_auth_failures_total{endpoint="mind_callback"} 3`)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_acks_total{result="acked"} 0`)

	code, body := post(t, relay.URL+"/mind/callback?token="+url.QueryEscape("cb-token-42"), ev, nil)
	require.Equal(t, http.StatusOK, code, body)
	code, body = post(t, relay.URL+"/mind/callback", click("ou_db2", "b", "ack", tok), map[string]string{"X-Relay-Callback-Token": "cb-token-42"})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, metrics(t, relay.URL), `mind_relay_acks_total{result="acked"} 1`)
}

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The ack page: GET shows the group and changes nothing, however often;
// POST acks, once.
func TestAckPage(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("", ""))
	tok := ackToken(t, firingCard(t, relay, fake, 1).Card)
	page := relay.URL + "/ack/" + tok

	for range 3 {
		code, body, h := get(t, page)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "HighCPU")
		require.Contains(t, body, "触发中，未确认")
		require.Contains(t, body, `<form method="post">`)
		require.Contains(t, body, "db-oncall")
		require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
		require.Equal(t, "DENY", h.Get("X-Frame-Options"))
		require.Equal(t, "no-store", h.Get("Cache-Control"))
		require.NotContains(t, body, "http://", "no external assets or links")
	}
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 1, len(fake.Messages()), "GET sent nothing")
	require.Contains(t, metrics(t, relay.URL), `mind_relay_acks_total{result="acked"} 0`)

	code, body := postForm(t, page, url.Values{"name": {"<b>张三</b>"}})
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已确认")
	require.Contains(t, body, "web:&lt;b&gt;张三&lt;/b&gt;", "escaped")
	require.NotContains(t, body, "<b>张三")
	require.NotContains(t, body, `<form method="post">`)
	msgs, err := fake.WaitForMessages(2, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, card.ColorOrange, msgs[1].Card.Header.Template)
	require.Contains(t, msgs[1].Card.Header.Title.Content, "web:")

	code, body = postForm(t, page, url.Values{"name": {"李四"}})
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "该告警组已被确认")
	// The incident's timeline: opened, acked from the page.
	_, body, _ = get(t, page)
	require.Contains(t, body, "经过")
	require.Contains(t, body, "第 1 次发生")
	require.Regexp(t, `(?s)触发.*确认 · web:&lt;b&gt;张三&lt;/b&gt;`, body)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 2, len(fake.Messages()), "POST acks once")

	// Bad and expired links: refused, with a page saying so.
	code, body, _ = get(t, relay.URL+"/ack/not-a-token")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "无效")
	req, _ := http.NewRequest(http.MethodPost, page, strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a cross-site form post is refused")
}

// Chat commands: alerts lists the firing groups with their short ids,
// ack <id> acknowledges, unack withdraws; unknown text gets the help. All
// answers go to the sender through the queue.
func TestChatCommands(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, strings.Replace(ackConfig("", ""), "  app_secret:", "  callback_token: cb-token-42\n  app_secret:", 1))
	firing := firingCard(t, relay, fake, 1)
	tokenHeader := map[string]string{"X-Relay-Callback-Token": "cb-token-42"}
	m := regexp.MustCompile(`编号 ([0-9a-f]{6})`).FindStringSubmatch(cardText(firing.Card))
	require.NotNil(t, m, "the card shows the short id")
	short := m[1]

	answered := 0 // markdown answers seen so far
	say := func(openID, id, text string) mindtest.Message {
		t.Helper()
		code, body := post(t, relay.URL+"/mind/callback", chat(openID, id, text), tokenHeader)
		require.Equal(t, http.StatusOK, code, body)
		var got *mindtest.Message
		require.Eventually(t, func() bool {
			var answers []mindtest.Message
			for _, m := range fake.Messages() {
				if m.MsgType == "markdown" {
					answers = append(answers, m)
				}
			}
			if len(answers) > answered {
				got = &answers[answered]
				return true
			}
			return false
		}, 10*time.Second, 10*time.Millisecond, "an answer to %q", text)
		answered++
		require.Equal(t, []string{openID}, got.Robot.ReceiveOpenIDs)
		return *got
	}

	ans := say("ou_db1", "m1", "alerts")
	require.Contains(t, ans.Text, short)
	require.Contains(t, ans.Text, "HighCPU")
	require.Contains(t, ans.Text, "未确认")
	require.Contains(t, say("ou_someone_else", "m2", "alerts").Text, "没有发给你的", "others' groups stay private")
	require.Contains(t, say("ou_db1", "m3", "what?").Text, "ack <编号>", "help for anything else")
	require.Contains(t, say("ou_db1", "m3b", "silence "+short+" 1h").Text, "静默未启用", "no chat silences without ack.silence")

	ans = say("ou_db1", "m4", "ack "+short)
	require.Contains(t, ans.Text, "已确认")
	require.Eventually(t, func() bool {
		for _, msg := range fake.Messages() {
			if msg.Card != nil && msg.Card.Header.Template == card.ColorOrange {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the confirmation card went out")
	require.Contains(t, say("ou_db1", "m5", "alerts").Text, "已由 值班工程师 确认")
	require.Contains(t, say("ou_db2", "m6", "ACK "+short).Text, "已由 值班工程师")

	ans = say("ou_db1", "m7", "unack "+short)
	require.Contains(t, ans.Text, "已取消确认")
	require.Eventually(t, func() bool { return redCards(fake) == 2 }, 10*time.Second, 20*time.Millisecond,
		"after unack the group pages again, red")
	require.Contains(t, say("ou_db1", "m8", "alerts").Text, "未确认")

	// The incident's timeline, in order.
	tl := say("ou_db1", "m9", "incident "+short).Text
	require.Contains(t, tl, "第 1 次发生")
	require.Regexp(t, `(?s)触发.*确认 · 值班工程师.*取消确认 · 值班工程师`, tl)
	require.Contains(t, say("ou_someone_else", "m10", "incident "+short).Text, "没有编号为", "others' incidents stay private")
	ans = say("ou_db1", "m8b", "alerts")

	// Mind resending an event gets no second answer.
	n := len(fake.Messages())
	code, _ := post(t, relay.URL+"/mind/callback", chat("ou_db1", "m8", "alerts"), tokenHeader)
	require.Equal(t, http.StatusOK, code)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, n, len(fake.Messages()))
	require.Empty(t, fake.Rejections())
	require.Equal(t, mind.EndpointRobotMessage, ans.Endpoint)
}

func redCards(fake *mindtest.Server) int {
	n := 0
	for _, m := range fake.Messages() {
		if m.Card != nil && m.Card.Header.Template == card.ColorRed {
			n++
		}
	}
	return n
}

// Without mind.callback_token a chat message's sender is only what the body
// claims, so chat commands are refused; events for another app too.
func TestChatNeedsCallbackToken(t *testing.T) {
	fake := mindtest.NewServer(t)
	relay := startRelay(t, fake, ackConfig("", ""))
	firingCard(t, relay, fake, 1)
	n := len(fake.Messages())

	code, body := post(t, relay.URL+"/mind/callback", chat("ou_db1", "x1", "alerts"), nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"result":"unauthenticated"`)

	other := strings.Replace(chat("ou_db1", "x2", "alerts"), mindtest.DefaultAppID, "robot_someone_else", 1)
	code, body = post(t, relay.URL+"/mind/callback", other, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"result":"wrong_app"`)

	time.Sleep(300 * time.Millisecond)
	require.Equal(t, n, len(fake.Messages()), "nothing was sent")
}
