// Package app wires the relay's parts into the commands of the binary:
// serve, check-config, render and dlq. cmd/relay turns flags and signals
// into these calls; nothing here touches os/signal, so tests run the whole
// relay in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/delivery"
	"github.com/mindoffice/mind-relay/internal/escalate"
	"github.com/mindoffice/mind-relay/internal/ingest"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/store"
)

// ServeOptions are the flags of `relay serve`.
type ServeOptions struct {
	ConfigFile string
	Listen     string // overrides the config's listen when set
	DryRun     bool
	// Registry receives every metric; cmd/relay adds the Go and process
	// collectors to it.
	Registry *prometheus.Registry
	// Reload receives a value for every SIGHUP.
	Reload <-chan struct{}
	// Logs is where logs go (stderr in the binary).
	Logs io.Writer
	// Ready, when set, receives the address the server listens on once it
	// accepts connections (tests listen on :0).
	Ready chan<- string
	// ShutdownTimeout bounds the graceful shutdown (default 30s).
	ShutdownTimeout time.Duration
}

// Serve runs the gateway until ctx is cancelled, then shuts down
// gracefully: the listener closes, requests in progress finish, deliveries
// in flight finish, the store closes.
func Serve(ctx context.Context, opts ServeOptions) error {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// The check check-config makes: serve starts on nothing it would refuse.
	cfg, err := Check(opts.ConfigFile, opts.DryRun)
	if err != nil {
		return err
	}
	logger := NewLogger(opts.Logs, cfg.LogLevel)
	// The flag wins over the file; the config keeps the file's value, which
	// reloads compare with.
	listen := cfg.Listen
	if opts.Listen != "" {
		listen = opts.Listen
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}

	mindMetrics := mind.NewMetrics(reg)
	sender, err := newSender(cfg, opts.DryRun, mindMetrics, logger)
	if err != nil {
		return err
	}
	st, err := buildState(cfg, reg, logger)
	if err != nil {
		return err
	}

	db, err := store.Open(ctx, store.OptionsFromConfig(cfg.Store))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("closing the store", "err", err)
		}
	}()
	logger.Info("store opened", "driver", cfg.Store.Driver, "path", cfg.Store.Path)

	// One direction of imports, no closures wired while nil: the live
	// state first; the cards the queue renders at send time read it and
	// the incidents in the store; the relay routes into the queue; the
	// ack loop acts on incidents through the store and wakes the queue.
	live := relay.NewLive(st)
	qopts := delivery.OptionsFromConfig(cfg.Delivery)
	qopts.Renderer = relay.NewCards(live, db, logger, reg).WithDigest(cfg.Delivery.Priority, cfg.Delivery.Digest.MaxGroups)
	queue := delivery.New(db, sender, qopts, reg, logger)
	rl := relay.New(live, relay.Options{Queue: queue, Logger: logger,
		Priority: cfg.Delivery.Priority, DedupeWindow: cfg.Delivery.Dedupe()}, reg)
	acks, err := ack.New(ack.Options{Store: db, Queue: queue, Live: live, Logger: logger}, reg)
	if err != nil {
		return err
	}
	timers, err := escalate.New(escalate.Options{Store: db, Queue: queue, Live: live, Unacker: acks, Logger: logger}, reg)
	if err != nil {
		return err
	}

	reloads := newReloader(opts.ConfigFile, opts.DryRun, cfg, reg, logger, func(c *config.Config) error {
		next, err := buildState(c, reg, logger)
		if err != nil {
			return err
		}
		s, err := newSender(c, opts.DryRun, mindMetrics, logger)
		if err != nil {
			return err
		}
		queue.SetSender(s)
		rl.Swap(next)
		return nil
	})

	deps := ingest.Deps{
		Relay:    rl,
		Gatherer: reg,
		Ready: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return queue.Ready(ctx) // not paused, store writable
		},
		Reload:    reloads.reload,
		DLQ:       queue,
		Incidents: db,
		Logger:    logger,
	}
	deps.Extra = append(deps.Extra, ingest.AckRoutes(ingest.AckDeps{
		Acks:       acks,
		Config:     func() *config.Config { return live.Load().Config },
		Logger:     logger,
		Registerer: reg,
	}))
	handler := ingest.New(deps, reg)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The queue outlives the HTTP server: it is stopped gracefully after
	// the server has stopped taking webhooks, so that what was accepted and
	// is in flight finishes.
	queueErr := make(chan error, 1)
	go func() { queueErr <- queue.Run(context.WithoutCancel(ctx)) }()

	ackCtx, stopAcks := context.WithCancel(context.WithoutCancel(ctx))
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		_ = acks.Run(ackCtx)
	}()
	timersDone := make(chan struct{})
	go func() {
		defer close(timersDone)
		_ = timers.Run(ackCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("mind-relay listening", "addr", ln.Addr().String(), "dry_run", opts.DryRun, "config", opts.ConfigFile)
	if opts.Ready != nil {
		opts.Ready <- ln.Addr().String()
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-opts.Reload:
			_, _ = reloads.reload(ctx)
		case err := <-serveErr:
			runErr = fmt.Errorf("http server: %w", err)
			break loop
		case err := <-queueErr:
			runErr = fmt.Errorf("delivery queue stopped: %w", err)
			queueErr = nil
			break loop
		}
	}

	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeoutCause(context.Background(), opts.ShutdownTimeout, errors.New("graceful shutdown took too long"))
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	// The ack loop stops before the queue it submits to; what it had not
	// finished is in the store and resumes on the next start.
	stopAcks()
	<-ackDone
	<-timersDone
	if err := queue.Stop(shutCtx); err != nil {
		logger.Warn("deliveries still in flight at shutdown; they resume on the next start", "err", err)
	}
	logger.Info("stopped")
	return runErr
}

