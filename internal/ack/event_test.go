package ack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The examples of Mind's robot-events document (testdata/seed-003-*):
// the words a person typed, mentions removed.
func TestParseSeedMessages(t *testing.T) {
	for _, tc := range []struct {
		file        string
		typ         string
		contentType int
		text        string
		cmd         string
	}{
		// A reply (114) whose raw type is rich text (140): "@如易 4444".
		{"seed-003-at-group-reply.json", EventGroupAtRobot, ContentRichText, "4444", ""},
		// Mobile @-message (106): two robots @-ed, then "111".
		{"seed-003-mobile-at-106.json", EventGroupAtRobot, ContentMobileAt, "111", ""},
		// Rich text (140) that only @-s the robot: no words.
		{"seed-003-rich-text-140.json", EventGroupAtRobot, ContentRichText, "", ""},
		// Text (101): the seed shows the bare text.
		{"seed-003-text-101.json", EventRobotMessage, ContentText, "引用的会话消息\n[图片]", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			ev, err := ParseEvent(b)
			require.NoError(t, err)
			require.Equal(t, tc.typ, ev.Type)
			require.True(t, ev.Message)
			require.False(t, ev.Clicked)
			require.Equal(t, "ou_6a5905698688e15e8f9b63c1043d1ee9", ev.OpenID)
			require.Equal(t, "如易", ev.Nickname)
			require.Equal(t, tc.contentType, ev.ContentType)
			require.Equal(t, tc.text, ev.Text)
			require.Equal(t, tc.cmd, ParseCommand(ev.Text).Name, "no command: the help answers it")
		})
	}
}

// Commands arrive in the seed's shapes: rich text with a mention, a mobile
// @-message, plain text.
func TestCommandsInSeedShapes(t *testing.T) {
	load := func(file string) map[string]any {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m
	}
	with := func(m map[string]any, content string) []byte {
		m["event"].(map[string]any)["content"] = content
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	rich := `{"text":"@如易 ack b3a3de","json":{"content":[{"content":[{"attrs":{"id":"uwnz","label":"如易"},"type":"mention"},{"text":" ack b3a3de","type":"text"}],"type":"paragraph"}],"type":"doc"},"atUserIDList":["uwnz"]}`
	mobile := `{"text":"  @HR89XS  silence b3a3de 2h ","textReal":"  @新建测试的机器人  silence b3a3de 2h ","atUsersInfo":[{"atUserID":"HR89XS","groupNickname":"新建测试的机器人"}]}`
	for _, tc := range []struct {
		name string
		body []byte
		want Command
	}{
		{"rich text reply", with(load("seed-003-at-group-reply.json"), rich), Command{Name: CmdAck, ShortID: "b3a3de"}},
		{"mobile @", with(load("seed-003-mobile-at-106.json"), mobile), Command{Name: CmdSilence, ShortID: "b3a3de", For: 2 * time.Hour}},
		{"text as JSON", with(load("seed-003-text-101.json"), `{"text":"  alerts "}`), Command{Name: CmdAlerts}},
		{"bare text", with(load("seed-003-text-101.json"), "/unack B3A3DE"), Command{Name: CmdUnack, ShortID: "b3a3de"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := ParseEvent(tc.body)
			require.NoError(t, err)
			require.Equal(t, tc.want, ParseCommand(ev.Text))
		})
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Command
	}{
		{"help", Command{Name: CmdHelp}},
		{"帮助", Command{Name: CmdHelp}},
		{"告警", Command{Name: CmdAlerts}},
		{"确认 abcd12", Command{Name: CmdAck, ShortID: "abcd12"}},
		{"ack", Command{Name: CmdAck, Problem: "请给出告警编号，例如 `ack a1b2c3`（`alerts` 列出编号）"}},
		{"silence abcd12 30m\nmore lines", Command{Name: CmdSilence, ShortID: "abcd12", For: 30 * time.Minute}},
		{"silence abcd12 soon", Command{Name: CmdSilence, ShortID: "abcd12", Problem: "时长 `soon` 看不懂：请写 30m、2h、1d 这样的时长"}},
		{"silence abcd12 30s", Command{Name: CmdSilence, ShortID: "abcd12", Problem: "静默至少 1m"}},
		{"silence abcd12 30d", Command{Name: CmdSilence, ShortID: "abcd12", Problem: "静默最长 7d"}},
		{"silence abcd12", Command{Name: CmdSilence, Problem: "用法：`silence <编号> <时长>`，例如 `silence a1b2c3 2h`"}},
		{"what is this", Command{}},
		{"", Command{}},
	} {
		require.Equal(t, tc.want, ParseCommand(tc.text), tc.text)
	}
}

// The button's value is found wherever Mind puts it.
func TestParseClickShapes(t *testing.T) {
	v := `{"card_id":"c-1","action":"ack","token":"T"}`
	q, _ := json.Marshal(v)
	act, _ := json.Marshal(`{"value":` + v + `}`)
	for _, tc := range []struct {
		name, event string
	}{
		{"event.value", `{"value":` + v + `}`},
		{"event.value as a JSON string", `{"value":` + string(q) + `}`},
		{"event.action.value", `{"action":{"tag":"button","value":` + v + `}}`},
		{"event.action.value as a JSON string", `{"action":{"value":` + string(q) + `}}`},
		{"event.action as a JSON string", `{"action":` + string(act) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"schema":"1.0","header":{"event_type":"card.action.trigger","app_id":"robot_x","create_time":"1737359666789"},` +
				`"event":` + tc.event[:len(tc.event)-1] + `,"open_id":"ou_c","sender_nickname":"值班"}}`
			ev, err := ParseEvent([]byte(body))
			require.NoError(t, err)
			require.True(t, ev.Clicked)
			require.Equal(t, &ButtonValue{CardID: "c-1", Action: "ack", Token: "T"}, ev.Click)
			require.Equal(t, "ou_c", ev.OpenID)
			require.Equal(t, "值班", ev.Nickname)
		})
	}
	// A click event without a value is still a click, with nothing to act on.
	ev, err := ParseEvent([]byte(`{"header":{"event_type":"card.action.trigger"},"event":{"open_id":"ou_c"}}`))
	require.NoError(t, err)
	require.True(t, ev.Clicked)
	require.Nil(t, ev.Click)
	// Not events at all.
	for _, bad := range []string{"", "{", "[]", `{"event":"x"}`, `{"header":{}}`, `"str"`} {
		_, err := ParseEvent([]byte(bad))
		require.ErrorIs(t, err, ErrNotEvent, bad)
	}
}
