package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind/event"
)

// CallbackTokenHeader carries mind.callback_token on POST /mind/callback;
// ?token= in the URL works too, since Mind's console only takes a URL.
const CallbackTokenHeader = "X-Relay-Callback-Token"

// maxCallbackBytes caps a Mind event; real ones are a few KiB.
const maxCallbackBytes = 1 << 20

// AckLoop is the ack loop as its endpoints see it (ack.Service).
type AckLoop interface {
	HandleEvent(ctx context.Context, body []byte, authenticated bool) (ack.Reply, error)
	ViewPage(ctx context.Context, tok string) (ack.View, error)
	AckByPage(ctx context.Context, tok, name string) (ack.View, error)
	ViewDigest(ctx context.Context, tok string) (ack.DigestView, error)
	AckDigest(ctx context.Context, tok, name string, cards []string) (ack.DigestView, error)
}

var _ AckLoop = (*ack.Service)(nil)

// AckDeps are what the ack loop's endpoints need.
type AckDeps struct {
	Acks AckLoop
	// Config is the live configuration (mind.callback_token).
	Config func() *config.Config
	Logger *slog.Logger
	// Registerer is the registry ingest.New registered its metrics on;
	// callback auth failures join mind_relay_auth_failures_total there.
	Registerer prometheus.Registerer
}

type ackHandlers struct {
	*Server // for fail: the one place errors become responses
	acks    AckLoop
	cfg     func() *config.Config
	log     *slog.Logger
}

// AckRoutes returns the routes of the ack loop — POST /mind/callback,
// GET and POST /ack/{token} — for Deps.Extra.
func AckRoutes(d AckDeps) func(*gin.Engine) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return func(e *gin.Engine) {
		h := &ackHandlers{
			Server: &Server{log: d.Logger, authFail: authFailures(d.Registerer)},
			acks:   d.Acks,
			cfg:    d.Config,
			log:    d.Logger,
		}
		e.POST("/mind/callback", h.callback)
		e.GET("/ack/:token", h.viewPage)
		e.HEAD("/ack/:token", h.viewPage)
		e.POST("/ack/:token", h.ackPage)
		e.GET("/digest/:token", h.viewDigest)
		e.HEAD("/digest/:token", h.viewDigest)
		e.POST("/digest/:token", h.ackDigest)
	}
}

// callback takes Mind's events: card clicks and messages to the robot.
// With mind.callback_token set, the request must carry it (header or
// ?token=), compared in constant time; else 401 and nothing is read.
// Every well-formed event is answered 200 with what was done (a click that
// acted: the updated card); a body that is no Mind event gets 400.
func (h *ackHandlers) callback(c *gin.Context) {
	want := h.cfg().Mind.CallbackToken.Value()
	if want != "" {
		got := c.GetHeader(CallbackTokenHeader)
		if got == "" {
			got = c.Query("token")
		}
		if !secretEqual(got, want) {
			h.authFail.WithLabelValues("mind_callback").Inc()
			why := errBadCredentials
			if got == "" {
				why = &Error{Status: http.StatusUnauthorized, Msg: "no callback token"}
			}
			h.fail(c, &Error{Status: http.StatusUnauthorized, Msg: "unauthorized", Err: why})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCallbackBytes))
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.fail(c, &Error{Status: http.StatusRequestEntityTooLarge, Msg: "event larger than 1 MiB", Err: mbe})
			return
		}
		h.fail(c, &Error{Status: http.StatusBadRequest, Msg: "could not read the request body", Err: err})
		return
	}
	reply, err := h.acks.HandleEvent(c.Request.Context(), body, want != "")
	switch {
	case errors.Is(err, event.ErrNotEvent):
		h.fail(c, &Error{Status: http.StatusBadRequest, Msg: err.Error(), Err: err})
		return
	case err != nil:
		h.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "cannot handle the event now", Err: err})
		return
	}
	if reply.Card != nil {
		c.JSON(http.StatusOK, reply.Card)
		return
	}
	c.JSON(http.StatusOK, reply)
}
