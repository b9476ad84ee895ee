// Package render turns an alert group into a Mind card.
//
// Templates produce text only: the header title, the markdown body and the
// button labels. Go code builds the card around that text — header colour
// from the group's status, which buttons exist from the URLs the payload
// carries, the ack button's signed token — so no label value can ever break
// the card's JSON. Every card is checked with card.Validate before it is
// returned, and a template that fails (or yields an invalid card) never
// drops the alert: Render then returns a plain fallback card built without
// templates.
//
// Every piece of a card is bounded, so that whatever a payload holds the
// card fits Mind's limits and lists its alerts: text is cut, a link longer
// than card.MaxURLBytes is left off (never cut), a card too large lists
// fewer alerts but never none, and the fallback card sheds its links and
// then alerts until it fits.
//
// # Template sets
//
// The embedded defaults (package templates) define the set "mind":
// mind.title, mind.body and the button labels mind.button.ack,
// mind.button.alertmanager, mind.button.source, mind.button.runbook,
// mind.button.dashboard, mind.button.silence and mind.button.panel, plus the
// helpers mind.body uses (mind.name, mind.header, mind.ack, mind.alert,
// mind.severity, mind.omitted). User files (Options.Files) are parsed after
// the defaults, so a {{ define "mind.title" }} there replaces the default for
// every receiver.
//
// A receiver's `template: NAME` picks the set NAME: each part is the
// template "NAME.<part>" when a file defines it (NAME.title, NAME.body,
// NAME.button.ack, …) and the default "mind.<part>" otherwise, so a set may
// define just the parts it changes. A set exists once any of its parts is
// defined; "" and "default" name the defaults. HasTemplate tells config
// validation whether a name exists.
//
// A view button's label that renders empty hides that button (define it as
// {{ "" }}: Go ignores a define whose body is empty); the ack button's never
// does (it falls back to "确认"). templates/README.md documents the data,
// the functions and the parts for users.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	_ "time/tzdata" // card times in any zone, even on a scratch image

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/token"
	"github.com/mindoffice/mind-relay/templates"
)

// Defaults of Options.
const (
	DefaultTokenTTL  = 24 * time.Hour
	DefaultMaxAlerts = 10
)

// DefaultSet is the template set of the embedded defaults.
const DefaultSet = "mind"

// AckEvent is the click event of the ack button (interface.md).
const AckEvent = "relay.ack"

// UnackEvent and ActionUnack are the click event and the token action of
// the button that withdraws an acknowledgement, on acknowledged cards.
const (
	UnackEvent  = "relay.unack"
	ActionUnack = "unack"
)

// ShortIDLen is the length of a group's short id: the prefix of its group
// id that cards show and chat commands take.
const ShortIDLen = 6

// ShortID is the short id of a group id, as cards show it.
func ShortID(groupID string) string {
	if len(groupID) > ShortIDLen {
		return groupID[:ShortIDLen]
	}
	return groupID
}

// Template parts of a set, in the order the card uses them.
const (
	partTitle = "title"
	partBody  = "body"
)

// buttonKinds are the buttons a card may carry, in order; the ack buttons
// come first: ack (click), unack (click, on acknowledged cards) and ackpage
// (a view button to the relay's ack page, for clients without callbacks).
// At most maxButtons are kept, so the last kinds drop first.
var buttonKinds = []string{"ack", "unack", "ackpage", "alertmanager", "source", "runbook", "dashboard", "silence", "panel"}

const (
	maxButtons      = 7
	maxButtonRunes  = 20
	maxTemplateOut  = 64 << 10 // bytes one template part may write
	fallbackMaxList = 20
)

