package ingest

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// requireAdmin guards the admin API with admin.token (Bearer). Without a
// configured token the admin API is off.
func (s *Server) requireAdmin(c *gin.Context) {
	token := s.deps.Relay.State().Config.Admin.Token
	if token == "" {
		s.fail(c, &Error{Status: http.StatusForbidden, Msg: "the admin API is disabled: set admin.token"})
		return
	}
	if !s.adminAuthorized(c, token.Value(), "admin") {
		return
	}
	if s.deps.DLQ == nil {
		s.fail(c, &Error{Status: http.StatusNotImplemented, Msg: "no delivery queue"})
		return
	}
	c.Next()
}

// adminAuthorized checks the request's Bearer token against token in
// constant time; on a mismatch it answers 401, counts it and says false.
func (s *Server) adminAuthorized(c *gin.Context, token, endpoint string) bool {
	scheme, cred, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && secretEqual(strings.TrimSpace(cred), token) {
		return true
	}
	s.authFail.WithLabelValues(endpoint).Inc()
	c.Header("WWW-Authenticate", `Bearer realm="mind-relay-admin"`)
	s.fail(c, errUnauthorized)
	return false
}

// deadLetter is a dead-lettered notification as the admin API shows it.
type deadLetter struct {
	ID        string    `json:"id"`
	Receiver  string    `json:"receiver"`
	GroupID   string    `json:"group_id"`
	Source    string    `json:"source"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listDead(c *gin.Context) {
	ns, err := s.deps.DLQ.ListDead(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]deadLetter, 0, len(ns))
	for _, n := range ns {
		out = append(out, deadLetter{ID: n.ID, Receiver: n.Receiver, GroupID: n.GroupID, Source: n.Source,
			Status: n.Status, Attempts: n.Attempts, LastError: n.LastError, CreatedAt: n.CreatedAt})
	}
	c.JSON(http.StatusOK, gin.H{"dead_letters": out})
}

type replayRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

const replayUsage = `body must be {"ids": ["<id>", ...]} or {"all": true}`

// replay sends dead letters again. Replaying everything must be asked for
// in so many words: an empty list is far more often a script's bug than a
// wish to resend every dead letter.
func (s *Server) replay(c *gin.Context) {
	var req replayRequest
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
	if err := c.ShouldBindJSON(&req); err != nil {
		s.fail(c, &Error{Status: http.StatusBadRequest, Msg: replayUsage, Err: err})
		return
	}
	switch {
	case req.All && len(req.IDs) > 0:
		s.fail(c, &Error{Status: http.StatusBadRequest, Msg: `give "ids" or "all", not both`})
		return
	case !req.All && len(req.IDs) == 0:
		s.fail(c, &Error{Status: http.StatusBadRequest, Msg: replayUsage})
		return
	}
	n, err := s.deps.DLQ.Replay(c.Request.Context(), req.IDs...)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"replayed": n})
}
