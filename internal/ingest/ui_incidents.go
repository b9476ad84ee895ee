package ingest

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/incidentview"
)

// The incident view (package incidentview): GET /ui/incidents lists the
// incidents a page at a time, by state and receiver; GET
// /ui/incidents/{id} shows one with its whole timeline. The same auth and
// headers as every /ui/ page; GET only: the view changes nothing (acks
// are the cards', the ack page's and chat's). Without Deps.Incidents the
// paths do not exist.

func (s *Server) uiIncidentRoutes(ui *gin.RouterGroup) {
	if s.deps.Incidents == nil {
		return
	}
	ui.GET("/incidents", s.uiAuth, s.uiIncidents)
	ui.GET("/incidents/:id", s.uiAuth, s.uiIncident)
}

func (s *Server) uiIncidents(c *gin.Context) {
	cfg := s.deps.Relay.State().Config
	f, err := incidentview.ParseFilter(c.Request.URL.Query())
	if err != nil {
		s.uiWrite(c, http.StatusBadRequest, func(b *bytes.Buffer) error {
			return incidentview.WriteList(b, incidentview.EmptyList(cfg, incidentview.Filter{}, "无法筛选："+err.Error()))
		})
		return
	}
	l, err := incidentview.BuildList(c.Request.Context(), s.deps.Incidents, cfg, f)
	if err != nil {
		s.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "cannot read the incidents", Err: err})
		return
	}
	s.uiWrite(c, http.StatusOK, func(b *bytes.Buffer) error { return incidentview.WriteList(b, l) })
}

func (s *Server) uiIncident(c *gin.Context) {
	cfg := s.deps.Relay.State().Config
	d, err := incidentview.BuildDetail(c.Request.Context(), s.deps.Incidents, cfg, c.Param("id"))
	switch {
	case errors.Is(err, incidentview.ErrNotFound):
		s.uiWrite(c, http.StatusNotFound, func(b *bytes.Buffer) error { return incidentview.WriteDetail(b, incidentview.NotFound()) })
	case err != nil:
		s.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "cannot read the incident", Err: err})
	default:
		s.uiWrite(c, http.StatusOK, func(b *bytes.Buffer) error { return incidentview.WriteDetail(b, d) })
	}
}