// Options configure a Renderer.
type Options struct {
	// Files are globs of user template files, parsed after the embedded
	// defaults. A glob that matches no file is an error.
	Files []string
	// Location is the zone of card times (default time.Local).
	Location *time.Location
	// ExternalURL is the relay's own external URL; ack page links are
	// ExternalURL + "/ack/" + token.
	ExternalURL string
	// AckSecret signs ack tokens; empty means cards carry no ack button.
	AckSecret []byte
	// TokenTTL is how long an ack token stays valid (default 24h).
	TokenTTL time.Duration
	// MaxAlerts caps the alerts listed on a card (default 10); a
	// receiver's max_alerts overrides it.
	MaxAlerts int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Input says what a card is for, beyond the group itself.
type Input struct {
	// Receiver is the relay receiver the card goes to; nil means defaults.
	Receiver *config.Receiver
	// GroupID identifies the group for acks; empty means
	// alert.GroupID(source, key, receiver name).
	GroupID string
	// NotificationID identifies this notification; it goes into the token.
	NotificationID string
	// Ack is set once someone acknowledged the group.
	Ack *AckInfo
	// Escalation is set on the card an escalation step pages.
	Escalation *EscalationInfo
	// Mentions are the people the card names with Mind's mention.
	Mentions []Mention
	// AlertAck, when set, says each alert's own ack state: for a card
	// whose ack covers only some of its firing alerts (Ack is nil then,
	// the card pages red for the others). Templates see it as each
	// alert's .AckState.
	AlertAck func(a *alert.Alert) AlertAck
}

// AlertAck is one alert's own ack state, on a card whose ack covers only
// some of its firing alerts; the zero value on every other card.
type AlertAck struct {
	// Ack is the acknowledgement that covers the alert; nil when none
	// does.
	Ack *AckInfo
	// New: the alert fires and the ack never saw it. Raised: the ack saw
	// it at a lower severity than it fires at now.
	New    bool
	Raised bool
}

// AckInfo describes an acknowledgement of a group.
type AckInfo struct {
	By            string // nickname
	ByOpenID      string
	At            time.Time
	SilencedUntil time.Time // zero: no silence
	SilenceURL    string
	// SilenceError says, in a few words, why the silence the ack asked
	// for could not be made; empty when it was made or none was asked.
	SilenceError string
}

// Renderer renders cards. It is safe for concurrent use.
type Renderer struct {
	tmpl      *template.Template
	opts      Options
	tplErrors prometheus.Counter
	logger    *slog.Logger
	// onFallback, when set (Preview), is told why a card fell back.
	onFallback func(error)
}

// New parses the embedded templates and then opts.Files, and registers the
// renderer's metric on reg (nil: not registered). Building a second
// renderer on the same registry, as a config reload does, shares the
// metric.
func New(opts Options, reg prometheus.Registerer, logger *slog.Logger) (*Renderer, error) {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.MaxAlerts <= 0 {
		opts.MaxAlerts = DefaultMaxAlerts
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts.ExternalURL = strings.TrimRight(opts.ExternalURL, "/")

	t := template.New("").Option("missingkey=zero").Funcs(funcMap(opts.Location, opts.Now))
	if err := parseFS(t, templates.FS); err != nil {
		return nil, err
	}
	if err := parseFiles(t, opts.Files); err != nil {
		return nil, err
	}
	for _, part := range []string{partTitle, partBody} {
		if t.Lookup(DefaultSet+"."+part) == nil {
			return nil, fmt.Errorf("templates: %s.%s is not defined", DefaultSet, part)
		}
	}

	c, err := registerCounter(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mind_relay_template_errors_total",
		Help: "Cards whose template failed or yielded an invalid card, so that the plain fallback card was sent instead.",
	}))
	if err != nil {
		return nil, err
	}
	return &Renderer{tmpl: t, opts: opts, tplErrors: c, logger: logger}, nil
}

func registerCounter(reg prometheus.Registerer, c prometheus.Counter) (prometheus.Counter, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("register template metrics: %w", err)
	}
	return c, nil
}

func parseFS(t *template.Template, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.tmpl")
	if err != nil {
		return fmt.Errorf("embedded templates: %w", err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("embedded template %s: %w", name, err)
		}
		if _, err := t.New("embedded/" + name).Parse(string(b)); err != nil {
			return fmt.Errorf("embedded template %s: %w", name, err)
		}
	}
	return nil
}

func parseFiles(t *template.Template, globs []string) error {
	for _, glob := range globs {
		paths, err := filepath.Glob(glob)
		if err != nil {
			return fmt.Errorf("template files %q: %w", glob, err)
		}
		if len(paths) == 0 {
			return fmt.Errorf("template files %q: no file matches", glob)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("template file %s: %w", p, err)
			}
			if _, err := t.New(p).Parse(string(b)); err != nil {
				return fmt.Errorf("template file %s: %w", p, err)
			}
		}
	}
	return nil
}

