package preview

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"

	"github.com/mindoffice/mind-relay/internal/card"
)

// Drawing is a card drawn as HTML, the way Mind shows it (seed 002): the
// header in its colour, then each element — markdown, rich text, a row of
// buttons — top to bottom. Everything taken from the card is escaped; the
// only tags in HTML are the drawing's own.
type Drawing struct {
	Title string
	// Color is header.template (red, green, orange, blue, purple), empty
	// when the card sets none.
	Color string
	HTML  template.HTML
}

// cardDoc is the card as Mind reads it: wider than card.Card, which holds
// only what the relay sends, so that rich_text and button colours from any
// card draw too.
type cardDoc struct {
	Header *struct {
		Title struct {
			Content string `json:"content"`
		} `json:"title"`
		Template string `json:"template"`
	} `json:"header"`
	Elements []struct {
		Tag     string          `json:"tag"`
		Content json.RawMessage `json:"content"`
		Action  []buttonDoc     `json:"action"`
	} `json:"elements"`
}

type buttonDoc struct {
	Text struct {
		Content string `json:"content"`
	} `json:"text"`
	Type     string `json:"type"`
	Template string `json:"template"`
	URL      string `json:"url"`
	Event    string `json:"event"`
}

// Colours Mind knows for headers and buttons (seed 002).
var knownColors = map[string]bool{"red": true, "green": true, "orange": true, "blue": true, "purple": true}

// Draw draws the card JSON content (the `content` of an interactive
// message).
func Draw(content string) (Drawing, error) {
	var c cardDoc
	if err := json.Unmarshal([]byte(content), &c); err != nil {
		return Drawing{}, fmt.Errorf("read the card: %w", err)
	}
	var b strings.Builder
	d := Drawing{}
	if c.Header != nil {
		d.Title = c.Header.Title.Content
		if knownColors[c.Header.Template] {
			d.Color = c.Header.Template
		}
	}
	color := d.Color
	if color == "" {
		color = "none"
	}
	fmt.Fprintf(&b, `<article class="mind-card" data-header-template="%s">`, color)
	if c.Header != nil {
		fmt.Fprintf(&b, `<header class="mc-header mc-h-%s"><h3 class="mc-title">%s</h3></header>`, color, esc(d.Title))
	}
	b.WriteString(`<div class="mc-body">`)
	for _, e := range c.Elements {
		switch e.Tag {
		case card.TagMarkdown:
			var s string
			if err := json.Unmarshal(e.Content, &s); err != nil {
				return Drawing{}, fmt.Errorf("read a markdown element: %w", err)
			}
			b.WriteString(`<div class="mc-md">`)
			b.WriteString(Markdown(s))
			b.WriteString(`</div>`)
		case card.TagRichText:
			var v any
			if err := json.Unmarshal(e.Content, &v); err != nil {
				return Drawing{}, fmt.Errorf("read a rich_text element: %w", err)
			}
			b.WriteString(`<div class="mc-rich">`)
			richNodes(&b, v)
			b.WriteString(`</div>`)
		case card.TagAction:
			b.WriteString(`<div class="mc-actions">`)
			for _, btn := range e.Action {
				drawButton(&b, btn)
			}
			b.WriteString(`</div>`)
		default:
			fmt.Fprintf(&b, `<div class="mc-unknown">Mind 不认识的元素 %s</div>`, esc(e.Tag))
		}
	}
	b.WriteString(`</div></article>`)
	// Safe as HTML: every piece taken from the card went through esc.
	d.HTML = template.HTML(b.String())
	return d, nil
}

// drawButton draws a button: coloured by its template, default white.
// Buttons do not work in the preview (a view button's link would open an
// ack page with a real token): the target is shown on hover and below.
func drawButton(b *strings.Builder, btn buttonDoc) {
	color := btn.Template
	if !knownColors[color] {
		color = "default"
	}
	target := btn.URL
	if btn.Type == card.ButtonClick {
		target = "回调事件 " + btn.Event
	}
	fmt.Fprintf(b, `<span class="mc-btn mc-b-%s" data-type="%s" title="%s">%s</span>`,
		color, esc(btn.Type), esc(target), esc(btn.Text.Content))
}

// richNodes draws rich-text nodes (seed 002 内容模块): a list or a single
// node; paragraphs, text with marks, mentions, images.
func richNodes(b *strings.Builder, v any) {
	switch x := v.(type) {
	case []any:
		for _, n := range x {
			richNodes(b, n)
		}
	case map[string]any:
		richNode(b, x)
	}
}

