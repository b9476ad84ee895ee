// Package payload reads the webhook bodies senders post into the relay's
// alert model. It reads exactly what encoding/json reads into
// Alertmanager's own types — a fast path (fast.go) takes the bodies senders
// really post straight into the model and hands anything unusual to
// encoding/json — and reports problems in words a user can act on.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// Error is a payload the relay cannot read; the sender gets 400 and its
// message, since sending the same body again cannot help.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func badf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Skipped is an alert left out of a group because it could not be read;
// the rest of the group still goes through.
type Skipped struct {
	Index  int
	Reason string
}

// AlertmanagerVersion is the webhook payload version the relay reads.
const AlertmanagerVersion = "4"

// ParseAlertmanager reads an Alertmanager webhook (payload version 4).
func ParseAlertmanager(body []byte) (*alert.Group, []Skipped, error) {
	return parseAlertmanager(body, time.Now(), true)
}

// parseAlertmanager reads the body on the fast path when it can (see
// fast.go) and otherwise with encoding/json into Alertmanager's types.
func parseAlertmanager(body []byte, now time.Time, fast bool) (*alert.Group, []Skipped, error) {
	if fast {
		if m, ok := decodeFast(body, false); ok && m.version == AlertmanagerVersion && m.hasAlerts {
			return checked(m.group(alert.SourceAlertmanager), now)
		}
	}
	var msg webhook.Message
	if err := decodeJSON(body, &msg); err != nil {
		return nil, nil, err
	}
	if msg.Version != AlertmanagerVersion {
		if msg.Version == "" {
			return nil, nil, badf(`payload has no "version": the relay reads Alertmanager webhook payloads (version "4")`)
		}
		if msg.Version == GrafanaVersion {
			return nil, nil, badf(`payload version %q is not supported: the relay reads Alertmanager webhook payloads (version "4") here; `+
				`version "1" is Grafana's unified-alerting webhook: point the contact point at /webhook/grafana (or /webhook/grafana/<receiver>) instead`, msg.Version)
		}
		return nil, nil, badf(`payload version %q is not supported: the relay reads Alertmanager webhook payloads (version "4")`, msg.Version)
	}
	if msg.Data == nil || msg.Alerts == nil {
		return nil, nil, badf(`payload has no "alerts"`)
	}
	return checked(alert.FromTemplateData(alert.SourceAlertmanager, msg.Data, msg.GroupKey, msg.TruncatedAlerts), now)
}

// checked drops the alerts that cannot be read and refuses a group left
// without any.
func checked(g *alert.Group, now time.Time) (*alert.Group, []Skipped, error) {
	skipped := checkAlerts(g, now)
	if len(g.Alerts) == 0 {
		return nil, skipped, noAlerts(skipped)
	}
	return g, skipped, nil
}

func noAlerts(skipped []Skipped) error {
	if len(skipped) == 0 {
		return badf(`payload has no alerts: "alerts" is empty`)
	}
	reasons := make([]string, 0, len(skipped))
	for _, s := range skipped {
		reasons = append(reasons, fmt.Sprintf("alerts[%d]: %s", s.Index, s.Reason))
	}
	return badf("no alert in the payload can be read: %s", strings.Join(reasons, "; "))
}

// decodeJSON decodes one JSON value, naming the problem when it cannot.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badf("request body is empty: expected a JSON webhook payload")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badf("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return badf("field %q: JSON %s cannot be read as %s", jsonPath(te.Field), te.Value, te.Type)
		default:
			return &Error{Msg: "malformed JSON", Err: err}
		}
	}
	if dec.More() {
		return badf("malformed JSON: more than one value in the body")
	}
	return nil
}

// checkAlerts drops the alerts that cannot be shown or routed, and fills
// what a lenient reader can: a missing status from the end time, a missing
// group status from the alerts.
func checkAlerts(g *alert.Group, now time.Time) []Skipped {
	var skipped []Skipped
	kept := g.Alerts[:0]
	for i, a := range g.Alerts {
		if a.Status == "" {
			a.Status = alert.StatusFiring
			if !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
				a.Status = alert.StatusResolved
			}
		}
		switch {
		case a.Status != alert.StatusFiring && a.Status != alert.StatusResolved:
			skipped = append(skipped, Skipped{Index: i, Reason: fmt.Sprintf("status %q is not firing or resolved", a.Status)})
		case len(a.Labels) == 0:
			skipped = append(skipped, Skipped{Index: i, Reason: "alert has no labels"})
		default:
			kept = append(kept, a)
		}
	}
	g.Alerts = kept
	if g.Status != alert.StatusFiring && g.Status != alert.StatusResolved || len(skipped) > 0 {
		g.Status = alert.StatusResolved
		if len(g.Alerts.Firing()) > 0 {
			g.Status = alert.StatusFiring
		}
	}
	if g.CommonLabels == nil {
		g.CommonLabels = map[string]string{}
	}
	if g.CommonAnnotations == nil {
		g.CommonAnnotations = map[string]string{}
	}
	if g.GroupLabels == nil {
		g.GroupLabels = map[string]string{}
	}
	return skipped
}

// jsonPath drops the Go names of embedded structs (Data., amMessage.) from
// a decoder's field path, leaving the JSON path the sender knows.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for _, p := range parts {
		if p == "Data" || p == "amMessage" || p == "Message" {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}
