package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
)

// fallback builds the plain card sent when the templates fail: Go code only,
// no template at all (a user's file can redefine any default helper), yet
// still red/orange/green, with the alert names and summaries, the times, the
// ack button and the links, listing the first n of ordered. Every piece is
// cut to a bound, and when the card is still too large for Mind it sheds
// its links first, then half its alerts at a time, down to one: the title,
// one alert, the count of the rest and the ack button always fit.
func (r *Renderer) fallback(d *Data, ordered alert.Alerts, n int, tok string) (*card.Card, error) {
	labels := fallbackLabels(d)
	title := fallbackTitle(d)
	links := true
	for {
		d.show(ordered, n)
		var urls map[string]string
		if links {
			urls, _ = planLinks(d)
		}
		c := newCard(d, title, r.fallbackBody(d), cardButtons(d, tok, labels, urls))
		err := c.Validate()
		switch {
		case err == nil:
			return c, nil
		case !errors.Is(err, card.ErrTooLarge):
			return nil, err
		case links:
			links = false
		case n > 1:
			n /= 2
		default:
			return nil, err
		}
	}
}

// fallbackBody is the fallback card's markdown.
func (r *Renderer) fallbackBody(d *Data) string {
	loc := r.opts.Location
	var b strings.Builder
	b.WriteString("（卡片模板出错，以下为简化内容）\n\n")

	if d.Ack != nil {
		fmt.Fprintf(&b, "**已由 %s 确认** %s\n", mdEscape(oneLine(truncate(30, d.Ack.By))), fmtTime(d.Ack.At, loc))
		if !d.Ack.SilencedUntil.IsZero() {
			fmt.Fprintf(&b, "静默至 %s\n", fmtTime(d.Ack.SilencedUntil, loc))
		}
		if d.Ack.SilenceError != "" {
			fmt.Fprintf(&b, "未能静默：%s\n", mdEscape(oneLine(truncate(120, d.Ack.SilenceError))))
		}
		b.WriteString("\n")
	}
	for _, a := range d.Shown {
		state := "触发中"
		if a.Status == alert.StatusResolved {
			state = "已恢复"
		}
		fmt.Fprintf(&b, "**[%s] %s**\n", state, mdEscape(oneLine(truncate(200, alertSummary(a)))))
		if name := a.Labels["alertname"]; name != "" && name != alertSummary(a) {
			fmt.Fprintf(&b, "%s\n", mdEscape(oneLine(truncate(100, name))))
		}
		if a.Status == alert.StatusResolved {
			fmt.Fprintf(&b, "开始 %s · 恢复 %s\n\n", fmtTime(a.StartsAt, loc), fmtTime(a.EndsAt, loc))
		} else {
			fmt.Fprintf(&b, "开始 %s\n\n", fmtTime(a.StartsAt, loc))
		}
	}
	if d.Omitted > 0 {
		fmt.Fprintf(&b, "还有 %d 条告警未显示\n", d.Omitted)
	}
	if d.ShortID != "" {
		fmt.Fprintf(&b, "编号 %s\n", d.ShortID)
	}
	return strings.TrimSpace(b.String())
}

func alertSummary(a alert.Alert) string {
	for _, s := range []string{a.Annotations["summary"], a.Annotations["message"], a.Labels["alertname"]} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return "告警"
}

// fallbackTitle is the default title's wording, built in Go.
func fallbackTitle(d *Data) string {
	name := d.CommonLabels["alertname"]
	if name == "" && len(d.Alerts) > 0 {
		if n := d.Alerts[0].Labels["alertname"]; n != "" {
			name = n + " 等"
		}
	}
	if strings.TrimSpace(name) == "" {
		name = "告警"
	}
	name = truncate(80, plain(name))
	if sev := truncate(20, plain(d.Severity)); sev != "" {
		name = sev + " · " + name
	}
	switch {
	case d.Status != alert.StatusFiring:
		return fmt.Sprintf("已恢复 · %s (%d)", name, len(d.Alerts.Resolved()))
	case d.Ack != nil:
		return fmt.Sprintf("已确认 by %s · %s (%d)", truncate(30, plain(d.Ack.By)), name, len(d.Alerts.Firing()))
	default:
		return fmt.Sprintf("触发中 · %s (%d)", name, len(d.Alerts.Firing()))
	}
}