// setName maps a receiver's template name to its set.
func setName(name string) string {
	if name == "" || name == "default" {
		return DefaultSet
	}
	return name
}

// HasTemplate reports whether name is a template set a receiver may use:
// "" and "default" always, any other name once a template file defines one
// of its parts (name.title, name.body, name.button.ack, …).
func (r *Renderer) HasTemplate(name string) bool {
	set := setName(name)
	if set == DefaultSet {
		return true
	}
	for _, part := range append([]string{partTitle, partBody}, buttonParts()...) {
		if r.tmpl.Lookup(set+"."+part) != nil {
			return true
		}
	}
	return false
}

func buttonParts() []string {
	out := make([]string, len(buttonKinds))
	for i, k := range buttonKinds {
		out[i] = "button." + k
	}
	return out
}

// errTooLarge marks a card too big for Mind; Render lists fewer alerts.
var errTooLarge = errors.New("card too large")

// Render builds the card for g. A template that fails or yields an invalid
// card is counted, logged at warn, and replaced by the fallback card, so
// that the error is nil unless even the fallback cannot be built.
func (r *Renderer) Render(g *alert.Group, in Input) (*card.Card, error) {
	if g == nil {
		return nil, errors.New("render: no group")
	}
	rcv := receiverOf(in.Receiver)
	groupID := in.GroupID
	if groupID == "" {
		groupID = alert.GroupID(g.Source, g.Key(), rcv.Name)
	}
	limit := r.opts.MaxAlerts
	if rcv.MaxAlerts > 0 {
		limit = rcv.MaxAlerts
	}

	d := newData(g, rcv, in.Ack, r.opts.ExternalURL)
	d.Escalation, d.Mentions = in.Escalation, in.Mentions
	d.alertAck = in.AlertAck
	tok := r.ackToken(d, groupID, in.NotificationID)
	if tok != "" && d.Ack == nil && r.opts.ExternalURL != "" {
		d.AckURL = r.opts.ExternalURL + "/ack/" + tok
	}
	if len(r.opts.AckSecret) > 0 {
		d.GroupID, d.ShortID = groupID, ShortID(groupID)
	}

	ordered := firingFirst(g.Alerts)
	set := setName(rcv.Template)
	n := min(limit, len(ordered))
	var err error
	for {
		d.show(ordered, n)
		var c *card.Card
		if c, err = r.build(set, d, tok); err == nil {
			return c, nil
		}
		if !errors.Is(err, errTooLarge) || n <= 1 {
			break
		}
		// Too much text: list half as many alerts and say so, but never
		// none: a card that fits without its alert is no page.
		n /= 2
	}

	r.tplErrors.Inc()
	if r.onFallback != nil {
		r.onFallback(err)
	}
	r.logger.Warn("card template failed; sending the plain fallback card",
		"receiver", rcv.Name, "template", set, "group_id", groupID, "err", err)
	c, ferr := r.fallback(d, ordered, min(limit, fallbackMaxList), tok)
	if ferr != nil {
		return nil, fmt.Errorf("render: template: %w; fallback card: %w", err, ferr)
	}
	return c, nil
}

// ackToken signs the token of the card's ack button: only a firing group
// with acks enabled gets one; its action is "ack", or "unack" once the
// group is acknowledged. A signing failure costs the button, not the card.
func (r *Renderer) ackToken(d *Data, groupID, notificationID string) string {
	if len(r.opts.AckSecret) == 0 || d.Status != alert.StatusFiring {
		return ""
	}
	action := token.ActionAck
	if d.Ack != nil {
		action = ActionUnack
	}
	now := r.opts.Now()
	tok, err := token.Sign(r.opts.AckSecret, token.Claims{
		Action:         action,
		GroupID:        groupID,
		NotificationID: notificationID,
		Receiver:       d.Receiver.Name,
		IssuedAt:       now,
		ExpiresAt:      now.Add(r.opts.TokenTTL),
	})
	if err != nil {
		r.logger.Error("cannot sign ack token; the card goes without an ack button", "group_id", groupID, "err", err)
		return ""
	}
	return tok
}

