// Package ingest is the relay's HTTP surface: the webhook endpoints senders
// post to, Mind's callback, the ack pages, health, reload, metrics and the
// admin API. Handlers are thin: they authenticate, bind, call the domain
// and turn its errors into status codes. It is the only package that
// imports gin.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/store"
)

// DLQ is the dead-letter side of the delivery queue.
type DLQ interface {
	ListDead(ctx context.Context) ([]store.Notification, error)
	Replay(ctx context.Context, ids ...string) (int, error)
}

// Deps are what the handlers need.
type Deps struct {
	Relay    *relay.Relay
	Gatherer prometheus.Gatherer
	// Ready reports whether the relay can accept work (config loaded, store
	// writable).
	Ready func(ctx context.Context) error
	// Reload re-reads the config file; a bad file keeps the old config. It
	// returns the changed keys it did not apply because they need a
	// restart.
	Reload func(ctx context.Context) (restartNeeded []string, err error)
	DLQ    DLQ
	// Extra lets later features (Mind callbacks, ack pages) add routes.
	Extra  []func(*gin.Engine)
	Logger *slog.Logger
}

// Server holds the handlers and their metrics.
type Server struct {
	deps     Deps
	log      *slog.Logger
	webhooks *prometheus.CounterVec
	authFail *prometheus.CounterVec
	slots    map[string]*webhookSlots // one pool per source
}

// New builds the HTTP handler.
func New(deps Deps, reg prometheus.Registerer) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		deps: deps,
		log:  deps.Logger,
		webhooks: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "mind_relay_webhooks_received_total",
			Help: "Webhook requests received, by source and HTTP status code answered.",
		}, []string{"source", "code"}),
		authFail: authFailures(reg),
	}
	inFlight := promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Name: "mind_relay_webhooks_in_flight",
		Help: "Webhooks being processed now, by source (at most sources.max_in_flight each; more wait a second, then are answered 503).",
	}, []string{"source"})
	s.slots = map[string]*webhookSlots{
		sourceAlertmanager: newWebhookSlots(inFlight.WithLabelValues(sourceAlertmanager)),
		sourceGrafana:      newWebhookSlots(inFlight.WithLabelValues(sourceGrafana)),
	}
	e := gin.New()
	e.Use(s.recovery)
	e.HandleMethodNotAllowed = true
	e.NoRoute(func(c *gin.Context) { s.fail(c, errNotFound) })
	e.NoMethod(func(c *gin.Context) { s.fail(c, errMethod) })

	// A webhook is authenticated by its headers before it may wait for a
	// slot, so that nobody without credentials can hold the slots; each
	// source has slots of its own, so a source whose only auth is the HMAC
	// of its body (checked once the body is read) cannot be used to block
	// the other.
	for _, src := range []string{sourceAlertmanager, sourceGrafana} {
		chain := []gin.HandlerFunc{s.count(src), s.authenticate(src), s.limitWebhooks(src), s.webhook(src)}
		e.POST("/webhook/"+src, chain...)
		e.POST("/webhook/"+src+"/:receiver", chain...)
		if src == sourceGrafana {
			// Grafana's webhook contact point may be set to send with PUT.
			e.PUT("/webhook/"+src, chain...)
			e.PUT("/webhook/"+src+"/:receiver", chain...)
		}
	}

	e.GET("/-/healthy", s.healthy)
	e.HEAD("/-/healthy", s.healthy)
	e.GET("/-/ready", s.ready)
	e.HEAD("/-/ready", s.ready)
	e.POST("/-/reload", s.reload)
	e.PUT("/-/reload", s.reload)
	if deps.Gatherer != nil {
		h := promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{})
		e.GET("/metrics", gin.WrapH(h))
	}
	api := e.Group("/api/v1", s.requireAdmin)
	api.GET("/dlq", s.listDead)
	api.POST("/dlq/replay", s.replay)
	s.uiRoutes(e) // ui.go: the pages under /ui/

	for _, add := range deps.Extra {
		add(e)
	}
	return e
}

// count records the status code of every webhook request.
func (s *Server) count(source string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		s.webhooks.WithLabelValues(source, strconv.Itoa(c.Writer.Status())).Inc()
	}
}

// recovery turns a panic in a handler into a 500 for that one request; the
// process and every other request carry on.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.log.Error("handler panicked", "path", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				s.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "internal error"})
			}
			c.Abort()
		}
	}()
	c.Next()
}

// authFailures returns mind_relay_auth_failures_total on reg: registered
// by the first caller (New or AckRoutes), shared by the other.
func authFailures(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mind_relay_auth_failures_total",
		Help: "Requests refused for failing authentication, by endpoint kind.",
	}, []string{"endpoint"})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}
