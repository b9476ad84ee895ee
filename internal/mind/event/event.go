// Package event reads the events Mind posts to the relay's callback URL:
// card clicks and messages to the robot (seed 003, interface.md).
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Event types Mind posts to the callback URL (seed 003, interface.md).
const (
	EventCardAction   = "card.action.trigger"
	EventRobotMessage = "im.message.robot.receive_v1"
	EventGroupAtRobot = "im.message.at_group_robot_receive_v1"
)

// Content types of a received message (seed 003).
const (
	ContentText     = 101
	ContentImage    = 102
	ContentMobileAt = 106
	ContentReply    = 114
	ContentRichText = 140
)

// ErrNotEvent marks a body that is not a Mind event at all (not JSON, no
// event object): the callback answers 400.
var ErrNotEvent = errors.New("not a Mind event")

// Event is what the relay reads from one callback: a button click (Click
// set) or a message to the robot (Message true, Text its words).
type Event struct {
	Type      string
	AppID     string
	OpenID    string // who clicked or wrote
	Nickname  string
	MessageID string
	ChatID    string // group_id, for messages in a group chat

	// Click is the clicked button's value; nil when the event carries
	// none. A click without a value has Clicked set and Click nil.
	Click   *ButtonValue
	Clicked bool

	// Message is set for messages to the robot; Text is the message's
	// plain text with @mentions removed.
	Message     bool
	ContentType int
	Text        string
}

// ButtonValue is the value of a card button (interface.md).
type ButtonValue struct {
	CardID string `json:"card_id"`
	Action string `json:"action"`
	Token  string `json:"token"`
}

type envelope struct {
	Schema string `json:"schema"`
	Header struct {
		EventType string `json:"event_type"`
		AppID     string `json:"app_id"`
	} `json:"header"`
	Event json.RawMessage `json:"event"`
}

type rawEvent struct {
	OpenID         string          `json:"open_id"`
	SenderNickname string          `json:"sender_nickname"`
	MessageID      string          `json:"message_id"`
	GroupID        string          `json:"group_id"`
	ContentType    flexInt         `json:"content_type"`
	RawContentType flexInt         `json:"raw_content_type"`
	Content        json.RawMessage `json:"content"`
	Value          json.RawMessage `json:"value"`
	Action         json.RawMessage `json:"action"`
	EventType      string          `json:"event_type"`
}

// flexInt reads a number or a string holding one: Mind's documents call
// create_time a string and show a number.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil // lenient: an odd content type is just unknown
	}
	*f = flexInt(n)
	return nil
}

// ParseEvent reads a callback body leniently: it finds the button's value
// wherever Mind puts it (event.value, event.action.value, or a JSON string
// of either) and a message's text in any of the content types of seed 003.
// Only a body that is not a JSON object with an event object fails, with
// ErrNotEvent.
func ParseEvent(body []byte) (*Event, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotEvent, jsonProblem(err))
	}
	raw := unwrapString(env.Event)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%w: no \"event\" object", ErrNotEvent)
	}
	var re rawEvent
	if err := json.Unmarshal(raw, &re); err != nil {
		return nil, fmt.Errorf("%w: event: %s", ErrNotEvent, jsonProblem(err))
	}
	ev := &Event{
		Type:      env.Header.EventType,
		AppID:     env.Header.AppID,
		OpenID:    strings.TrimSpace(re.OpenID),
		Nickname:  strings.TrimSpace(re.SenderNickname),
		MessageID: re.MessageID,
		ChatID:    re.GroupID,
	}
	if ev.Type == "" {
		ev.Type = re.EventType
	}
	v, found := buttonValue(re)
	switch {
	case ev.Type == EventCardAction || (found && ev.Type != EventRobotMessage && ev.Type != EventGroupAtRobot):
		ev.Clicked = true
		ev.Click = v
	case ev.Type == EventRobotMessage || ev.Type == EventGroupAtRobot || len(re.Content) > 0:
		ev.Message = true
		ct := int(re.ContentType)
		if ct == ContentReply && re.RawContentType != 0 {
			ct = int(re.RawContentType)
		}
		ev.ContentType = ct
		ev.Text = messageText(ct, unwrapString(re.Content))
	}
	return ev, nil
}

// buttonValue looks for the clicked button's value in event.value,
// event.action.value and event.action, each possibly a JSON string.
func buttonValue(re rawEvent) (*ButtonValue, bool) {
	var candidates []json.RawMessage
	candidates = append(candidates, re.Value)
	if act := unwrapString(re.Action); len(act) > 0 && act[0] == '{' {
		var a struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(act, &a) == nil {
			candidates = append(candidates, a.Value)
		}
		candidates = append(candidates, act)
	}
	for _, c := range candidates {
		c = unwrapString(c)
		if len(c) == 0 || c[0] != '{' {
			continue
		}
		var v ButtonValue
		if json.Unmarshal(c, &v) != nil {
			continue
		}
		if v.Token != "" || v.Action != "" {
			v.Token = strings.TrimSpace(v.Token)
			v.Action = strings.TrimSpace(v.Action)
			return &v, true
		}
	}
	return nil, false
}