func richNode(b *strings.Builder, n map[string]any) {
	typ, _ := n["type"].(string)
	attrs, _ := n["attrs"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	switch typ {
	case "paragraph":
		b.WriteString(`<p>`)
		richNodes(b, n["content"])
		b.WriteString(`</p>`)
	case "text":
		open, closing := marks(n["marks"])
		b.WriteString(open)
		b.WriteString(breaks(esc(str(n, "text"))))
		b.WriteString(closing)
	case "mention":
		label := str(attrs, "label")
		if label == "" && str(attrs, "id") == "all" {
			label = "所有人"
		}
		fmt.Fprintf(b, `<span class="mc-at">@%s</span>`, esc(label))
	case "image":
		image(b, str(attrs, "src"), str(attrs, "alt"))
	case "hard_break":
		b.WriteString(`<br>`)
	default:
		richNodes(b, n["content"])
	}
}

// marks returns the tags around a rich-text run.
func marks(v any) (open, closing string) {
	list, _ := v.([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		typ, _ := mm["type"].(string)
		var o, c string
		switch typ {
		case "bold":
			o, c = `<strong>`, `</strong>`
		case "italic":
			o, c = `<em>`, `</em>`
		case "strike":
			o, c = `<del>`, `</del>`
		case "underline":
			o, c = `<u>`, `</u>`
		case "code":
			o, c = `<code>`, `</code>`
		case "link":
			attrs, _ := mm["attrs"].(map[string]any)
			href, _ := attrs["href"].(string)
			if safeHref(href) {
				o, c = `<a class="mc-link" href="`+esc(href)+`" rel="noopener noreferrer">`, `</a>`
			}
		}
		open += o
		closing = c + closing
	}
	return open, closing
}

// image draws an image as a frame naming it: the preview loads nothing
// from elsewhere.
func image(b *strings.Builder, src, alt string) {
	fmt.Fprintf(b, `<span class="mc-img" title="%s">图片 %s</span>`, esc(src), esc(alt))
}

// safeHref reports whether a link may be drawn as a link: http(s) only
// (card.CheckURL; mind:// links open in the Mind client, not here).
func safeHref(u string) bool {
	if card.CheckURL(u) != nil {
		return false
	}
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https")
}

func esc(s string) string { return html.EscapeString(s) }

func breaks(s string) string { return strings.ReplaceAll(s, "\n", "<br>") }

// Markdown draws the markdown subset Mind's cards show (seed 002):
// **bold**, *italic*, ~~strike~~, `code`, [links](url), ![images](url),
// <font color>, <at user_id>, <small>, headings, lists, rules and line
// breaks; a backslash escapes the next punctuation character. Anything
// else is shown as the text it is.
func Markdown(s string) string {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, line := range lines {
		block(&b, line)
		if i < len(lines)-1 {
			b.WriteString("<br>")
		}
	}
	return b.String()
}

var (
	heading = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*)$`)
	bullet  = regexp.MustCompile(`^(\s*)[-+*]\s+(.*)$`)
	ordered = regexp.MustCompile(`^(\s*)(\d{1,9})[.)]\s+(.*)$`)
	rule    = regexp.MustCompile(`^ {0,3}(?:(?:- *){3,}|(?:\* *){3,}|(?:_ *){3,})$`)
)

// block draws one line: its block syntax, then its inline text.
func block(b *strings.Builder, line string) {
	switch {
	case rule.MatchString(line):
		b.WriteString(`<hr class="mc-hr">`)
	case heading.MatchString(line):
		m := heading.FindStringSubmatch(line)
		fmt.Fprintf(b, `<strong class="mc-h%d">%s</strong>`, len(m[1]), inline(m[2]))
	case bullet.MatchString(line):
		m := bullet.FindStringSubmatch(line)
		fmt.Fprintf(b, `<span class="mc-li">• %s</span>`, inline(m[2]))
	case ordered.MatchString(line):
		m := ordered.FindStringSubmatch(line)
		fmt.Fprintf(b, `<span class="mc-li">%s. %s</span>`, m[2], inline(m[3]))
	default:
		b.WriteString(inline(line))
	}
}

var (
	fontOpen  = regexp.MustCompile(`^<font\s+color\s*=\s*(?:'([^'<>]*)'|"([^"<>]*)"|([^\s'"<>]+))\s*>`)
	atTag     = regexp.MustCompile(`^<at\s+user_id\s*=\s*(?:'([^'<>]*)'|"([^"<>]*)")\s*>([^<]*)</at>`)
	hexColor  = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	namedFont = map[string]bool{"red": true, "green": true, "orange": true, "blue": true, "purple": true, "grey": true, "gray": true, "yellow": true, "black": true, "white": true}
)

