package ack

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Results of an ack attempt (mind_relay_acks_total{result}).
const (
	ResultAcked        = "acked"
	ResultAlreadyAcked = "already_acked"
	ResultUnacked      = "unacked"
	ResultNotAcked     = "not_acked" // unack of a group nobody acknowledged
	ResultResolved     = "resolved"  // ack of a group no longer firing
	ResultInvalidToken = "invalid_token"
	ResultExpiredToken = "expired_token"
	ResultUnknownGroup = "unknown_group"
	ResultError        = "error"
	// Events refused before any ack logic: for another Mind app, or a
	// chat message without the callback token.
	ResultWrongApp        = "wrong_app"
	ResultUnauthenticated = "unauthenticated"
)

// Results of silence calls (mind_relay_silences_total{result}).
const (
	SilenceCreated  = "created"
	SilenceExtended = "extended"
	SilenceExpired  = "expired"
	SilenceFailed   = "failed"
)

type metrics struct {
	acks      *prometheus.CounterVec
	silences  *prometheus.CounterVec
	timeToAck prometheus.Histogram
	// acksByStep counts acks by the escalation step the incident had
	// reached ("0": before any step).
	acksByStep *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		acks: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_acks_total",
			Help: "Acknowledgement attempts (card clicks, ack pages, chat commands) by result.",
		}, []string{"result"}),
		silences: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_silences_total",
			Help: "Silences the ack loop made at the sources, by result: created, extended, expired, failed.",
		}, []string{"result"}),
		acksByStep: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_acks_by_escalation_step_total",
			Help: "Acknowledgements of incidents whose receiver has an escalation policy, by the step reached (0: before any).",
		}, []string{"step"}),
		timeToAck: promauto.With(reg).NewHistogram(prometheus.HistogramOpts{
			Name:    "mind_relay_time_to_ack_seconds",
			Help:    "Time from the first acknowledged alert's start to its acknowledgement.",
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400},
		}),
	}
	for _, r := range []string{ResultAcked, ResultAlreadyAcked, ResultUnacked, ResultNotAcked, ResultResolved,
		ResultInvalidToken, ResultExpiredToken, ResultUnknownGroup, ResultError} {
		m.acks.WithLabelValues(r)
	}
	for _, r := range []string{SilenceCreated, SilenceExtended, SilenceExpired, SilenceFailed} {
		m.silences.WithLabelValues(r)
	}
	return m
}
