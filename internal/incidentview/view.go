// Package incidentview builds the relay's incident view — the pages
// /ui/incidents (a list, by state and receiver, a page at a time) and
// /ui/incidents/{id} (one incident with its whole timeline) — from the
// store's incidents, their latest cards and their timelines.
//
// It reads through the small Store interface alone (no SQL), so any store
// backend serves it; it changes nothing and knows nothing of HTTP: the
// handlers in package ingest authenticate, parse the query with
// ParseFilter and write what Write* renders.
package incidentview

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/chat"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/preview"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Store is what the view reads (store.Store).
type Store interface {
	Incident(ctx context.Context, id string) (incident.Incident, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Incident, error)
	Timeline(ctx context.Context, id string) ([]incident.Event, error)
	// Get reads an incident's latest card: its group is what the view
	// shows (title, labels, alerts).
	Get(ctx context.Context, id string) (store.Notification, error)
}

var _ Store = store.Store(nil)

const (
	// PageSize is how many incidents a page of the list shows.
	PageSize = 50
	// rowEvents is how many of its latest timeline lines a row shows.
	rowEvents = 5
	// maxEvents bounds the timeline of the detail page (the latest are
	// shown); maxAlerts its alerts.
	maxEvents = 500
	maxAlerts = 100
	// maxReceiver bounds the receiver filter.
	maxReceiver = 200
)

// Filter is what the list shows: its query string.
type Filter struct {
	State    string // "" (all), "open", or an incident.State
	Receiver string // "" (all)
	// After is the page's place: store.IncidentCursor, as in the URL.
	After string
}

// States the filter takes, with their labels, in the order the form
// offers them.
var filterStates = []Option{
	{Value: "", Label: "全部"},
	{Value: "open", Label: "未恢复（触发中与已确认）"},
	{Value: string(incident.Firing), Label: "触发中"},
	{Value: string(incident.Acked), Label: "已确认"},
	{Value: string(incident.Resolved), Label: "已恢复"},
}

// ErrFilter marks a query the list cannot show.
var ErrFilter = errors.New("bad incident filter")

// ParseFilter reads the list's query string.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{State: q.Get("state"), Receiver: q.Get("receiver"), After: q.Get("after")}
	if !slices.ContainsFunc(filterStates, func(o Option) bool { return o.Value == f.State }) {
		return Filter{}, fmt.Errorf("%w: unknown state %q", ErrFilter, f.State)
	}
	if len(f.Receiver) > maxReceiver {
		return Filter{}, fmt.Errorf("%w: receiver longer than %d bytes", ErrFilter, maxReceiver)
	}
	if _, err := parseCursor(f.After); err != nil {
		return Filter{}, err
	}
	return f, nil
}