// inline draws the inline syntax of s. Tags it opens are closed at the end
// of s, so the drawing is always well-formed.
func inline(s string) string {
	var (
		b     strings.Builder
		stack []string // open inline tags: font, small
	)
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case rest[0] == '\\' && len(rest) > 1 && isPunct(rest[1]):
			b.WriteString(esc(rest[1:2]))
			i += 2
			continue
		case strings.HasPrefix(rest, "**"):
			if j := closing(rest[2:], "**"); j > 0 {
				b.WriteString("<strong>" + inline(rest[2:2+j]) + "</strong>")
				i += 4 + j
				continue
			}
		case strings.HasPrefix(rest, "~~"):
			if j := closing(rest[2:], "~~"); j > 0 {
				b.WriteString("<del>" + inline(rest[2:2+j]) + "</del>")
				i += 4 + j
				continue
			}
		case rest[0] == '*' || (rest[0] == '_' && (i == 0 || !isWord(s[i-1]))):
			m := rest[:1]
			if j := closing(rest[1:], m); j > 0 && rest[1] != ' ' {
				b.WriteString("<em>" + inline(rest[1:1+j]) + "</em>")
				i += 2 + j
				continue
			}
		case rest[0] == '`':
			if j := strings.IndexByte(rest[1:], '`'); j > 0 {
				b.WriteString("<code>" + esc(rest[1:1+j]) + "</code>")
				i += 2 + j
				continue
			}
		case strings.HasPrefix(rest, "!["):
			if text, u, n := link(rest[1:]); n > 0 {
				var ib strings.Builder
				image(&ib, u, unescape(text))
				b.WriteString(ib.String())
				i += 1 + n
				continue
			}
		case rest[0] == '[':
			if text, u, n := link(rest); n > 0 {
				if safeHref(u) {
					b.WriteString(`<a class="mc-link" href="` + esc(u) + `" rel="noopener noreferrer">` + inline(text) + `</a>`)
				} else {
					b.WriteString(inline(text))
				}
				i += n
				continue
			}
		case rest[0] == '<':
			if m := atTag.FindStringSubmatch(rest); m != nil {
				id, name := m[1]+m[2], m[3]
				if name == "" && id == "all" {
					name = "所有人"
				}
				b.WriteString(`<span class="mc-at" title="` + esc(id) + `">@` + esc(name) + `</span>`)
				i += len(m[0])
				continue
			}
			if m := fontOpen.FindStringSubmatch(rest); m != nil {
				color := strings.TrimSpace(m[1] + m[2] + m[3])
				switch {
				case namedFont[strings.ToLower(color)]:
					b.WriteString(`<span class="mc-font mc-c-` + strings.ToLower(color) + `">`)
				case hexColor.MatchString(color):
					b.WriteString(`<span class="mc-font" style="color:` + color + `">`)
				default:
					b.WriteString(`<span class="mc-font">`)
				}
				stack = append(stack, "font")
				i += len(m[0])
				continue
			}
			if strings.HasPrefix(rest, "<small>") {
				b.WriteString(`<small>`)
				stack = append(stack, "small")
				i += len("<small>")
				continue
			}
			if tag, ok := closeTag(rest); ok && len(stack) > 0 && stack[len(stack)-1] == tag {
				if tag == "font" {
					b.WriteString(`</span>`)
				} else {
					b.WriteString(`</small>`)
				}
				stack = stack[:len(stack)-1]
				i += len("</" + tag + ">")
				continue
			}
		}
		b.WriteString(esc(rest[:1]))
		i++
	}
	for j := len(stack) - 1; j >= 0; j-- {
		if stack[j] == "font" {
			b.WriteString(`</span>`)
		} else {
			b.WriteString(`</small>`)
		}
	}
	return b.String()
}

func closeTag(s string) (string, bool) {
	for _, t := range []string{"font", "small"} {
		if strings.HasPrefix(s, "</"+t+">") {
			return t, true
		}
	}
	return "", false
}

// closing returns the index in s of the first unescaped marker, or -1.
func closing(s, marker string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], marker) {
			if i == 0 {
				return -1
			}
			return i
		}
	}
	return -1
}

// link reads "[text](url)" at the start of s: its text, URL and length.
func link(s string) (text, u string, n int) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				if i+1 >= len(s) || s[i+1] != '(' {
					return "", "", 0
				}
				end := closeParen(s[i+2:])
				if end < 0 {
					return "", "", 0
				}
				u = strings.TrimSpace(s[i+2 : i+2+end])
				if strings.ContainsAny(u, " \n") {
					return "", "", 0
				}
				return s[1:i], u, i + 3 + end
			}
		}
	}
	return "", "", 0
}

// closeParen returns the index of the ")" that closes a link's URL,
// parentheses inside it balanced, or -1.
func closeParen(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return i
			}
			depth--
		case '\n':
			return -1
		}
	}
	return -1
}

// unescape drops markdown backslash escapes.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && isPunct(s[i+1]) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isPunct(c byte) bool {
	return c < 0x80 && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
