package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind/event"
)

// seeds are Mind's robot-event examples, kept beside the event parser.
var seeds = filepath.Join("..", "mind", "event", "testdata")

// Commands arrive in the seed's shapes: rich text with a mention, a mobile
// @-message, plain text.
func TestCommandsInSeedShapes(t *testing.T) {
	load := func(file string) map[string]any {
		b, err := os.ReadFile(filepath.Join(seeds, file))
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
			ev, err := event.ParseEvent(tc.body)
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

// What people type without a command gets the help.
func TestSeedMessagesAreNoCommands(t *testing.T) {
	for _, f := range []string{"seed-003-at-group-reply.json", "seed-003-mobile-at-106.json", "seed-003-rich-text-140.json", "seed-003-text-101.json"} {
		b, err := os.ReadFile(filepath.Join(seeds, f))
		require.NoError(t, err)
		ev, err := event.ParseEvent(b)
		require.NoError(t, err)
		require.Empty(t, ParseCommand(ev.Text).Name, f)
	}
}

// Native fuzzing: any text parses to a known command or none, a short id
// only with the commands that take one, and a silence length in bounds.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"help", "alerts", "ack b3a3de", "确认 abcd12", "silence abcd12 2h", "silence abcd12 30d",
		"/unack B3A3DE", "incident b3a3de", "事件 b3a3de", "ack", "  @HR89XS  silence b3a3de 2h ", "\u3000ack\tabcd", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c := ParseCommand(text)
		switch c.Name {
		case "", CmdHelp, CmdAlerts, CmdAck, CmdUnack, CmdSilence, CmdIncident:
		default:
			t.Fatalf("unknown command %q", c.Name)
		}
		if c.For != 0 && (c.Name != CmdSilence || c.For < time.Minute || c.For > MaxChatSilence) {
			t.Fatalf("silence length %s out of bounds for %q", c.For, c.Name)
		}
		if c.ShortID != "" && c.Name != CmdAck && c.Name != CmdUnack && c.Name != CmdSilence && c.Name != CmdIncident {
			t.Fatalf("%q takes no id", c.Name)
		}
	})
}