// build renders the card from the templates of set.
func (r *Renderer) build(set string, d *Data, tok string) (*card.Card, error) {
	title, err := r.exec(set, partTitle, d)
	if err != nil {
		return nil, err
	}
	title = plain(title)

	urls, perAlert := planLinks(d)
	labels, err := r.labels(set, d, tok, urls, perAlert)
	if err != nil {
		return nil, err
	}
	d.linkLabels, d.perAlert = labels, perAlert
	body, err := r.exec(set, partBody, d)
	d.linkLabels, d.perAlert = nil, nil
	if err != nil {
		return nil, err
	}
	body = tidy(body)
	if len(body) > card.MaxMarkdownBytes {
		return nil, fmt.Errorf("%s.%s: %d bytes of markdown: %w", set, partBody, len(body), errTooLarge)
	}

	c := newCard(d, title, body, cardButtons(d, tok, labels, urls))
	if err := c.Validate(); err != nil {
		if errors.Is(err, card.ErrTooLarge) {
			return nil, fmt.Errorf("template set %q: %w: %w", set, errTooLarge, err)
		}
		return nil, fmt.Errorf("template set %q yields an invalid card: %w", set, err)
	}
	return c, nil
}

// newCard is the card around a title, a markdown body and buttons, the
// buttons in rows of card.MaxButtonsPerRow.
func newCard(d *Data, title, body string, buttons []card.Button) *card.Card {
	rows := card.Rows(buttons)
	elems := make([]card.Element, 0, 3+len(rows))
	elems = append(elems, extraElements(d, card.Markdown(body))...)
	return &card.Card{
		Config:   &card.Config{EnableForward: true, IsShareCard: true, WideScreenMode: true},
		Header:   &card.Header{Title: card.Text{Content: title}, Template: headerColor(d)},
		Elements: append(elems, rows...),
	}
}

// headerColor: red while firing, orange once acknowledged, green resolved.
func headerColor(d *Data) string {
	switch {
	case d.Status != alert.StatusFiring:
		return card.ColorGreen
	case d.Ack != nil:
		return card.ColorOrange
	default:
		return card.ColorRed
	}
}

