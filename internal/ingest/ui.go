package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/preview"
)

// The relay's pages under /ui/ (the template preview; more pages join the
// same group and auth). They exist only while admin.token is set: without
// it every /ui/ path is a 404, as an unknown path is.
//
// Auth is admin.token, as a Bearer header (scripts) or as a session cookie
// set by the login form. The cookie holds an expiry and an HMAC of it keyed
// with the token, never the token: it is worthless once the token changes
// or it expires, and it is checked in constant time. It is HttpOnly,
// SameSite=Strict, scoped to /ui/, and Secure on TLS.
//
// Every POST — login, logout, preview — passes net/http's
// CrossOriginProtection (Sec-Fetch-Site, else Origin against Host): with
// the SameSite=Strict cookie, no other site can submit the forms. GET
// changes nothing; the preview itself changes nothing either, but is a POST
// so that payloads stay out of URLs and logs.

const (
	uiCookie     = "mind_relay_ui"
	uiSessionTTL = 12 * time.Hour
	// maxUIForm bounds a preview form: a payload as large as a webhook's
	// default limit, plus templates.
	maxUIForm = preview.MaxPayloadBytes + 1<<20
)

func (s *Server) uiRoutes(e *gin.Engine) {
	csrf := http.NewCrossOriginProtection()
	sameOrigin := func(c *gin.Context) {
		if err := csrf.Check(c.Request); err != nil {
			s.uiLoginPage(c, http.StatusForbidden, "请从本页面提交表单", "")
			c.Abort()
			return
		}
		c.Next()
	}
	ui := e.Group("/ui", s.uiEnabled, uiHeaders)
	ui.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/ui/preview") })
	ui.GET("/login", func(c *gin.Context) { s.uiLoginPage(c, http.StatusOK, "", c.Query("next")) })
	ui.POST("/login", sameOrigin, s.uiLogin)
	ui.POST("/logout", sameOrigin, s.uiLogout)
	ui.GET("/preview", s.uiAuth, s.uiPreviewPage)
	ui.POST("/preview", sameOrigin, s.uiAuth, s.uiPreview)
	s.uiIncidentRoutes(ui) // ui_incidents.go
}

// uiEnabled makes /ui/ not exist without admin.token.
func (s *Server) uiEnabled(c *gin.Context) {
	if s.deps.Relay.State().Config.Admin.Token == "" {
		s.fail(c, errNotFound)
		return
	}
	c.Next()
}

// pageHeaders are the security headers of every page the relay serves:
// nothing loaded from elsewhere, no script, no framing, no Referer, no
// caching.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func uiHeaders(c *gin.Context) {
	pageHeaders(c.Writer.Header())
	c.Next()
}

// uiAuth lets in a request with admin.token as Bearer or a valid session
// cookie. A GET with neither is sent to the login page; wrong credentials,
// or a POST without any, get the login page with a 401.
func (s *Server) uiAuth(c *gin.Context) {
	token := s.deps.Relay.State().Config.Admin.Token.Value()
	presented := false
	if scheme, cred, ok := strings.Cut(c.GetHeader("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if secretEqual(strings.TrimSpace(cred), token) {
			c.Next()
			return
		}
		presented = true
	}
	if v, err := c.Cookie(uiCookie); err == nil {
		if validSession(v, token, time.Now()) {
			c.Next()
			return
		}
		presented = true
	}
	if !presented && c.Request.Method == http.MethodGet {
		// A browser without a session: to the login page, and back here.
		c.Redirect(http.StatusSeeOther, "/ui/login?next="+url.QueryEscape(safeNext(c.Request.URL.Path)))
		c.Abort()
		return
	}
	msg := "请先登录"
	if presented {
		s.authFail.WithLabelValues("ui").Inc()
		msg = "登录已失效，请重新登录"
	}
	c.Header("WWW-Authenticate", `Bearer realm="mind-relay-ui"`)
	s.uiLoginPage(c, http.StatusUnauthorized, msg, c.Request.URL.Path)
	c.Abort()
}

