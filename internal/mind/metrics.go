package mind

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome label value of a request Mind accepted; failures use their Reason.
const OutcomeSuccess = "success"

// Metrics are the Mind client's and the retry loop's metrics. Build them once
// per registry and hand the same value to every component that counts (the
// Client, the durable queue).
type Metrics struct {
	// Requests counts requests to Mind by endpoint label and outcome
	// ("success" or a Reason).
	Requests *prometheus.CounterVec
	// Duration observes the time of each request to Mind by endpoint label.
	Duration *prometheus.HistogramVec
	// Retries counts each decision of the durable queue to send a request
	// to Mind again.
	Retries prometheus.Counter
}

// NewMetrics builds the metrics and registers them on reg (none when reg is
// nil). Calling it again with the same registry does not register twice: it
// returns metrics backed by the collectors already there, so a Client
// rebuilt on a config reload keeps counting in the same series.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_mind_requests_total",
			Help: "Requests sent to Mind, by endpoint and outcome (success or the failure reason).",
		}, []string{"endpoint", "outcome"})),
		Duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mind_relay_mind_request_duration_seconds",
			Help:    "Time taken by requests to Mind, by endpoint.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint"})),
		Retries: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_delivery_retries_total",
			Help: "Times a request to Mind was scheduled to be sent again after a retryable failure.",
		})),
	}
	for _, ep := range []string{EndpointRobotMessage, EndpointSendMessage} {
		m.Requests.WithLabelValues(EndpointLabel(ep), OutcomeSuccess)
		m.Duration.WithLabelValues(EndpointLabel(ep))
	}
	return m
}

// register registers c on reg, or returns the equal collector reg already
// holds. Any other registration error is a programming error and panics, as
// promauto does.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *Metrics) observe(endpoint, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.Requests.WithLabelValues(endpoint, outcome).Inc()
	m.Duration.WithLabelValues(endpoint).Observe(seconds)
}
