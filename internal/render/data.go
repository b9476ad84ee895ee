package render

import (
	"strings"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
)

// Data is what card templates see. It embeds the group, so Alertmanager's
// vocabulary works unchanged: .Status, .Alerts, .Alerts.Firing,
// .GroupLabels.SortedPairs, .CommonLabels.Remove, .CommonAnnotations,
// .ExternalURL, and Grafana's .Title, .Message and .State beside them.
//
// .Status is normalised: "firing" when any alert fires, "resolved" when all
// are resolved, whatever the sender said, so that the words always match the
// header colour. .Receiver is the relay's receiver (it prints as its name);
// the sender's receiver name is .Group.Receiver.
type Data struct {
	*alert.Group

	// Receiver is the relay receiver the card goes to.
	Receiver Receiver
	// Ack is set when someone acknowledged the group.
	Ack *AckInfo
	// Escalation is set on a card an escalation step pages; the relay
	// puts its banner above the body. Mentions are the people the card
	// names (below the body).
	Escalation *EscalationInfo
	Mentions   []Mention
	// Shown are the alerts to list, firing first, at most max_alerts.
	Shown alert.Alerts
	// Omitted counts the alerts not listed, the sender's truncated ones
	// included.
	Omitted int
	// StartsAt is when the group's earliest alert started (zero if none
	// says); EndsAt is when its last alert ended, once all are resolved.
	StartsAt time.Time
	EndsAt   time.Time
	// AckURL is the relay's ack page for this card (external_url +
	// "/ack/" + token) when the card offers an ack; RelayURL is the relay's
	// external_url.
	AckURL   string
	RelayURL string
	// GroupID identifies the group for acks, and ShortID is its short
	// form that chat commands take ("ack a1b2c3"); both are empty when
	// acks are off.
	GroupID string
	ShortID string
	// Severity is the group's severity label, or the most severe of its
	// (firing) alerts' when they differ; empty when none says.
	Severity string

	// Set while the body renders: the link labels, and the link kinds
	// each alert shows itself (AlertData.Links) because the listed alerts'
	// links differ.
	linkLabels map[string]string
	perAlert   []string
	// alertAck says each alert's own ack state (Input.AlertAck).
	alertAck func(*alert.Alert) AlertAck
}

// CommonExtraAnnotations renders the annotations all alerts share other
// than summary, description and runbook_url, for the top of the card
// (mdAnnotations: bounded, escaped, one line each).
func (d *Data) CommonExtraAnnotations() string {
	skip := ""
	if d.CommonAnnotations["summary"] == "" {
		skip = "message" // the alerts' heading says it
	}
	return mdAnnotations(d.CommonAnnotations, nil, skip)
}

// AlertData is one alert for a per-alert template such as mind.alert: the
// alert's own fields (.Labels, .Annotations, .StartsAt, Grafana's .Values…)
// and the whole card's data as .Root.
type AlertData struct {
	alert.Alert
	Root *Data
	// AckState is the alert's own ack state on a card whose ack covers
	// only some of its firing alerts (the card is red): acknowledged
	// (.Ack), new or of a raised severity. The zero value elsewhere.
	AckState AlertAck
}

// ForAlert pairs an alert with the card's data, for
// {{ template "mind.alert" ($.ForAlert .) }}.
func (d *Data) ForAlert(a alert.Alert) AlertData {
	ad := AlertData{Alert: a, Root: d}
	if d.alertAck != nil {
		ad.AckState = d.alertAck(&a)
		ad.AckState.Ack = namedAck(ad.AckState.Ack)
	}
	return ad
}

// summary is what the alert says it is about: its summary annotation, or
// message, which older rules use instead.
func (a AlertData) summary() (key, text string) {
	if s := a.Annotations["summary"]; strings.TrimSpace(s) != "" {
		return "summary", s
	}
	if s := a.Annotations["message"]; strings.TrimSpace(s) != "" {
		return "message", s
	}
	return "", ""
}

// Heading is the alert's first line, as markdown (escaped, one line, at
// most 150 characters): its summary, or its alertname. When several alerts
// are listed and they share the summary, the top of the card says it once
// and each alert is headed by what sets it apart, its own labels
// (LabelLine).
func (a AlertData) Heading() string {
	key, text := a.summary()
	if key != "" && len(a.Root.Shown) > 1 && a.Root.CommonAnnotations[key] == text {
		if l := a.LabelLine(); l != "" {
			return l
		}
		text = ""
	}
	if text == "" {
		text = a.Labels["alertname"]
	}
	if strings.TrimSpace(text) == "" {
		text = "告警"
	}
	return mdEscape(oneLine(truncate(150, text)))
}

// LabelLine renders the alert's labels that the card does not show
// already: not severity, and not those all alerts share (mdLabels).
func (a AlertData) LabelLine() string {
	return mdLabelsExcept(a.Labels, a.Root.CommonLabels, "severity")
}

