package ingest

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) healthy(c *gin.Context) {
	c.String(http.StatusOK, "OK\n")
}

func (s *Server) ready(c *gin.Context) {
	if s.deps.Ready != nil {
		if err := s.deps.Ready(c.Request.Context()); err != nil {
			s.log.Warn("not ready", "err", err)
			c.String(http.StatusServiceUnavailable, "not ready: %v\n", err)
			return
		}
	}
	c.String(http.StatusOK, "OK\n")
}

// reload re-reads the config file. It needs admin.token: nobody who merely
// reaches the port may make the relay re-read files and tell them what it
// found (a loopback check would let in everything behind a sidecar proxy).
// Without a token, SIGHUP reloads.
func (s *Server) reload(c *gin.Context) {
	token := s.deps.Relay.State().Config.Admin.Token
	if token == "" {
		s.fail(c, &Error{Status: http.StatusForbidden, Msg: "HTTP reload needs admin.token; send SIGHUP instead"})
		return
	}
	if !s.adminAuthorized(c, token.Value(), "reload") {
		return
	}
	if s.deps.Reload == nil {
		s.fail(c, &Error{Status: http.StatusNotImplemented, Msg: "reload is not available"})
		return
	}
	restart, err := s.deps.Reload(c.Request.Context())
	if err != nil {
		// The old config stays live; say what is wrong with the new one.
		s.log.Error("reload failed; keeping the old config", "err", err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "config not reloaded, the old one stays live", "problems": strings.Split(err.Error(), "\n")})
		return
	}
	answer := gin.H{"status": "reloaded", "at": time.Now().UTC().Format(time.RFC3339), "not_applied": []string{}}
	if len(restart) > 0 {
		// Say it: a reload that ignores a change must not look complete.
		answer["not_applied"] = restart
		answer["note"] = "not applied, restart needed: " + strings.Join(restart, ", ")
	}
	c.JSON(http.StatusOK, answer)
}
