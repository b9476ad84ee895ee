// Package preview shows what a payload becomes before it pages anyone: it
// routes and renders the payload through the relay's own code (route,
// render, relay — the same calls `relay render` and the delivery queue
// make), draws each card the way Mind draws it, in plain HTML and CSS, and
// builds the template preview page and `relay render --html` documents.
// It sends nothing and changes no state; it knows nothing of HTTP.
package preview

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
)

// EditedName is the file name edited template text is parsed under; its
// errors name it ("edited.tmpl:3:14").
const EditedName = "edited.tmpl"

// MaxPayloadBytes bounds a payload to preview, as the webhook's default
// body limit does.
const MaxPayloadBytes = 4 << 20

// Input is what to preview.
type Input struct {
	Source  alert.Source
	Payload []byte
	// Receiver, when set, bypasses the route tree, as
	// /webhook/{source}/{receiver} does.
	Receiver string
	// Set, when set, renders every card with this template set instead of
	// its receiver's own.
	Set string
	// Templates is template text parsed after the configured files, as
	// one more file would be: its defines replace theirs. Not saved.
	Templates string
	// Acked renders the cards as acknowledged (orange) by AckedBy.
	Acked   bool
	AckedBy string
}

// Result is what the relay would send for an Input.
type Result struct {
	Source    alert.Source
	Receiver  string // as given: empty means routed
	Set       string
	Templates string
	// Error stopped the preview: the payload cannot be read, the receiver
	// does not exist, … Run returns it too.
	Error string
	// Skipped alerts of the payload (the webhook skips and counts them).
	Skipped []payload.Skipped
	// TemplateError is set when the edited text does not parse; the cards
	// are then rendered with the running templates (a reload with such a
	// file fails and keeps the old config).
	TemplateError *TemplateError
	// Routes says which routes each alert matched (empty when Receiver
	// bypasses routing).
	Routes []AlertRoute
	Cards  []Card
}

// AlertRoute is one alert and the routes it matched.
type AlertRoute struct {
	Alert   string // alertname, and the labels that tell alerts apart
	Status  string
	Matched []route.Matched
}

// Card is one Mind request the relay would send, and its drawing.
type Card struct {
	Receiver string
	Set      string
	Endpoint string
	// Body is the exact request body.
	Body json.RawMessage
	// Content is the card JSON (the body's content), indented to read.
	Content string
	// Fallback says the plain built-in card would be sent, because of
	// Errors.
	Fallback bool
	Errors   []TemplateError
	Drawing  Drawing
}

// TemplateError is a template failure, located when Go's text/template
// says where: line and column for an execution error, the line alone for a
// parse error (its parser reports no column). Only edited text has its line
// quoted: the preview reads no file.
type TemplateError struct {
	File   string // the template file, EditedName for edited text
	Line   int    // 0: unknown
	Column int    // as Go gives it: the byte offset in the line, from 0
	Msg    string // the whole error
	Source string // the line of edited text it points at, when known
}

