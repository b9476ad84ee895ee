package ingest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/relay"
)

// Error is an error that carries the status code to answer with. Msg is
// shown to the client; Err is logged, never shown.
type Error struct {
	Status int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

var (
	errNotFound = &Error{Status: http.StatusNotFound, Msg: "no such endpoint"}
	errMethod   = &Error{Status: http.StatusMethodNotAllowed, Msg: "method not allowed"}
)

// fail writes err as a JSON {"error": "..."} with its status code. It is
// the one place errors become responses. The status codes are the contract
// with senders: 4xx means "do not send this again", 5xx means "try again".
func (s *Server) fail(c *gin.Context, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *Error
	var pe *payload.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status, msg = he.Status, he.Msg
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, "request body is larger than the limit of "+strconv.FormatInt(mbe.Limit, 10)+" bytes (sources.*.max_body_bytes)"
	case errors.As(err, &pe):
		status, msg = http.StatusBadRequest, pe.Error()
	case errors.Is(err, relay.ErrUnknownReceiver):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, relay.ErrInvalid):
		status, msg = http.StatusInternalServerError, "the relay built a notification it cannot send; this is a bug, see the relay's log"
	case errors.Is(err, relay.ErrNotAccepted):
		status, msg = http.StatusServiceUnavailable, "cannot accept the notification now; send it again"
	}
	log := s.log.With("method", c.Request.Method, "path", logPath(c), "status", status)
	switch {
	case status >= 500:
		log.Error("request failed", "err", err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		log.Warn("request refused", "err", err, "remote", c.ClientIP())
	default:
		log.Info("request rejected", "err", err)
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
	}
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// maxLogPath bounds the request path written to a log line.
const maxLogPath = 256

// logPath is the path a log line names: the route's pattern when one
// matched (so that a token in the path, /ack/:token, stays out of the
// log), else the path asked for (404, 405), with anything after /ack/
// hidden and cut to maxLogPath bytes.
func logPath(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	p := c.Request.URL.Path
	if rest, ok := strings.CutPrefix(p, "/ack/"); ok && rest != "" {
		p = "/ack/<token>"
	}
	if len(p) > maxLogPath {
		cut := maxLogPath
		for cut > 0 && !utf8.RuneStart(p[cut]) {
			cut--
		}
		p = p[:cut] + "…"
	}
	return p
}
