package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
	}{
		// A reply (114) whose raw type is rich text (140): "@如易 4444".
		{"seed-003-at-group-reply.json", EventGroupAtRobot, ContentRichText, "4444"},
		// Mobile @-message (106): two robots @-ed, then "111".
		{"seed-003-mobile-at-106.json", EventGroupAtRobot, ContentMobileAt, "111"},
		// Rich text (140) that only @-s the robot: no words.
		{"seed-003-rich-text-140.json", EventGroupAtRobot, ContentRichText, ""},
		// Text (101): the seed shows the bare text.
		{"seed-003-text-101.json", EventRobotMessage, ContentText, "引用的会话消息\n[图片]"},
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
		})
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

// Native fuzzing: any body parses or fails with ErrNotEvent, never panics,
// and a parsed event is one of click, message or neither.
func FuzzParseEvent(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"1.0","header":{"event_type":"card.action.trigger","app_id":"robot_x"},"event":{"open_id":"ou_c","value":"{\"action\":\"ack\",\"token\":\"T\"}"}}`))
	f.Add([]byte(`{"event":{"action":"{\"value\":{\"token\":\"T\"}}"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if !errors.Is(err, ErrNotEvent) {
				t.Fatalf("error %v is not ErrNotEvent", err)
			}
			return
		}
		if ev.Clicked && ev.Message {
			t.Fatalf("an event is a click or a message, not both: %+v", ev)
		}
		if ev.Click != nil && !ev.Clicked {
			t.Fatalf("a button value without a click: %+v", ev)
		}
	})
}
