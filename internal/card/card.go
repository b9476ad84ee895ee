// Package card models Mind's interactive card (seed 002) as Go values and
// checks that a card is one Mind accepts before anything is sent. Cards are
// built as values and marshalled, never printed as JSON by a template, so
// that no label value can break the card's JSON.
package card

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Header colours (seed 002's 标题样式表).
const (
	ColorRed    = "red"
	ColorGreen  = "green"
	ColorOrange = "orange"
	ColorBlue   = "blue"
	ColorPurple = "purple"
)

// Element tags.
const (
	TagMarkdown = "markdown"
	TagRichText = "rich_text"
	TagAction   = "action"
)

// Button types.
const (
	ButtonView  = "view"
	ButtonClick = "click"
)

// Card is an interactive card: `content` of an `interactive` message once
// marshalled to a JSON string.
type Card struct {
	Config   *Config   `json:"config,omitempty"`
	Header   *Header   `json:"header,omitempty"`
	Elements []Element `json:"elements"`
}

// Config is the card's configuration block.
type Config struct {
	EnableForward  bool `json:"enable_forward"`
	IsShareCard    bool `json:"is_share_card"`
	WideScreenMode bool `json:"wide_screen_mode,omitempty"`
}

// Header is the card's title bar.
type Header struct {
	Title    Text   `json:"title"`
	Template string `json:"template,omitempty"`
}

// Text is a piece of text with an optional tag (plain_text).
type Text struct {
	Content string `json:"content"`
	Tag     string `json:"tag,omitempty"`
}

// Element is one block of the card body: a markdown block (Content) or an
// action block (Actions).
type Element struct {
	Tag     string   `json:"tag"`
	Content string   `json:"content,omitempty"`
	Actions []Button `json:"action,omitempty"`
}

// Button is a view (opens URL) or click (posts Value to the callback) button.
type Button struct {
	Tag      string         `json:"tag"`
	Text     Text           `json:"text"`
	Type     string         `json:"type"`
	Template string         `json:"template,omitempty"`
	URL      string         `json:"url,omitempty"`
	Event    string         `json:"event,omitempty"`
	Value    map[string]any `json:"value,omitempty"`
}

// Markdown returns a markdown element.
func Markdown(content string) Element {
	return Element{Tag: TagMarkdown, Content: content}
}

// Action returns an action element holding buttons.
func Action(buttons ...Button) Element {
	return Element{Tag: TagAction, Actions: buttons}
}

// ViewButton returns a button that opens url.
func ViewButton(label, url string) Button {
	return Button{Tag: "button", Text: Text{Content: label, Tag: "plain_text"}, Type: ButtonView, URL: url}
}

// ClickButton returns a button that sends event and value to the callback.
func ClickButton(label, event string, value map[string]any) Button {
	return Button{Tag: "button", Text: Text{Content: label, Tag: "plain_text"}, Type: ButtonClick, Event: event, Value: value}
}

// Limits on what the relay sends; Mind documents none, these keep cards
// readable and requests small.
const (
	MaxTitleRunes    = 200
	MaxMarkdownBytes = 16 << 10
	// MaxCardBytes bounds a card as it travels: its JSON (Card.JSON)
	// encoded as the `content` string of a send request's body, which is
	// what Size measures. A request to one recipient is this plus its
	// fixed fields.
	MaxCardBytes = 30 << 10
	// MaxButtonsPerRow is the most buttons one action element holds; a
	// card with more splits them into rows (Rows).
	MaxButtonsPerRow = 3
	// MaxURLBytes is the longest link a card carries, on a button or in
	// markdown. A longer one is dropped, never cut: a cut URL opens the
	// wrong page (or a silence with fewer matchers).
	MaxURLBytes = 2048
)

// ErrTooLarge marks a card over MaxCardBytes or a markdown element over
// MaxMarkdownBytes: one that less text would fix.
var ErrTooLarge = errors.New("card too large")

var (
	headerColors = set(ColorRed, ColorGreen, ColorOrange, ColorBlue, ColorPurple)
	buttonColors = set(ColorRed, ColorGreen, ColorOrange, ColorBlue, ColorPurple, "default", "white")
)

func set(v ...string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

// Validate reports every way c breaks the card format the relay sends. It is
// strict: it accepts only what seed 002 documents.
func (c *Card) Validate() error {
	var errs []error
	if c.Header == nil {
		errs = append(errs, errors.New("card has no header"))
	} else {
		if strings.TrimSpace(c.Header.Title.Content) == "" {
			errs = append(errs, errors.New("header.title.content is empty"))
		}
		if n := len([]rune(c.Header.Title.Content)); n > MaxTitleRunes {
			errs = append(errs, fmt.Errorf("header.title.content has %d characters, more than %d", n, MaxTitleRunes))
		}
		if c.Header.Template != "" && !headerColors[c.Header.Template] {
			errs = append(errs, fmt.Errorf("header.template %q is not one of red, green, orange, blue, purple", c.Header.Template))
		}
	}
	if len(c.Elements) == 0 {
		errs = append(errs, errors.New("card has no elements"))
	}
	for i, e := range c.Elements {
		errs = append(errs, validateElement(i, e)...)
	}
	if len(errs) == 0 {
		n, err := c.Size()
		if err != nil {
			errs = append(errs, err)
		} else if n > MaxCardBytes {
			errs = append(errs, fmt.Errorf("card is %d bytes as sent, more than %d: %w", n, MaxCardBytes, ErrTooLarge))
		}
	}
	return errors.Join(errs...)
}

// Size is how many bytes c takes in a send request's body: the length of
// its JSON (JSON) written as a JSON string by encoding/json, which is how
// package mind puts it in `content`: quotes and backslashes doubled, <, >
// and & as \u003c and the like, U+2028 and U+2029 escaped too.
func (c *Card) Size() (int, error) {
	s, err := c.JSON()
	if err != nil {
		return 0, err
	}
	return EncodedLen(s), nil
}

// EncodedLen is the length of s once encoding/json writes it as a JSON
// string (HTML escaping on, the default), quotes included.
func EncodedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f':
				n += 2
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6 // \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// Rows puts buttons into action elements of at most MaxButtonsPerRow
// each, in order; none for no buttons.
func Rows(buttons []Button) []Element {
	out := make([]Element, 0, (len(buttons)+MaxButtonsPerRow-1)/MaxButtonsPerRow)
	for len(buttons) > 0 {
		k := min(len(buttons), MaxButtonsPerRow)
		out = append(out, Action(buttons[:k:k]...))
		buttons = buttons[k:]
	}
	return out
}

func validateElement(i int, e Element) []error {
	var errs []error
	switch e.Tag {
	case TagMarkdown:
		if strings.TrimSpace(e.Content) == "" {
			errs = append(errs, fmt.Errorf("elements[%d]: markdown content is empty", i))
		}
		if len(e.Content) > MaxMarkdownBytes {
			errs = append(errs, fmt.Errorf("elements[%d]: markdown content is %d bytes, more than %d: %w", i, len(e.Content), MaxMarkdownBytes, ErrTooLarge))
		}
		if len(e.Actions) > 0 {
			errs = append(errs, fmt.Errorf("elements[%d]: markdown element carries buttons", i))
		}
	case TagAction:
		if len(e.Actions) == 0 {
			errs = append(errs, fmt.Errorf("elements[%d]: action element has no buttons", i))
		}
		if len(e.Actions) > MaxButtonsPerRow {
			errs = append(errs, fmt.Errorf("elements[%d]: %d buttons in one row, more than %d", i, len(e.Actions), MaxButtonsPerRow))
		}
		for j, b := range e.Actions {
			if err := b.validate(); err != nil {
				errs = append(errs, fmt.Errorf("elements[%d].action[%d]: %w", i, j, err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("elements[%d]: tag %q is not markdown or action", i, e.Tag))
	}
	return errs
}

func (b Button) validate() error {
	var errs []error
	if b.Tag != "button" {
		errs = append(errs, fmt.Errorf("tag %q is not button", b.Tag))
	}
	if strings.TrimSpace(b.Text.Content) == "" {
		errs = append(errs, errors.New("text.content is empty"))
	}
	if b.Template != "" && !buttonColors[b.Template] {
		errs = append(errs, fmt.Errorf("template %q is not a button colour", b.Template))
	}
	switch b.Type {
	case ButtonView:
		if err := CheckURL(b.URL); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		} else if len(b.URL) > MaxURLBytes {
			errs = append(errs, fmt.Errorf("url is %d bytes, more than %d", len(b.URL), MaxURLBytes))
		}
	case ButtonClick:
		if b.Event == "" {
			errs = append(errs, errors.New("click button has no event"))
		}
	default:
		errs = append(errs, fmt.Errorf("type %q is not view or click", b.Type))
	}
	return errors.Join(errs...)
}

// CheckURL reports whether u is a link a view button may open: an absolute
// http or https URL with a host, or a mind:// in-app link.
func CheckURL(u string) error {
	if u == "" {
		return errors.New("empty")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch p.Scheme {
	case "http", "https":
		if p.Host == "" {
			return fmt.Errorf("%q has no host", u)
		}
	case "mind":
	default:
		return fmt.Errorf("%q is not an http, https or mind link", u)
	}
	return nil
}

// JSON marshals the card as the string Mind expects in `content`. HTML
// characters stay as they are (markdown uses <font>); escaping them as
// \u003c would be valid JSON too, only larger and harder to read in logs.
func (c *Card) JSON() (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("marshal card: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