// exec renders one part of a set, falling back to the default set's part.
func (r *Renderer) exec(set, part string, data any) (string, error) {
	name := set + "." + part
	t := r.tmpl.Lookup(name)
	if t == nil {
		name = DefaultSet + "." + part
		if t = r.tmpl.Lookup(name); t == nil {
			return "", fmt.Errorf("template %s is not defined", name)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&limitWriter{w: &buf, n: maxTemplateOut}, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return buf.String(), nil
}

// limitWriter fails once more than n bytes were written, so that a template
// ranging over 500 alerts cannot grow without bound.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, fmt.Errorf("output over %d bytes: %w", maxTemplateOut, errTooLarge)
	}
	l.n -= len(p)
	return l.w.Write(p)
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// tidy removes trailing spaces and collapses runs of blank lines, so that
// templates can be laid out for reading.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// labels renders the button labels the card needs from the set's
// templates: the ack button's when tok is set, and each link kind's that
// urls or perAlert uses. A view button's label that renders empty is left
// out (it hides that button or link); the ack buttons' fall back to the
// default wording.
func (r *Renderer) labels(set string, d *Data, tok string, urls map[string]string, perAlert []string) (map[string]string, error) {
	out := make(map[string]string, len(urls)+len(perAlert)+2)
	for _, kind := range buttonKinds {
		switch kind {
		case "ack":
			if tok == "" || d.Ack != nil {
				continue
			}
		case "unack":
			if tok == "" || d.Ack == nil {
				continue
			}
		default:
			if urls[kind] == "" && !slices.Contains(perAlert, kind) {
				continue
			}
		}
		l, err := r.exec(set, "button."+kind, d)
		if err != nil {
			return nil, err
		}
		label := truncate(maxButtonRunes, plain(l))
		if label == "" {
			if kind != "ack" && kind != "unack" {
				continue // an empty label hides a view button
			}
			label = defaultLabels[kind]
		}
		out[kind] = label
	}
	return out, nil
}

// fallbackLabels are labels' answer without templates.
func fallbackLabels(d *Data) map[string]string {
	if d.Source != alert.SourceGrafana {
		return defaultLabels
	}
	out := maps.Clone(defaultLabels)
	out["source"] = "告警规则" // Grafana's generator URL is the alert rule
	return out
}

// cardButtons builds the card's buttons, at most maxButtons, in buttonKinds
// order: the ack button (click) when tok is set, then a view button for
// each of urls that has a label.
func cardButtons(d *Data, tok string, labels, urls map[string]string) []card.Button {
	var out []card.Button
	for _, kind := range buttonKinds {
		if len(out) == maxButtons {
			break
		}
		label := labels[kind]
		if label == "" {
			continue
		}
		switch kind {
		case "ack":
			if tok != "" && d.Ack == nil {
				out = append(out, card.ClickButton(label, AckEvent, map[string]any{
					"card_id": "$card_id",
					"action":  token.ActionAck,
					"token":   tok,
				}))
			}
		case "unack":
			if tok != "" && d.Ack != nil {
				out = append(out, card.ClickButton(label, UnackEvent, map[string]any{
					"card_id": "$card_id",
					"action":  ActionUnack,
					"token":   tok,
				}))
			}
		default:
			if u := urls[kind]; u != "" {
				out = append(out, card.ViewButton(label, u))
			}
		}
	}
	return out
}

// defaultLabels are the fallback card's button labels; they match the
// embedded templates.
var defaultLabels = map[string]string{
	"ack":          "确认",
	"unack":        "取消确认",
	"ackpage":      "网页确认",
	"alertmanager": "查看告警",
	"source":       "告警来源",
	"runbook":      "处理手册",
	"dashboard":    "仪表盘",
	"silence":      "静默",
	"panel":        "面板",
}

// alertLinkKinds are the link kinds each alert may carry one of.
var alertLinkKinds = []string{"source", "runbook", "dashboard", "silence", "panel"}

// alertLink is a's link of kind, "" when it has none a card may carry.
func alertLink(a *alert.Alert, kind string) string {
	var u string
	switch kind {
	case "source":
		u = a.GeneratorURL
	case "runbook":
		u = a.Annotations["runbook_url"]
	case "dashboard":
		u = a.DashboardURL
	case "silence":
		u = a.SilenceURL
	case "panel":
		u = a.PanelURL
	}
	if u = strings.TrimSpace(u); !urlOK(u) {
		return ""
	}
	return u
}

// planLinks decides where each link goes. A link the whole card shares
// is a button: the ack page, Alertmanager's alert list, the common
// runbook, and a kind of alert link that every listed alert having one
// has the same of. When the listed alerts' links of a kind differ (a
// Grafana group of several rules: a rule and a silence each), none of
// them is the group's, so each alert gets its own in the body (perAlert)
// rather than the first alert's on a button. Links that do not fit on a
// card (urlOK) are left out.
func planLinks(d *Data) (urls map[string]string, perAlert []string) {
	urls = make(map[string]string, len(buttonKinds))
	if d.AckURL != "" && urlOK(d.AckURL) {
		urls["ackpage"] = d.AckURL
	}
	if d.Source == alert.SourceAlertmanager {
		if u := alertmanagerLink(strings.TrimSpace(d.ExternalURL), d.Group.Receiver, d.GroupLabels); u != "" {
			urls["alertmanager"] = u
		}
	}
	for _, kind := range alertLinkKinds {
		if kind == "runbook" {
			if u := strings.TrimSpace(d.CommonAnnotations["runbook_url"]); urlOK(u) {
				urls[kind] = u
				continue
			}
		}
		shared, differ := "", false
		for i := range d.Shown {
			u := alertLink(&d.Shown[i], kind)
			switch {
			case u == "":
			case shared == "":
				shared = u
			case u != shared:
				differ = true
			}
		}
		switch {
		case differ:
			perAlert = append(perAlert, kind)
		case shared != "":
			urls[kind] = shared
		}
	}
	return urls, perAlert
}