// Check loads the config file for a relay that runs with or without
// --dry-run and compiles the template sets it names, so that it fails on
// every problem serve would fail on, all reported at once. serve, its
// reloads, check-config and render all go through it: check-config passes
// exactly what serve starts on.
func Check(path string, dryRun bool) (*config.Config, error) {
	return config.LoadFile(path, config.Options{DryRun: dryRun, Check: templateProblems})
}

// templateProblems compiles the templates a config names and checks that
// every receiver's template set exists.
func templateProblems(cfg *config.Config) config.Problems {
	r, err := render.New(renderOptions(cfg), nil, nil)
	if err != nil {
		return config.Problems{{Key: "templates.files", Msg: strings.TrimPrefix(err.Error(), "templates: ")}}
	}
	var ps config.Problems
	for i, rc := range cfg.Receivers {
		if rc != nil && !r.HasTemplate(rc.Template) {
			key := fmt.Sprintf("receivers[%d].template", i)
			ps = append(ps, config.Problem{Key: key, Cause: "templates.files",
				Msg: fmt.Sprintf("no template set %q (define %q in templates.files)", rc.Template, rc.Template+".title")})
		}
	}
	return ps
}

// buildState compiles everything a checked config needs before it goes
// live.
func buildState(cfg *config.Config, reg prometheus.Registerer, logger *slog.Logger) (*relay.State, error) {
	tree, err := route.Build(cfg.Route)
	if err != nil {
		return nil, err
	}
	r, err := render.New(renderOptions(cfg), reg, logger)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return &relay.State{Config: cfg, Tree: tree, Renderer: r}, nil
}

func renderOptions(cfg *config.Config) render.Options {
	return render.Options{
		Files:       cfg.Templates.Files,
		Location:    cfg.Location,
		ExternalURL: cfg.ExternalURL,
		AckSecret:   []byte(cfg.Ack.Secret.Value()),
		TokenTTL:    cfg.Ack.TokenTTL.D(),
		MaxAlerts:   cfg.Templates.MaxAlerts,
	}
}

func newSender(cfg *config.Config, dryRun bool, m *mind.Metrics, logger *slog.Logger) (mind.Sender, error) {
	if dryRun {
		return mind.NewDryRun(logger), nil
	}
	c, err := mind.NewClient(mind.ClientOptions{
		BaseURL:   cfg.Mind.BaseURL,
		AppID:     cfg.Mind.AppID,
		AppSecret: cfg.Mind.AppSecret.Value(),
		Timeout:   cfg.Mind.Timeout.D(),
		Metrics:   m,
	}, nil, logger)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// reloader re-reads the config file and swaps the new state in whole, or
// keeps the old one and says why. The keys the relay reads only at start
// (config.RestartKeys) are not applied: a reload that changes one says so.
type reloader struct {
	mu      sync.Mutex
	path    string
	dryRun  bool
	started *config.Config // what the start-only keys still are
	apply   func(*config.Config) error
	log     *slog.Logger
	success prometheus.Gauge
	when    prometheus.Gauge
}

func newReloader(path string, dryRun bool, started *config.Config, reg prometheus.Registerer, logger *slog.Logger, apply func(*config.Config) error) *reloader {
	r := &reloader{
		path:    path,
		dryRun:  dryRun,
		started: started,
		apply:   apply,
		log:     logger,
		success: promauto.With(reg).NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or failed (0).",
		}),
		when: promauto.With(reg).NewGauge(prometheus.GaugeOpts{
			Name: "mind_relay_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
	}
	r.success.Set(1)
	r.when.SetToCurrentTime()
	return r
}

// reload loads and applies the config file. It returns the changed keys
// that were not applied because they need a restart.
func (r *reloader) reload(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var notApplied []string
	err := func() error {
		cfg, err := Check(r.path, r.dryRun)
		if err != nil {
			return err
		}
		notApplied = config.NotApplied(r.started, cfg)
		return r.apply(cfg)
	}()
	if err != nil {
		r.success.Set(0)
		r.log.Error("config reload failed; the old config stays live", "config", r.path, "err", err)
		return nil, err
	}
	r.success.Set(1)
	r.when.SetToCurrentTime()
	if len(notApplied) > 0 {
		r.log.Warn("config reloaded; some changes are not applied, restart needed", "config", r.path, "restart_needed", notApplied)
		return notApplied, nil
	}
	r.log.Info("config reloaded", "config", r.path)
	return nil, nil
}

// NewLogger returns the JSON logger every part of the relay logs through.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
