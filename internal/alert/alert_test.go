package alert

import (
	"testing"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"
)

func mk(fp string, labels map[string]string) Alert {
	return Alert{Alert: template.Alert{Fingerprint: fp, Labels: labels}}
}

func TestKey(t *testing.T) {
	require.Equal(t, "{}:{alertname=\"X\"}", (&Group{GroupKey: "{}:{alertname=\"X\"}"}).Key())
	require.Equal(t, "alertname=X", (&Group{GroupLabels: map[string]string{"alertname": "X"}}).Key())

	// No key and no group labels (a hand-made payload): two unrelated
	// groups must not share a key, or one would supersede the other.
	a := &Group{Alerts: Alerts{mk("aaa", nil), mk("bbb", nil)}}
	b := &Group{Alerts: Alerts{mk("ccc", nil)}}
	require.NotEqual(t, a.Key(), b.Key())
	require.Equal(t, a.Key(), (&Group{Alerts: Alerts{mk("bbb", nil), mk("aaa", nil)}}).Key(), "order does not matter")
	c := &Group{Alerts: Alerts{mk("", map[string]string{"alertname": "Y"})}}
	d := &Group{Alerts: Alerts{mk("", map[string]string{"alertname": "Z"})}}
	require.NotEqual(t, c.Key(), d.Key(), "labels stand in for a missing fingerprint")
}

func TestGroupIDSeparatesReceiversAndSources(t *testing.T) {
	require.NotEqual(t, GroupID(SourceAlertmanager, "k", "a"), GroupID(SourceAlertmanager, "k", "b"))
	require.NotEqual(t, GroupID(SourceAlertmanager, "k", "a"), GroupID(SourceGrafana, "k", "a"))
	require.Len(t, GroupID(SourceAlertmanager, "k", "a"), 16)
}

func TestFiringResolved(t *testing.T) {
	as := Alerts{{Alert: template.Alert{Status: StatusFiring}}, {Alert: template.Alert{Status: StatusResolved}}, {Alert: template.Alert{Status: StatusFiring}}}
	require.Len(t, as.Firing(), 2)
	require.Len(t, as.Resolved(), 1)
}
