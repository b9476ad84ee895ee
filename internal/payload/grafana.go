package payload

import (
	"encoding/json"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// GrafanaVersion is the payload version of Grafana's unified-alerting
// webhook contact point.
const GrafanaVersion = "1"

// amMessage lets grafanaMessage embed Alertmanager's message beside
// Grafana's own "message" field.
type amMessage = webhook.Message

// grafanaMessage is Grafana's webhook body: Alertmanager's message with
// Grafana's extras. Alerts shadows the embedded template.Data's, so that
// each alert keeps its extras.
type grafanaMessage struct {
	amMessage
	Alerts  []grafanaAlert `json:"alerts"`
	OrgID   int64          `json:"orgId"`
	Title   string         `json:"title"`
	State   string         `json:"state"`
	Message string         `json:"message"`
}

type grafanaAlert struct {
	Status       string             `json:"status"`
	Labels       map[string]string  `json:"labels"`
	Annotations  map[string]string  `json:"annotations"`
	StartsAt     time.Time          `json:"startsAt"`
	EndsAt       time.Time          `json:"endsAt"`
	GeneratorURL string             `json:"generatorURL"`
	Fingerprint  string             `json:"fingerprint"`
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	ImageURL     string             `json:"imageURL"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
	OrgID        int64              `json:"orgId"`
}

// legacyProbe spots the pre-Grafana-11 (legacy dashboard alerting) body.
type legacyProbe struct {
	RuleName    *string          `json:"ruleName"`
	EvalMatches *json.RawMessage `json:"evalMatches"`
	Version     *string          `json:"version"`
}

// ParseGrafana reads a Grafana unified-alerting webhook (version "1"). A
// body with version "4" (Grafana's Alertmanager-compatible mode) is read as
// an Alertmanager payload; the legacy format gets an error naming it.
func ParseGrafana(body []byte) (*alert.Group, []Skipped, error) {
	return parseGrafana(body, time.Now(), true)
}

func parseGrafana(body []byte, now time.Time, fast bool) (*alert.Group, []Skipped, error) {
	if fast {
		if m, ok := decodeFast(body, true); ok && m.hasAlerts {
			switch m.version {
			case GrafanaVersion:
				return checked(m.group(alert.SourceGrafana), now)
			case AlertmanagerVersion:
				return asGrafana(parseAlertmanager(body, now, fast))
			}
		}
	}
	var probe legacyProbe
	if err := decodeJSON(body, &probe); err != nil {
		return nil, nil, err
	}
	if probe.Version == nil && (probe.RuleName != nil || probe.EvalMatches != nil) {
		return nil, nil, badf("this is Grafana's legacy (pre-Grafana 11) dashboard alert webhook, with ruleName/evalMatches; " +
			"the relay reads unified alerting's webhook: use a Grafana unified-alerting webhook contact point")
	}
	if probe.Version != nil && *probe.Version == AlertmanagerVersion {
		return asGrafana(parseAlertmanager(body, now, fast))
	}
	var msg grafanaMessage
	if err := decodeJSON(body, &msg); err != nil {
		return nil, nil, err
	}
	switch {
	case msg.Version == "":
		return nil, nil, badf(`payload has no "version": the relay reads Grafana's unified-alerting webhook (version "1")`)
	case msg.Version != GrafanaVersion:
		return nil, nil, badf(`payload version %q is not supported: Grafana's unified-alerting webhook is version "1" (or "4" in Alertmanager-compatible mode)`, msg.Version)
	case msg.Alerts == nil:
		return nil, nil, badf(`payload has no "alerts"`)
	}
	g := &alert.Group{
		Source:          alert.SourceGrafana,
		GroupKey:        msg.GroupKey,
		TruncatedAlerts: msg.TruncatedAlerts,
		OrgID:           msg.OrgID,
		Title:           msg.Title,
		State:           msg.State,
		Message:         msg.Message,
		Alerts:          make(alert.Alerts, 0, len(msg.Alerts)),
	}
	if msg.Data != nil {
		g.Receiver = msg.Receiver
		g.GroupLabels = msg.GroupLabels
		g.CommonLabels = msg.CommonLabels
		g.CommonAnnotations = msg.CommonAnnotations
		g.Status = msg.Status
		g.ExternalURL = msg.ExternalURL
	}
	for _, a := range msg.Alerts {
		var out alert.Alert
		out.Status = a.Status
		out.Labels = a.Labels
		out.Annotations = a.Annotations
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.StartsAt, out.EndsAt = a.StartsAt, a.EndsAt
		out.GeneratorURL, out.Fingerprint = a.GeneratorURL, a.Fingerprint
		out.SilenceURL, out.DashboardURL, out.PanelURL, out.ImageURL = a.SilenceURL, a.DashboardURL, a.PanelURL, a.ImageURL
		out.Values, out.ValueString, out.OrgID = a.Values, a.ValueString, a.OrgID
		g.Alerts = append(g.Alerts, out)
	}
	return checked(g, now)
}

// asGrafana marks a group read in Alertmanager's format as Grafana's.
func asGrafana(g *alert.Group, skipped []Skipped, err error) (*alert.Group, []Skipped, error) {
	if g != nil {
		g.Source = alert.SourceGrafana
	}
	return g, skipped, err
}

// group is the message as the relay's model.
func (m *fastMessage) group(src alert.Source) *alert.Group {
	return &alert.Group{
		Source:            src,
		Receiver:          m.receiver,
		Status:            m.status,
		Alerts:            m.alerts,
		GroupLabels:       m.groupLabels,
		CommonLabels:      m.commonLabels,
		CommonAnnotations: m.commonAnnotations,
		ExternalURL:       m.externalURL,
		GroupKey:          m.groupKey,
		TruncatedAlerts:   m.truncated,
		OrgID:             m.orgID,
		Title:             m.title,
		State:             m.state,
		Message:           m.message,
	}
}