// Query is the filter as a URL query string ("" for the whole list).
func (f Filter) Query() string {
	v := url.Values{}
	for k, s := range map[string]string{"state": f.State, "receiver": f.Receiver, "after": f.After} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

var cursorID = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// A cursor in a URL is "UNIXNANO.ID".
func formatCursor(c store.IncidentCursor) string {
	return strconv.FormatInt(c.UpdatedAt.UnixNano(), 10) + "." + c.ID
}

func parseCursor(s string) (store.IncidentCursor, error) {
	if s == "" {
		return store.IncidentCursor{}, nil
	}
	ns, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || n <= 0 || !cursorID.MatchString(id) {
		return store.IncidentCursor{}, fmt.Errorf("%w: bad page cursor", ErrFilter)
	}
	return store.IncidentCursor{UpdatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

func (f Filter) query() store.IncidentQuery {
	q := store.IncidentQuery{Receiver: f.Receiver, Limit: PageSize + 1}
	q.After, _ = parseCursor(f.After) // ParseFilter checked it
	switch f.State {
	case "":
	case "open":
		q.States = []incident.State{incident.Firing, incident.Acked}
	default:
		q.States = []incident.State{incident.State(f.State)}
	}
	return q
}

// Option is a choice of the filter form.
type Option struct {
	Value, Label string
	Selected     bool
}

// Pair is a label.
type Pair struct{ Name, Value string }

// Ack is who acknowledged, through what and when.
type Ack struct {
	By, OpenID string
	Via        string // 卡片按钮, 确认页面, 聊天命令
	At         string
	Alerts     int // alerts it covers
}

// Event is a timeline line.
type Event struct {
	At, Kind, What string
}

// Row is one incident as the list shows it; the detail page shows it too.
type Row struct {
	ID, ShortID string
	Href        string
	// Title is what the group is about; Known is false when its latest
	// card is gone from the store (pruned), and the title says so.
	Title      string
	Known      bool
	State      string // firing, acked, resolved: the CSS class
	StateText  string
	Receiver   string
	Recipients string
	Source     string
	Occurrence int
	Labels     []Pair // the group's labels
	Firing     int    // firing alerts of the latest card
	Alerts     int    // alerts of the latest card
	OpenedAt   string // first seen by the relay
	UpdatedAt  string
	ResolvedAt string
	ResolvedBy string
	Ack        *Ack
	// Silence sums up the silences held ("静默至 …，2 个"), or why none
	// could be made.
	Silence      string
	SilenceError string
	// Events are the latest timeline lines (the list), oldest first;
	// EventCount is how many the timeline has.
	Events     []Event
	EventCount int
}

// List is the list page.
type List struct {
	Nav       []preview.NavItem
	Filter    Filter
	States    []Option
	Receivers []Option
	Rows      []Row
	// Next is the next page's link; First is the first page's, on a later
	// page.
	Next, First string
	Msg         string
}

// Alert is one alert of the latest card, on the detail page.
type Alert struct {
	Summary string
	Labels  []Pair
	Firing  bool
	Acked   bool // the ack covers it
	Since   string
}

// Silence is one silence the incident holds or held at its source.
type Silence struct {
	ID, EndsAt, State string
}

// Detail is the page of one incident.
type Detail struct {
	Nav []preview.NavItem
	// Found is false for an id the store does not have; Msg says so.
	Found bool
	Msg   string
	Row
	GroupID         string
	AlertList       []Alert
	AlertsOmitted   int
	SilenceKind     string
	SilenceLink     string
	SilenceFor      string
	SilenceUntil    string
	Silences        []Silence
	Timeline        []Event
	TimelineOmitted int
}

// ErrNotFound is returned by BuildDetail for an incident the store does
// not have.
var ErrNotFound = errors.New("no such incident")

// BuildList reads the page of the list f selects.
func BuildList(ctx context.Context, st Store, cfg *config.Config, f Filter) (List, error) {
	l := emptyList(cfg, f)
	incs, err := st.Incidents(ctx, f.query())
	if err != nil {
		return l, fmt.Errorf("list incidents: %w", err)
	}
	if len(incs) > PageSize {
		incs = incs[:PageSize]
		next := f
		next.After = formatCursor(store.CursorOf(incs[len(incs)-1]))
		l.Next = "/ui/incidents" + next.Query()
	}
	if f.After != "" {
		first := f
		first.After = ""
		l.First = "/ui/incidents" + first.Query()
	}
	for _, inc := range incs {
		r, _, err := row(ctx, st, cfg, inc)
		if err != nil {
			return l, err
		}
		tl, err := st.Timeline(ctx, inc.ID)
		if err != nil {
			return l, fmt.Errorf("incident %s: %w", inc.ID, err)
		}
		r.EventCount = len(tl)
		r.Events = events(cfg, tl[max(0, len(tl)-rowEvents):])
		l.Rows = append(l.Rows, r)
	}
	return l, nil
}

// EmptyList is the list page with no rows, for a refused query (msg says
// why).
func EmptyList(cfg *config.Config, f Filter, msg string) List {
	l := emptyList(cfg, f)
	l.Msg = msg
	return l
}

func emptyList(cfg *config.Config, f Filter) List {
	l := List{Nav: preview.Nav("/ui/incidents"), Filter: f}
	for _, o := range filterStates {
		o.Selected = o.Value == f.State
		l.States = append(l.States, o)
	}
	l.Receivers = []Option{{Value: "", Label: "全部", Selected: f.Receiver == ""}}
	names := []string{}
	for _, r := range cfg.Receivers {
		if r != nil {
			names = append(names, r.Name)
		}
	}
	if f.Receiver != "" && !slices.Contains(names, f.Receiver) {
		names = append(names, f.Receiver) // a receiver a reload removed keeps its incidents
	}
	for _, n := range names {
		l.Receivers = append(l.Receivers, Option{Value: n, Label: n, Selected: n == f.Receiver})
	}
	return l
}

// BuildDetail reads one incident with its whole timeline (ErrNotFound
// when the store has none of that id).
func BuildDetail(ctx context.Context, st Store, cfg *config.Config, id string) (Detail, error) {
	d := Detail{Nav: preview.Nav("/ui/incidents")}
	if !cursorID.MatchString(id) {
		return d, fmt.Errorf("incident %q: %w", id, ErrNotFound)
	}
	inc, err := st.Incident(ctx, id)
	if errors.Is(err, store.ErrNoIncident) {
		return d, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("incident %s: %w", id, err)
	}
	r, g, err := row(ctx, st, cfg, inc)
	if err != nil {
		return d, err
	}
	d.Found, d.Row, d.GroupID = true, r, inc.GroupID
	if g != nil {
		for i, a := range g.Alerts {
			if i == maxAlerts {
				d.AlertsOmitted = len(g.Alerts) - maxAlerts
				break
			}
			d.AlertList = append(d.AlertList, alertOf(cfg, inc, a))
		}
	}
	if s := inc.Silence; s != nil {
		d.SilenceKind, d.SilenceLink = s.Kind, s.Link
		if s.For > 0 {
			d.SilenceFor = model.Duration(s.For).String()
		}
		d.SilenceUntil = when(cfg, s.Until)
		for _, h := range s.Held {
			state := "生效中"
			switch {
			case h.Done:
				state = "已结束"
			case h.Expire:
				state = "待解除"
			}
			d.Silences = append(d.Silences, Silence{ID: h.ID, EndsAt: when(cfg, h.EndsAt), State: state})
		}
	}
	tl, err := st.Timeline(ctx, inc.ID)
	if err != nil {
		return d, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	d.EventCount = len(tl)
	if len(tl) > maxEvents {
		d.TimelineOmitted = len(tl) - maxEvents
		tl = tl[len(tl)-maxEvents:]
	}
	d.Timeline = events(cfg, tl)
	return d, nil
}

// NotFound is the detail page for an id the store does not have.
func NotFound() Detail {
	return Detail{Nav: preview.Nav("/ui/incidents"), Msg: "没有这个告警事件：编号不对，或它已恢复多日、已被清理。"}
}

var stateText = map[incident.State]string{
	incident.Firing:   "触发中",
	incident.Acked:    "已确认",
	incident.Resolved: "已恢复",
}

var viaText = map[incident.Via]string{
	incident.ViaCard: "卡片按钮",
	incident.ViaPage: "确认页面",
	incident.ViaChat: "聊天命令",
}

var resolvedByText = map[string]string{
	incident.BySource: "来源发来恢复通知",
	incident.ByRelay:  "relay 轮询发现告警已消失",
}

// row reads what the list shows of inc: its latest card's group besides
// the incident itself. The group is nil when that card is gone.
func row(ctx context.Context, st Store, cfg *config.Config, inc incident.Incident) (Row, *alert.Group, error) {
	r := Row{
		ID: inc.ID, ShortID: render.ShortID(inc.GroupID), Href: "/ui/incidents/" + url.PathEscape(inc.ID),
		State: string(inc.State), StateText: stateText[inc.State],
		Receiver: inc.Receiver, Source: inc.Source, Occurrence: inc.Occurrence,
		Firing: len(inc.Firing()), Alerts: len(inc.Alerts),
		OpenedAt: when(cfg, inc.OpenedAt), UpdatedAt: when(cfg, inc.UpdatedAt),
		ResolvedAt: when(cfg, inc.ResolvedAt), ResolvedBy: resolvedByText[inc.ResolvedBy],
	}
	if r.StateText == "" {
		r.StateText = string(inc.State)
	}
	if r.ResolvedBy == "" {
		r.ResolvedBy = inc.ResolvedBy
	}
	if k := inc.Ack; k != nil {
		via := viaText[k.Via]
		if via == "" {
			via = string(k.Via)
		}
		r.Ack = &Ack{By: k.By, Via: via, At: when(cfg, k.At), Alerts: len(k.Alerts)}
		if k.OpenID != k.By {
			r.Ack.OpenID = k.OpenID
		}
	}
	if s := inc.Silence; s != nil {
		if live := s.Live(); len(live) > 0 {
			r.Silence = fmt.Sprintf("静默至 %s（%d 个）", when(cfg, s.Until), len(live))
		}
		r.SilenceError = s.Error
	}
	n, err := st.Get(ctx, inc.LastCard)
	if errors.Is(err, store.ErrNotFound) {
		r.Title = "（最近的卡片已清理）"
		return r, nil, nil
	}
	if err != nil {
		return r, nil, fmt.Errorf("incident %s: latest card: %w", inc.ID, err)
	}
	d, err := relay.DecodeGroup(n.Group)
	if err != nil {
		return r, nil, fmt.Errorf("incident %s: latest card %s: %w", inc.ID, n.ID, err)
	}
	g := d.Group
	r.Known, r.Title = true, ack.GroupName(g)
	for _, p := range g.GroupLabels.SortedPairs() {
		if p.Value != "" { // an empty label is no label
			r.Labels = append(r.Labels, Pair{Name: p.Name, Value: p.Value})
		}
	}
	switch rc := d.Receiver(cfg, inc.Receiver); {
	case rc.AllSubscribers:
		r.Recipients = "全部订阅用户"
	case rc.Schedule != "" && len(rc.OpenIDs) == 0:
		r.Recipients = "值班表 " + rc.Schedule + " 的值班人员"
	case rc.Schedule != "":
		r.Recipients = fmt.Sprintf("%d 人及值班表 %s 的值班人员", len(rc.OpenIDs), rc.Schedule)
	default:
		r.Recipients = fmt.Sprintf("%d 人", len(rc.OpenIDs))
	}
	return r, g, nil
}

func alertOf(cfg *config.Config, inc incident.Incident, a alert.Alert) Alert {
	out := Alert{Summary: summary(a), Firing: a.Status == alert.StatusFiring, Since: when(cfg, a.StartsAt)}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if a.Labels[k] != "" {
			out.Labels = append(out.Labels, Pair{Name: k, Value: a.Labels[k]})
		}
	}
	if inc.Ack != nil && out.Firing {
		ref := incident.Refs(alert.Alerts{a})[0]
		out.Acked = slices.ContainsFunc(inc.Ack.Alerts, ref.Same)
	}
	return out
}

func summary(a alert.Alert) string {
	for _, v := range []string{a.Annotations["summary"], a.Annotations["message"], a.Labels["alertname"]} {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return "告警"
}

func events(cfg *config.Config, tl []incident.Event) []Event {
	out := make([]Event, 0, len(tl))
	for _, e := range tl {
		out = append(out, Event{At: when(cfg, e.At), Kind: e.Kind, What: chat.EventText(e)})
	}
	return out
}

// when is t in the configured zone, "" when zero.
func when(cfg *config.Config, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ack.FormatTime(cfg, t)
}