func (s *Server) uiLogin(c *gin.Context) {
	if !s.uiForm(c, maxPageForm) {
		return
	}
	token := s.deps.Relay.State().Config.Admin.Token.Value()
	next := c.PostForm("next")
	if !secretEqual(c.PostForm("token"), token) {
		s.authFail.WithLabelValues("ui").Inc()
		s.log.Warn("ui login refused", "remote", c.ClientIP())
		s.uiLoginPage(c, http.StatusUnauthorized, "令牌不对", next)
		return
	}
	exp := time.Now().Add(uiSessionTTL)
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     uiCookie,
		Value:    sessionValue(token, exp),
		Path:     "/ui/",
		Expires:  exp,
		MaxAge:   int(uiSessionTTL / time.Second),
		HttpOnly: true,
		Secure:   c.Request.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	c.Redirect(http.StatusSeeOther, safeNext(next))
}

func (s *Server) uiLogout(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: uiCookie, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	c.Redirect(http.StatusSeeOther, "/ui/login")
}

// safeNext keeps a post-login redirect on the relay's own pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.ContainsAny(next, "\\?#") && !strings.Contains(next, "//") {
		return next
	}
	return "/ui/preview"
}

// sessionValue is the session cookie for token, valid until exp.
func sessionValue(token string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return "v1." + e + "." + sessionMAC(token, e)
}

func sessionMAC(token, exp string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("mind-relay ui session\x00" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// validSession checks a session cookie against token at now.
func validSession(v, token string, now time.Time) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	got, err := hex.DecodeString(parts[2])
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(sessionMAC(token, parts[1]))
	return hmac.Equal(got, want)
}

func (s *Server) uiLoginPage(c *gin.Context, status int, msg, next string) {
	s.uiWrite(c, status, func(b *bytes.Buffer) error {
		return preview.WriteLogin(b, preview.Login{Nav: preview.Nav(""), Msg: msg, Next: safeNext(next)})
	})
}

// uiPreviewPage shows the page with the first captured payload previewed.
func (s *Server) uiPreviewPage(c *gin.Context) {
	s.uiShowPreview(c, preview.Form{})
}

// uiPreview routes and renders the submitted payload as the relay would;
// nothing is sent and nothing is kept.
func (s *Server) uiPreview(c *gin.Context) {
	if !s.uiForm(c, maxUIForm) {
		return
	}
	f := preview.Form{
		Sample:    c.PostForm("sample"),
		Payload:   c.PostForm("payload"),
		Source:    c.PostForm("source"),
		Receiver:  c.PostForm("receiver"),
		Set:       c.PostForm("set"),
		Templates: c.PostForm("templates"),
		Acked:     c.PostForm("acked") != "",
	}
	s.uiShowPreview(c, f)
}

func (s *Server) uiShowPreview(c *gin.Context, f preview.Form) {
	st := s.deps.Relay.State()
	p := preview.NewPage(st, f)
	if in, err := p.Form.Input(); err != nil {
		p.Msg = "无法读取：" + err.Error()
	} else {
		p.Result, _ = preview.Run(c.Request.Context(), st, in, nil) // the error is in the result
	}
	s.uiWrite(c, http.StatusOK, func(b *bytes.Buffer) error { return preview.WritePage(b, p) })
}

// uiForm reads a posted form of at most limit bytes; false when it
// answered the request itself.
func (s *Server) uiForm(c *gin.Context, limit int64) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if err := c.Request.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(c, &Error{Status: http.StatusRequestEntityTooLarge, Msg: "the form is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes", Err: err})
			return false
		}
		s.fail(c, &Error{Status: http.StatusBadRequest, Msg: "cannot read the form", Err: err})
		return false
	}
	return true
}

func (s *Server) uiWrite(c *gin.Context, status int, write func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		s.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "cannot render the page", Err: err})
		return
	}
	pageHeaders(c.Writer.Header())
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}