// unwrapString returns the JSON inside a JSON string, or raw itself.
func unwrapString(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		if bytes.Equal(raw, []byte("null")) {
			return nil
		}
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return json.RawMessage(strings.TrimSpace(s))
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	default:
		return "malformed JSON"
	}
}

// messageText extracts the words of a received message. content is the
// message's content with one level of JSON string already removed.
func messageText(contentType int, content json.RawMessage) string {
	if len(content) == 0 {
		return ""
	}
	var obj struct {
		Text        string          `json:"text"`
		TextReal    string          `json:"textReal"`
		Doc         json.RawMessage `json:"json"`
		AtUsersInfo []struct {
			AtUserID      string `json:"atUserID"`
			GroupNickname string `json:"groupNickname"`
		} `json:"atUsersInfo"`
	}
	isObj := content[0] == '{' && json.Unmarshal(content, &obj) == nil
	switch {
	case !isObj:
		if contentType == ContentText || contentType == 0 {
			return clean(string(content)) // 101 may be the bare text
		}
		return ""
	case len(obj.Doc) > 0:
		// Rich text (140): the words are the doc's text nodes; mention
		// nodes are who was @-ed, not what was said.
		if t, ok := docText(obj.Doc); ok {
			return clean(t)
		}
	case len(obj.AtUsersInfo) > 0:
		// Mobile @-message (106): "@<atUserID>" tokens in text.
		t := obj.Text
		for _, u := range obj.AtUsersInfo {
			if u.AtUserID != "" {
				t = strings.ReplaceAll(t, "@"+u.AtUserID, " ")
			}
		}
		if strings.TrimSpace(t) == "" && obj.TextReal != "" {
			t = obj.TextReal
			for _, u := range obj.AtUsersInfo {
				if u.GroupNickname != "" {
					t = strings.ReplaceAll(t, "@"+u.GroupNickname, " ")
				}
			}
		}
		return clean(t)
	}
	return clean(stripLeadingMentions(obj.Text))
}

// docText concatenates the text nodes of a rich-text document, one line a
// paragraph, skipping mentions.
func docText(raw json.RawMessage) (string, bool) {
	var node struct {
		Type    string            `json:"type"`
		Text    string            `json:"text"`
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &node) != nil {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return "", false
		}
		node.Content = list
	}
	var b strings.Builder
	var walk func(json.RawMessage, int)
	walk = func(r json.RawMessage, depth int) {
		if depth > 32 {
			return
		}
		var n struct {
			Type    string            `json:"type"`
			Text    string            `json:"text"`
			Content []json.RawMessage `json:"content"`
		}
		if json.Unmarshal(r, &n) != nil {
			return
		}
		switch n.Type {
		case "mention":
			return
		case "text":
			b.WriteString(n.Text)
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
		if n.Type == "paragraph" || n.Type == "heading" || n.Type == "listItem" {
			b.WriteString("\n")
		}
	}
	if node.Type == "text" {
		b.WriteString(node.Text)
	}
	for _, c := range node.Content {
		walk(c, 1)
	}
	return b.String(), true
}

var leadingMention = regexp.MustCompile(`^\s*(@\S+\s*)+`)

func stripLeadingMentions(s string) string { return leadingMention.ReplaceAllString(s, "") }

var spaces = regexp.MustCompile(`[ \t\r\x{3000}\x{00a0}]+`)

// clean trims the text, collapses runs of spaces (full-width ones too) and
// drops empty lines.
func clean(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Header is an event's envelope header: who it is for and what it is.
type Header struct {
	Type  string
	AppID string
}

// IsMessage reports whether the header says the event is a message to
// the robot.
func (h Header) IsMessage() bool { return h.Type == EventRobotMessage || h.Type == EventGroupAtRobot }

// ParseHeader reads only the envelope's header, stopping there: the
// callback decides from it (the app, whether it is a chat message it must
// refuse) before it reads the event. Only a body that is not a JSON
// object fails, with ErrNotEvent; a body without a header gives an empty
// one.
func ParseHeader(body []byte) (Header, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Header{}, fmt.Errorf("%w: not a JSON object", ErrNotEvent)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Header{}, fmt.Errorf("%w: %s", ErrNotEvent, jsonProblem(err))
		}
		key, _ := t.(string)
		if key != "header" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return Header{}, fmt.Errorf("%w: %s", ErrNotEvent, jsonProblem(err))
			}
			continue
		}
		var h struct {
			EventType string `json:"event_type"`
			AppID     string `json:"app_id"`
		}
		if err := dec.Decode(&h); err != nil {
			return Header{}, fmt.Errorf("%w: header: %s", ErrNotEvent, jsonProblem(err))
		}
		return Header{Type: h.EventType, AppID: h.AppID}, nil
	}
	return Header{}, nil
}
