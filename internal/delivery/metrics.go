package delivery

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

// Results of notifications_total.
const (
	resultDelivered    = "delivered"
	resultSuperseded   = "superseded"
	resultDeadLettered = "dead_lettered"
	resultDigested     = "digested"
)

// Store operations, the op label of store_errors_total.
const (
	opEnqueue       = "enqueue"
	opClaim         = "claim"
	opComplete      = "complete"
	opRecover       = "recover"
	opReplay        = "replay"
	opListDead      = "list_dead"
	opStats         = "stats"
	opPrune         = "prune"
	opNextDue       = "next_due"
	opCheckWritable = "check_writable"
	opFold          = "fold"
)

type metrics struct {
	queueDepth    prometheus.Gauge
	oldestAge     prometheus.Gauge
	deadLetters   prometheus.Gauge
	rateLimit     prometheus.Gauge
	paused        *prometheus.GaugeVec
	latency       prometheus.Histogram
	notifications *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	commitBatch   prometheus.Histogram
	deduplicated  *prometheus.CounterVec
	digests       *prometheus.CounterVec
	// retries is shared with the Mind client's retry loop.
	retries prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		queueDepth: f.NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_queue_depth",
			Help: "Notifications waiting for Mind: pending and in flight.",
		}),
		oldestAge: f.NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_queue_oldest_age_seconds",
			Help: "Age of the oldest notification not yet delivered (0 when the queue is empty).",
		}),
		deadLetters: f.NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_dead_letters",
			Help: "Notifications in the dead-letter state, waiting for a replay.",
		}),
		rateLimit: f.NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_delivery_rate_limit",
			Help: "Requests per second the queue now allows towards Mind (lowered after rate-limited answers).",
		}),
		paused: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mind_relay_delivery_paused",
			Help: "1 while delivery to Mind is paused on a fault of the relay's setup, by reason: auth (Mind refuses the app credentials) or bad_response (base_url answers with something that is not Mind). Notifications are kept meanwhile.",
		}, []string{"reason"}),
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mind_relay_delivery_latency_seconds",
			Help:    "Time from accepting a notification (or replaying it) to Mind accepting it.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
		notifications: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_notifications_total",
			Help: "Notifications that left the queue, by receiver and result (delivered, superseded, dead_lettered, digested: folded into a digest card).",
		}, []string{"receiver", "result"}),
		storeErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_store_errors_total",
			Help: "Failed store operations, by operation.",
		}, []string{"op"}),
		commitBatch: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mind_relay_store_commit_notifications",
			Help:    "Notifications made durable per commit of accepted webhooks (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		deduplicated: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_webhooks_deduplicated_total",
			Help: "Notifications not queued, by receiver: a webhook identical in content was accepted within delivery.dedupe_window (high-availability Alertmanager peers each send it).",
		}, []string{"receiver"}),
		digests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_digests_total",
			Help: "Digest cards queued, by receiver: a flood of non-urgent cards (delivery.digest.after) folded into one.",
		}, []string{"receiver"}),
		retries: mind.NewMetrics(reg).Retries,
	}
	for _, r := range pausedReasons {
		m.paused.WithLabelValues(string(r)).Set(0)
	}
	for _, op := range []string{opEnqueue, opClaim, opComplete, opRecover, opReplay, opListDead, opStats, opPrune, opNextDue, opCheckWritable, opFold} {
		m.storeErrors.WithLabelValues(op)
	}
	return m
}

func (m *metrics) superseded(refs []store.Ref) {
	for _, r := range refs {
		m.notifications.WithLabelValues(r.Receiver, resultSuperseded).Inc()
	}
}
