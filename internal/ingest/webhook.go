package ingest

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/payload"
)

const (
	sourceAlertmanager = string(alert.SourceAlertmanager)
	sourceGrafana      = string(alert.SourceGrafana)
)

// sourceConfig returns the live settings of a source.
func (s *Server) sourceConfig(source string) config.SourceConfig {
	cfg := s.deps.Relay.State().Config
	if source == sourceGrafana {
		return cfg.Sources.Grafana
	}
	return cfg.Sources.Alertmanager
}

// authenticate refuses a webhook that fails the source's header auth
// (bearer or basic), before it may wait for a slot or have its body read.
func (s *Server) authenticate(source string) gin.HandlerFunc {
	return func(c *gin.Context) {
		sc := s.sourceConfig(source)
		if err := checkAuth(c.Request, sc); err != nil {
			s.authFail.WithLabelValues("webhook_" + source).Inc()
			c.Header("WWW-Authenticate", challenge(sc))
			s.fail(c, err)
			return
		}
		c.Next()
	}
}

// readBody reads the body of a request authenticate let through, within
// the source's size limit, and checks its HMAC when one is configured.
func (s *Server) readBody(c *gin.Context, source string) ([]byte, config.SourceConfig, error) {
	sc := s.sourceConfig(source)
	body, err := readAll(http.MaxBytesReader(c.Writer, c.Request.Body, sc.MaxBodyBytes), c.Request.ContentLength, sc.MaxBodyBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, sc, err
		}
		return nil, sc, &Error{Status: http.StatusBadRequest, Msg: "could not read the request body", Err: err}
	}
	// The signature covers the raw bytes: check it before parsing anything.
	if sc.HMAC != nil {
		if err := checkHMAC(c.Request, body, sc.HMAC, time.Now()); err != nil {
			s.authFail.WithLabelValues("webhook_" + source).Inc()
			return nil, sc, err
		}
	}
	return body, sc, nil
}

// webhook returns the handler of a source's webhook endpoints.
func (s *Server) webhook(source string) gin.HandlerFunc {
	parse := payload.ParseAlertmanager
	if source == sourceGrafana {
		parse = payload.ParseGrafana
	}
	return func(c *gin.Context) {
		body, sc, err := s.readBody(c, source)
		if err != nil {
			s.fail(c, err)
			return
		}
		// Only the first max_alerts alerts are decoded (limit.go).
		body, dropped := truncateAlerts(body, sc.MaxAlerts)
		g, skipped, err := parse(body)
		if g != nil {
			g.TruncatedAlerts += dropped
			capAlerts(g, sc.MaxAlerts)
		}
		s.accept(c, source, g, skipped, err)
	}
}

// accept hands a parsed group to the relay and answers the sender.
func (s *Server) accept(c *gin.Context, source string, g *alert.Group, skipped []payload.Skipped, err error) {
	s.deps.Relay.CountInvalid(alert.Source(source), len(skipped))
	for _, sk := range skipped {
		s.log.Warn("alert skipped", "source", source, "index", sk.Index, "reason", sk.Reason)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	n, err := s.deps.Relay.Accept(c.Request.Context(), g, c.Param("receiver"))
	if err != nil {
		s.fail(c, err)
		return
	}
	resp := gin.H{"status": "accepted", "notifications": n}
	if len(skipped) > 0 {
		resp["skipped_alerts"] = len(skipped)
	}
	c.JSON(http.StatusOK, resp)
}
