package ingest

import (
	"errors"
	"net/http"
	"strconv"

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
	log := s.log.With("method", c.Request.Method, "path", c.FullPath(), "status", status)
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
