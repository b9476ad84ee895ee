package ingest

import (
	"net"
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

// reload re-reads the config file. With admin.token set it needs that
// token; without one it is taken from loopback only (SIGHUP works too), so
// that nobody who merely reaches the port can make the relay re-read files
// and tell them what it found.
func (s *Server) reload(c *gin.Context) {
	if token := s.deps.Relay.State().Config.Admin.Token; token != "" {
		if !s.adminAuthorized(c, token.Value(), "reload") {
			return
		}
	} else if ip := net.ParseIP(c.RemoteIP()); ip == nil || !ip.IsLoopback() {
		s.fail(c, &Error{Status: http.StatusForbidden, Msg: "reload from another host needs admin.token; or send SIGHUP"})
		return
	}
	if s.deps.Reload == nil {
		s.fail(c, &Error{Status: http.StatusNotImplemented, Msg: "reload is not available"})
		return
	}
	if err := s.deps.Reload(c.Request.Context()); err != nil {
		// The old config stays live; say what is wrong with the new one.
		s.log.Error("reload failed; keeping the old config", "err", err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "config not reloaded, the old one stays live", "problems": strings.Split(err.Error(), "\n")})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "reloaded", "at": time.Now().UTC().Format(time.RFC3339)})
}