// ExtraAnnotations renders the alert's annotations other than summary,
// description and runbook_url, and other than those the top of the card
// shows when several alerts are listed (mdAnnotations).
func (a AlertData) ExtraAnnotations() string {
	var common amtemplate.KV
	if len(a.Root.Shown) > 1 {
		common = a.Root.CommonAnnotations
	}
	skip := ""
	if key, _ := a.summary(); key == "message" {
		skip = "message" // the heading says it
	}
	return mdAnnotations(a.Annotations, common, skip)
}

// Link is a link of one alert, shown with the alert.
type Link struct {
	Kind  string // source, runbook, dashboard, silence or panel
	Label string
	URL   string
}

// Links are the alert's own links when the listed alerts' links differ
// (a Grafana group of several rules: each its rule and its silence), in
// button order, labelled as the buttons would be; empty when the card's
// buttons carry them.
func (a AlertData) Links() []Link {
	var out []Link
	for _, kind := range a.Root.perAlert {
		label := a.Root.linkLabels[kind]
		if label == "" {
			continue
		}
		if u := alertLink(&a.Alert, kind); u != "" {
			out = append(out, Link{Kind: kind, Label: label, URL: u})
		}
	}
	return out
}

// Receiver is the relay receiver a card is for, as templates see it.
type Receiver struct {
	Name      string
	Template  string
	MaxAlerts int
}

// String returns the name, so that {{ .Receiver }} prints it as in
// Alertmanager's templates.
func (r Receiver) String() string { return r.Name }

func receiverOf(r *config.Receiver) Receiver {
	if r == nil {
		return Receiver{}
	}
	return Receiver{Name: r.Name, Template: r.Template, MaxAlerts: r.MaxAlerts}
}

// firingFirst returns the alerts with the firing ones first, each part in
// the sender's order.
func firingFirst(as alert.Alerts) alert.Alerts {
	out := make(alert.Alerts, 0, len(as))
	out = append(out, as.Firing()...)
	for _, a := range as {
		if a.Status != alert.StatusFiring {
			out = append(out, a)
		}
	}
	return out
}

// newData builds the template data for g with every alert shown; callers
// narrow it with show.
func newData(g *alert.Group, rcv Receiver, ack *AckInfo, relayURL string) *Data {
	gc := *g
	gc.Status = groupStatus(g)
	d := &Data{Group: &gc, Receiver: rcv, RelayURL: relayURL}
	if ack != nil {
		a := *ack
		if a.By == "" {
			a.By = a.ByOpenID
		}
		if a.By == "" {
			a.By = "未知用户"
		}
		d.Ack = &a
	}
	allResolved := len(g.Alerts) > 0
	for _, a := range g.Alerts {
		if !a.StartsAt.IsZero() && (d.StartsAt.IsZero() || a.StartsAt.Before(d.StartsAt)) {
			d.StartsAt = a.StartsAt
		}
		if a.Status != alert.StatusResolved {
			allResolved = false
		} else if a.EndsAt.After(d.EndsAt) {
			d.EndsAt = a.EndsAt
		}
	}
	if !allResolved {
		d.EndsAt = time.Time{}
	}
	d.Severity = groupSeverity(&gc)
	return d
}

// namedAck is a copy of ack that names who acknowledged as newData does:
// the nickname, else the open_id, else 未知用户; nil for nil.
func namedAck(ack *AckInfo) *AckInfo {
	if ack == nil {
		return nil
	}
	a := *ack
	if a.By == "" {
		a.By = a.ByOpenID
	}
	if a.By == "" {
		a.By = "未知用户"
	}
	return &a
}

// groupSeverity is the common severity label, else the most severe one of
// the firing alerts (of all alerts once resolved), the first of equals.
func groupSeverity(g *alert.Group) string {
	if s := strings.TrimSpace(g.CommonLabels["severity"]); s != "" {
		return s
	}
	best, rank := "", -1
	for _, a := range g.Alerts {
		if g.Status == alert.StatusFiring && a.Status != alert.StatusFiring {
			continue
		}
		s := strings.TrimSpace(a.Labels["severity"])
		if s == "" {
			continue
		}
		if r := severityRank(s); r > rank {
			best, rank = s, r
		}
	}
	return best
}

// show lists the first n of ordered.
func (d *Data) show(ordered alert.Alerts, n int) {
	n = max(0, min(n, len(ordered)))
	d.Shown = ordered[:n:n]
	d.Omitted = len(ordered) - n + int(min(d.TruncatedAlerts, 1<<31))
}

// groupStatus is "firing" when any alert fires, "resolved" when all are
// resolved, and the sender's word for a group without alerts.
func groupStatus(g *alert.Group) string {
	if len(g.Alerts) == 0 {
		if g.Status == "" {
			return alert.StatusFiring
		}
		return g.Status
	}
	for _, a := range g.Alerts {
		if a.Status == alert.StatusFiring {
			return alert.StatusFiring
		}
	}
	for _, a := range g.Alerts {
		if a.Status != alert.StatusResolved {
			// An unknown status is treated as firing: better a red card
			// than a green one that hides trouble.
			return alert.StatusFiring
		}
	}
	return alert.StatusResolved
}
