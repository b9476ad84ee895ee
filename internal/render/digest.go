package render

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/token"
)

// ActionDigest is the action of a digest page token: it names a digest
// card, whose page lists every group the digest folded.
const ActionDigest = "digest"

// DigestGroup is one group a digest card folded, as the card names it
// (a summary, so that a digest of thousands holds no groups).
type DigestGroup struct {
	Title    string // DigestTitle
	GroupID  string
	Firing   bool
	Alerts   int
	Priority int    // 0 most urgent
	Severity string // the priority label's value, for the reader
}

// DigestInput is what a digest card says.
type DigestInput struct {
	Receiver       string
	NotificationID string // the digest's, signed into the page link
	Groups         []DigestGroup
	// Names counts the groups' alerts by alert name.
	Names map[string]int
	// MaxGroups is how many groups the card names (the most urgent); the
	// page lists them all.
	MaxGroups int
}

// digestTitleRunes caps a group's title on a digest card.
const digestTitleRunes = 80

// Digest builds the card of a digest: how many groups, the most urgent
// ones with their titles, the alerts counted by name and, with acks on and
// an external URL, a button to the page that lists them all with their
// ack buttons. The card is checked like every other (card.Validate); lines
// that would make it too large are left to the page.
func (r *Renderer) Digest(in DigestInput) (*card.Card, error) {
	gs := slices.Clone(in.Groups)
	slices.SortStableFunc(gs, func(a, b DigestGroup) int { return cmp.Compare(a.Priority, b.Priority) })
	firing, alerts := 0, 0
	for _, g := range gs {
		if g.Firing {
			firing++
		}
		alerts += g.Alerts
	}
	byName := in.Names
	title := fmt.Sprintf("告警汇总：%d 个告警组（%d 个触发中）", len(gs), firing)
	color := card.ColorOrange
	if firing == 0 {
		color = card.ColorGreen
	}
	var counts strings.Builder
	fmt.Fprintf(&counts, "**共 %d 条告警，按名称：**", alerts)
	names := slices.SortedFunc(maps.Keys(byName), func(a, b string) int {
		return cmp.Or(cmp.Compare(byName[b], byName[a]), cmp.Compare(a, b))
	})
	for _, n := range names {
		fmt.Fprintf(&counts, "\n- %s × %d", mdEscape(oneLine(n)), byName[n])
	}
	var lines []string
	for i, g := range gs {
		if i == in.MaxGroups {
			break
		}
		state := "触发中"
		if !g.Firing {
			state = "已恢复"
		}
		sev := ""
		if g.Severity != "" {
			sev = "[" + mdEscape(truncate(20, plain(g.Severity))) + "] "
		}
		lines = append(lines, fmt.Sprintf("- %s%s（%s，%d 条）`%s`", sev,
			mdEscape(truncate(digestTitleRunes, plain(g.Title))), state, g.Alerts, ShortID(g.GroupID)))
	}
	var buttons []card.Button
	if tok := r.digestToken(in); tok != "" && r.opts.ExternalURL != "" {
		buttons = append(buttons, card.ViewButton("查看全部并确认", r.opts.ExternalURL+"/digest/"+tok))
	}
	build := func(shown int) *card.Card {
		head := fmt.Sprintf("告警过多，%d 个告警组合并为这一张卡片。", len(gs))
		if shown < len(gs) {
			head += fmt.Sprintf("以下是最紧急的 %d 个，其余请在页面中查看。", shown)
		}
		els := []card.Element{card.Markdown(head)}
		if shown > 0 {
			els = append(els, card.Markdown(strings.Join(lines[:shown], "\n")))
		}
		els = append(els, card.Markdown(counts.String()))
		if len(buttons) > 0 {
			els = append(els, card.Action(buttons...))
		}
		return &card.Card{Config: &card.Config{EnableForward: true},
			Header: &card.Header{Title: card.Text{Content: title}, Template: color}, Elements: els}
	}
	shown := len(lines)
	for {
		c := build(shown)
		err := c.Validate()
		if err == nil {
			return c, nil
		}
		if shown == 0 {
			return nil, fmt.Errorf("digest card: %w", err)
		}
		shown = max(0, min(shown-1, shown*3/4))
	}
}

// DigestTitle is a group's title on a digest card: its summary, else its
// alert name.
func DigestTitle(g *alert.Group) string {
	for _, v := range []string{g.CommonAnnotations["summary"], g.CommonLabels["alertname"], g.GroupLabels["alertname"]} {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	for _, a := range g.Alerts {
		if n := a.Labels["alertname"]; n != "" {
			return n
		}
	}
	return "告警"
}

// digestToken signs the digest page's token; empty without acks.
func (r *Renderer) digestToken(in DigestInput) string {
	if len(r.opts.AckSecret) == 0 {
		return ""
	}
	now := r.opts.Now()
	tok, err := token.Sign(r.opts.AckSecret, token.Claims{
		Action: ActionDigest, NotificationID: in.NotificationID, Receiver: in.Receiver,
		IssuedAt: now, ExpiresAt: now.Add(r.opts.TokenTTL),
	})
	if err != nil {
		r.logger.Error("cannot sign the digest page token; the digest goes without its link", "err", err)
		return ""
	}
	return tok
}