// Run routes and renders in.Payload with st as the relay would, and draws
// every card. It sends nothing. now stamps the notifications (nil:
// time.Now); the card's own clock is the renderer's. The error is the
// reason the preview stopped, also in Result.Error.
func Run(ctx context.Context, st *relay.State, in Input, now func() time.Time) (*Result, error) {
	res := &Result{Source: in.Source, Receiver: in.Receiver, Set: in.Set, Templates: in.Templates}
	stop := func(err error) (*Result, error) {
		res.Error = err.Error()
		return res, err
	}
	if now == nil {
		now = time.Now
	}
	g, skipped, err := Parse(in.Source, in.Payload)
	res.Skipped = skipped
	if err != nil {
		return stop(err)
	}

	// Fallbacks are reported to the card being rendered: Render runs one
	// card at a time here.
	var fallbacks []error
	r, err := st.Renderer.Preview(EditedName, in.Templates, func(err error) { fallbacks = append(fallbacks, err) })
	if err != nil {
		te := locate(err, in.Templates)
		res.TemplateError = &te
		if r, err = st.Renderer.Preview(EditedName, "", func(err error) { fallbacks = append(fallbacks, err) }); err != nil {
			return stop(err)
		}
	}
	cfg := st.Config
	if in.Set != "" {
		if !r.HasTemplate(in.Set) {
			return stop(fmt.Errorf("no template set %q (define %q in a template file or in the edited text)", in.Set, in.Set+".title"))
		}
		cfg = withSet(cfg, in.Set)
	}
	pst := &relay.State{Config: cfg, Tree: st.Tree, Renderer: r}
	live := relay.NewLive(pst)
	rl := relay.New(live, relay.Options{Now: now}, prometheus.NewRegistry())
	incs := &acked{}
	cards := relay.NewCards(live, incs, nil, prometheus.NewRegistry())
	by := strings.TrimSpace(in.AckedBy)
	if by == "" {
		by = "预览"
	}
	if in.Receiver == "" {
		for _, a := range g.Alerts {
			res.Routes = append(res.Routes, AlertRoute{Alert: alertName(a, g), Status: a.Status, Matched: st.Tree.Explain(a.Labels)})
		}
	}
	ns, err := rl.Prepare(ctx, pst, g, in.Receiver)
	if err != nil {
		return stop(err)
	}
	for _, n := range ns {
		fallbacks = nil
		if in.Acked {
			// Drawn as if someone had acknowledged what the card shows.
			n.IncidentID = "preview"
			incs.inc = incident.Incident{ID: n.IncidentID, GroupID: n.GroupID, State: incident.Acked, Alerts: n.Alerts,
				Ack: &incident.Ack{By: by, At: now(), Alerts: n.Alerts}}
		}
		req, err := cards.Render(ctx, n)
		if err != nil {
			return stop(err)
		}
		c := Card{Receiver: n.Receiver, Endpoint: req.Endpoint, Body: req.Body, Fallback: len(fallbacks) > 0}
		if rc := cfg.ReceiverByName(n.Receiver); rc != nil {
			c.Set = rc.Template
		}
		if c.Set == "" || c.Set == "default" {
			c.Set = render.DefaultSet
		}
		for _, f := range fallbacks {
			c.Errors = append(c.Errors, locate(f, in.Templates))
		}
		content, err := contentOf(req.Body)
		if err != nil {
			return stop(err)
		}
		c.Content = indent(content)
		if c.Drawing, err = Draw(content); err != nil {
			return stop(err)
		}
		res.Cards = append(res.Cards, c)
	}
	return res, nil
}

// Parse reads a webhook body of the given source, as the webhook does.
func Parse(src alert.Source, body []byte) (*alert.Group, []payload.Skipped, error) {
	switch src {
	case alert.SourceAlertmanager:
		return payload.ParseAlertmanager(body)
	case alert.SourceGrafana:
		return payload.ParseGrafana(body)
	default:
		return nil, nil, fmt.Errorf("unknown source %q: use alertmanager or grafana", src)
	}
}

// withSet is cfg with every receiver using set; cfg is not changed.
func withSet(cfg *config.Config, set string) *config.Config {
	c := *cfg
	c.Receivers = make([]*config.Receiver, len(cfg.Receivers))
	for i, r := range cfg.Receivers {
		if r == nil {
			continue
		}
		cp := *r
		cp.Template = set
		c.Receivers[i] = &cp
	}
	return &c
}

// acked is the one incident a preview card renders with.
type acked struct{ inc incident.Incident }

func (a *acked) Incident(context.Context, string) (incident.Incident, error) { return a.inc, nil }

// alertName names an alert for the routes table: its alertname and the
// labels the group's alerts do not share.
func alertName(a alert.Alert, g *alert.Group) string {
	name := a.Labels["alertname"]
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if k == "alertname" || g.CommonLabels[k] == a.Labels[k] || strings.HasPrefix(k, "__") {
			continue
		}
		rest = append(rest, k+"="+a.Labels[k])
	}
	if len(rest) > 0 {
		return strings.TrimSpace(name + " " + strings.Join(rest, " "))
	}
	if name == "" {
		return "（无 alertname）"
	}
	return name
}

// contentOf returns the card JSON a Mind request body carries.
func contentOf(body []byte) (string, error) {
	var b struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", fmt.Errorf("read the request body: %w", err)
	}
	if b.Content == "" {
		return "", errors.New("the request body has no content")
	}
	return b.Content, nil
}

func indent(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		return s
	}
	return b.String()
}

// tmplPos finds text/template's "NAME:LINE:COL:" (execution) or
// "NAME:LINE:" (parse) location in an error.
var tmplPos = regexp.MustCompile(`template: ([^:\s]+):(\d+)(?::(\d+))?:`)

// locate reads where err points; for edited text it quotes the line.
func locate(err error, edited string) TemplateError {
	te := TemplateError{Msg: err.Error()}
	m := tmplPos.FindStringSubmatch(te.Msg)
	if m == nil {
		return te
	}
	te.File = m[1]
	te.Line, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		te.Column, _ = strconv.Atoi(m[3])
	}
	if te.File == EditedName && te.Line > 0 {
		if lines := strings.Split(edited, "\n"); te.Line <= len(lines) {
			te.Source = strings.TrimRight(lines[te.Line-1], "\r")
		}
	}
	return te
}
