package mindtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
)

// robotBody is seed 000's body with every field a pointer, to tell a
// missing field from an empty one.
type robotBody struct {
	ReceiveOpenIDs *[]string `json:"receive_open_ids"`
	MsgType        *string   `json:"msg_type"`
	Content        *string   `json:"content"`
}

// sendBody is seed 001's body.
type sendBody struct {
	ReceiveIDs  *[]string `json:"receive_ids"`
	ReceiveID   *string   `json:"receive_id"`
	ReceiveType *int      `json:"receive_type"`
	MsgType     *string   `json:"msg_type"`
	Content     *string   `json:"content"`
}

// decodeMessage checks a body as Mind would and returns what it says.
func decodeMessage(endpoint string, body []byte) (Message, error) {
	msg := Message{Endpoint: endpoint, Body: json.RawMessage(slices.Clone(body))}
	var (
		errs    []error
		msgType *string
		content *string
	)
	switch endpoint {
	case mind.EndpointRobotMessage:
		var b robotBody
		if err := decodeStrict(body, &b, "receive_open_ids", "msg_type", "content"); err != nil {
			return msg, err
		}
		switch {
		case b.ReceiveOpenIDs == nil:
			errs = append(errs, errors.New("receive_open_ids is required"))
		case len(*b.ReceiveOpenIDs) == 0:
			errs = append(errs, errors.New("receive_open_ids is empty"))
		default:
			errs = append(errs, checkIDs("receive_open_ids", *b.ReceiveOpenIDs)...)
		}
		msgType, content = b.MsgType, b.Content
		msg.Robot = &mind.RobotMessage{ReceiveOpenIDs: deref(b.ReceiveOpenIDs), MsgType: deref(b.MsgType), Content: deref(b.Content)}
	case mind.EndpointSendMessage:
		var b sendBody
		if err := decodeStrict(body, &b, "receive_ids", "receive_id", "receive_type", "msg_type", "content"); err != nil {
			return msg, err
		}
		if b.ReceiveIDs != nil {
			errs = append(errs, checkIDs("receive_ids", *b.ReceiveIDs)...)
		}
		switch {
		case b.ReceiveType == nil:
			errs = append(errs, errors.New("receive_type is required"))
		case *b.ReceiveType != mind.ReceiveTypeSubscribers:
			errs = append(errs, fmt.Errorf("receive_type %d is not 1 (subscribed users)", *b.ReceiveType))
		}
		msgType, content = b.MsgType, b.Content
		msg.Send = &mind.SendMessage{ReceiveIDs: deref(b.ReceiveIDs), ReceiveID: deref(b.ReceiveID), ReceiveType: deref(b.ReceiveType), MsgType: deref(b.MsgType), Content: deref(b.Content)}
	default:
		return msg, fmt.Errorf("no such API: %s", endpoint)
	}

	switch {
	case msgType == nil:
		errs = append(errs, errors.New("msg_type is required"))
	case !slices.Contains(msgTypes, *msgType):
		errs = append(errs, fmt.Errorf("msg_type %q is not one of %s", *msgType, strings.Join(msgTypes, ", ")))
	}
	switch {
	case content == nil:
		errs = append(errs, errors.New("content is required"))
	case strings.TrimSpace(*content) == "":
		errs = append(errs, errors.New("content is empty"))
	case msgType != nil && slices.Contains(msgTypes, *msgType):
		if err := decodeContent(&msg, *msgType, *content); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return msg, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	msg.MsgType, msg.Content = *msgType, *content
	return msg, nil
}

// decodeContent checks content, a JSON string, against its msg_type.
func decodeContent(msg *Message, msgType, content string) error {
	switch msgType {
	case "text", "markdown":
		var c struct {
			Text *string `json:"text"`
		}
		if err := decodeStrict([]byte(content), &c, "text"); err != nil {
			return fmt.Errorf(`%s content must be a JSON string holding {"text":"..."}: %w`, msgType, err)
		}
		if c.Text == nil {
			return fmt.Errorf("%s content has no text", msgType)
		}
		if strings.TrimSpace(*c.Text) == "" {
			return fmt.Errorf("%s content text is empty", msgType)
		}
		msg.Text = *c.Text
	case "rich_text":
		var nodes []map[string]json.RawMessage
		if err := decodeStrict([]byte(content), &nodes); err != nil {
			return fmt.Errorf("rich_text content must be a JSON string holding an array of nodes: %w", err)
		}
		if len(nodes) == 0 {
			return errors.New("rich_text content has no nodes")
		}
		for i, n := range nodes {
			var typ string
			if err := json.Unmarshal(n["type"], &typ); err != nil || typ == "" {
				return fmt.Errorf("rich_text content[%d] has no type", i)
			}
		}
	case "interactive":
		var c card.Card
		if err := decodeStrict([]byte(content), &c, "config", "header", "elements"); err != nil {
			return fmt.Errorf("interactive content must be a JSON string holding a card: %w", err)
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("card is invalid: %w", err)
		}
		msg.Card = &c
	}
	return nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields,
// trailing data and, when keys are given, any top-level key not spelled
// exactly as one of them (encoding/json alone would take "MSG_TYPE" for
// msg_type) or given twice.
func decodeStrict(data []byte, v any, keys ...string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("body is empty")
	}
	if len(keys) > 0 {
		if err := checkKeys(data, keys); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// checkKeys checks an object's top-level keys by exact spelling.
func checkKeys(data []byte, keys []string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return describe(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return describe(err)
		}
		k, _ := tok.(string)
		if !slices.Contains(keys, k) {
			return fmt.Errorf("unknown field %q", k)
		}
		if seen[k] {
			return fmt.Errorf("field %q given twice", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return describe(err)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return describe(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// describe turns a decoding error into a msg a developer can act on.
func describe(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
	)
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("must be %s, got a JSON %s", typeName(te.Type), te.Value)
		}
		return fmt.Errorf("field %q must be %s, got a JSON %s", field, typeName(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON: %w (at byte %d)", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("not valid JSON: unexpected end")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	}
	return "a " + t.String()
}

func checkIDs(field string, ids []string) []error {
	var errs []error
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			errs = append(errs, fmt.Errorf("%s[%d] is empty", field, i))
		}
	}
	return errs
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
