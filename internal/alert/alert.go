// Package alert holds the relay's domain model: one notification group as a
// sender delivered it, in Alertmanager's template vocabulary, with the extras
// Grafana adds. Templates see this model whichever source the group came from.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// Source names the system that sent a group.
type Source string

// The sources the relay accepts.
const (
	SourceAlertmanager Source = "alertmanager"
	SourceGrafana      Source = "grafana"
)

// Statuses of an alert or a group, as Alertmanager spells them.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Alert is one alert. It embeds Alertmanager's template.Alert so that
// `.Labels`, `.Annotations`, `.StartsAt`, `.GeneratorURL` and `.Fingerprint`
// work in templates exactly as in Alertmanager; Grafana's extras sit beside
// them and are empty for Alertmanager alerts.
type Alert struct {
	template.Alert

	SilenceURL   string             `json:"silenceURL,omitempty"`
	DashboardURL string             `json:"dashboardURL,omitempty"`
	PanelURL     string             `json:"panelURL,omitempty"`
	ImageURL     string             `json:"imageURL,omitempty"`
	Values       map[string]float64 `json:"values,omitempty"`
	ValueString  string             `json:"valueString,omitempty"`
	OrgID        int64              `json:"orgId,omitempty"`
}

// Alerts is a list of alerts with Alertmanager's helpers.
type Alerts []Alert

// Firing returns the firing alerts.
func (as Alerts) Firing() Alerts {
	return as.withStatus(StatusFiring)
}

// Resolved returns the resolved alerts.
func (as Alerts) Resolved() Alerts {
	return as.withStatus(StatusResolved)
}

func (as Alerts) withStatus(status string) Alerts {
	out := make(Alerts, 0, len(as))
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// Fingerprints returns the alerts' fingerprints, sorted.
func (as Alerts) Fingerprints() []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Fingerprint)
	}
	sort.Strings(out)
	return out
}

// Group is one notification as a sender delivered it: a group of alerts and
// the group's common data. Field names follow Alertmanager's template.Data so
// that users' existing template snippets work unchanged.
type Group struct {
	Source   Source `json:"source"`
	Receiver string `json:"receiver"` // the sender's receiver name, not ours
	Status   string `json:"status"`
	Alerts   Alerts `json:"alerts"`

	GroupLabels       template.KV `json:"groupLabels"`
	CommonLabels      template.KV `json:"commonLabels"`
	CommonAnnotations template.KV `json:"commonAnnotations"`

	ExternalURL     string `json:"externalURL"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`

	// Grafana's extras; empty for Alertmanager.
	OrgID   int64  `json:"orgId,omitempty"`
	Title   string `json:"title,omitempty"`
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
}

// FromTemplateData converts Alertmanager's template data into a Group.
func FromTemplateData(src Source, d *template.Data, groupKey string, truncated uint64) *Group {
	g := &Group{
		Source:            src,
		Receiver:          d.Receiver,
		Status:            d.Status,
		GroupLabels:       d.GroupLabels,
		CommonLabels:      d.CommonLabels,
		CommonAnnotations: d.CommonAnnotations,
		ExternalURL:       d.ExternalURL,
		GroupKey:          groupKey,
		TruncatedAlerts:   truncated,
		Alerts:            make(Alerts, 0, len(d.Alerts)),
	}
	for _, a := range d.Alerts {
		g.Alerts = append(g.Alerts, Alert{Alert: a})
	}
	return g
}

// GroupID identifies an alert group as delivered to one of the relay's
// receivers: the same sender group sent to two receivers is two groups for
// ordering, coalescing and acknowledgement. It is stable across restarts.
func GroupID(src Source, groupKey, receiver string) string {
	h := sha256.New()
	h.Write([]byte(src))
	h.Write([]byte{0})
	h.Write([]byte(groupKey))
	h.Write([]byte{0})
	h.Write([]byte(receiver))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Key returns the group's key. When the sender gave none it is derived from
// the group labels, or, with none of those either (a hand-made payload),
// from the alerts themselves: two unrelated payloads must never share a key,
// or the newer would supersede the older before it was sent.
func (g *Group) Key() string {
	if g.GroupKey != "" {
		return g.GroupKey
	}
	if len(g.GroupLabels) > 0 {
		return g.GroupLabels.String()
	}
	ids := make([]string, 0, len(g.Alerts))
	for _, a := range g.Alerts {
		id := a.Fingerprint
		if id == "" {
			id = a.Labels.String()
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "alerts:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// Received stamps alerts that lack a start time; Grafana sends the zero time
// in some test payloads and a card should never say year 1.
func (g *Group) Received(now time.Time) {
	for i := range g.Alerts {
		if g.Alerts[i].StartsAt.IsZero() {
			g.Alerts[i].StartsAt = now
		}
	}
}
