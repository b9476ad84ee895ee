package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/card"
)

// EscalationInfo marks the card an escalation step pages.
type EscalationInfo struct {
	Policy string
	Round  int // 0: the first run of the steps
	Step   int // 1-based
	// Paged are the receivers paged before this step.
	Paged []string
	// Unacked is how long the incident has fired unacknowledged.
	Unacked time.Duration
}

// Mention is a person the card mentions (Mind's <at user_id> markdown).
type Mention struct {
	OpenID string
	Name   string // shown; the open_id when empty
}

// maxMentions bounds the people one card mentions.
const maxMentions = 20

// escalationMarkdown is the banner on top of an escalation card, in the
// relay's words whatever the template set: the step is the page.
func escalationMarkdown(e *EscalationInfo) string {
	var b strings.Builder
	step := fmt.Sprintf("第 %d 步", e.Step)
	if e.Round > 0 {
		step = fmt.Sprintf("第 %d 轮 · %s", e.Round+1, step)
	}
	fmt.Fprintf(&b, "<font color='red'>**告警升级（%s）**</font>\n", step)
	paged := make([]string, 0, len(e.Paged))
	for _, p := range e.Paged {
		paged = append(paged, mdEscape(oneLine(truncate(40, p))))
	}
	if len(paged) > 0 {
		fmt.Fprintf(&b, "已通知 %s，%s 内无人确认", strings.Join(paged, "、"), chineseDuration(e.Unacked))
	} else {
		fmt.Fprintf(&b, "%s 内无人确认", chineseDuration(e.Unacked))
	}
	return b.String()
}

// mentionMarkdown names the people the card was sent to, so that Mind
// notifies them in the chat.
func mentionMarkdown(ms []Mention) string {
	var b strings.Builder
	b.WriteString("值班：")
	for i, m := range ms {
		if i == maxMentions {
			fmt.Fprintf(&b, " 等 %d 人", len(ms))
			break
		}
		name := m.Name
		if name == "" {
			name = m.OpenID
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "<at user_id='%s'>%s</at>", atID(m.OpenID), mdEscape(oneLine(truncate(30, name))))
	}
	return b.String()
}

// atID keeps an open_id from closing the attribute it goes in.
func atID(id string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\'', '"', '<', '>', '&', '\\', '\n', '\r':
			return -1
		}
		return r
	}, id)
}

// chineseDuration says d in minutes (hours past two hours).
func chineseDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Minute:
		return "不到 1 分钟"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d 分钟", int(d.Minutes()))
	default:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%d 小时", h)
		}
		return fmt.Sprintf("%d 小时 %d 分钟", h, m)
	}
}

// extraElements are the relay's own parts of a card around the
// template's body: the escalation banner before it, the mentions after.
func extraElements(d *Data, body card.Element) []card.Element {
	var out []card.Element
	if d.Escalation != nil {
		out = append(out, card.Markdown(escalationMarkdown(d.Escalation)))
	}
	out = append(out, body)
	if len(d.Mentions) > 0 {
		out = append(out, card.Markdown(mentionMarkdown(d.Mentions)))
	}
	return out
}
