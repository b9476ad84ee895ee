package ingest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const uiToken = "ui-admin-token-0123456789"

func uiServer(t *testing.T) http.Handler {
	t.Helper()
	h, _ := server(t, "admin: {token: "+uiToken+"}\n", nil)
	return h
}

func goodCookie() string {
	return uiCookie + "=" + sessionValue(uiToken, time.Now().Add(time.Hour))
}

func TestUIOffWithoutAdminToken(t *testing.T) {
	h, _ := server(t, "", nil)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/ui/preview"}, {"POST", "/ui/preview"}, {"GET", "/ui/login"}, {"POST", "/ui/login"}, {"GET", "/ui/"},
	} {
		w := do(h, tc.method, tc.path, "192.0.2.1:1", "token=", "Content-Type", "application/x-www-form-urlencoded",
			"Authorization", "Bearer "+uiToken)
		require.Equal(t, http.StatusNotFound, w.Code, "%s %s", tc.method, tc.path)
		require.JSONEq(t, `{"error":"no such endpoint"}`, w.Body.String())
	}
}

func TestUIAuth(t *testing.T) {
	h := uiServer(t)
	tampered := []byte(sessionValue(uiToken, time.Now().Add(time.Hour)))
	tampered[len(tampered)-1] ^= 1
	longer := sessionValue(uiToken, time.Now().Add(time.Hour))
	parts := strings.Split(longer, ".")
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"no token", nil, http.StatusSeeOther},
		{"wrong bearer", []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
		{"raw token as cookie", []string{"Cookie", uiCookie + "=" + uiToken}, http.StatusUnauthorized},
		{"tampered cookie", []string{"Cookie", uiCookie + "=" + string(tampered)}, http.StatusUnauthorized},
		{"cookie with a later expiry than signed", []string{"Cookie", uiCookie + "=v1." + "9999999999." + parts[2]}, http.StatusUnauthorized},
		{"expired cookie", []string{"Cookie", uiCookie + "=" + sessionValue(uiToken, time.Now().Add(-time.Second))}, http.StatusUnauthorized},
		{"cookie of another token", []string{"Cookie", uiCookie + "=" + sessionValue("another-token-0123456789", time.Now().Add(time.Hour))}, http.StatusUnauthorized},
		{"good cookie", []string{"Cookie", goodCookie()}, http.StatusOK},
		{"good bearer", []string{"Authorization", "Bearer " + uiToken}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, "GET", "/ui/preview", "192.0.2.1:1", "", tt.header...)
			require.Equal(t, tt.want, w.Code)
			switch tt.want {
			case http.StatusOK:
				require.Contains(t, w.Body.String(), `<form method="post" action="/ui/preview"`)
			case http.StatusSeeOther:
				require.Equal(t, "/ui/login?next=%2Fui%2Fpreview", w.Header().Get("Location"))
			default:
				require.Contains(t, w.Body.String(), `action="/ui/login"`, "the login form instead")
				require.NotContains(t, w.Body.String(), `action="/ui/preview"`)
			}
			// The preview POST is guarded the same way, and never redirected.
			pw := do(h, "POST", "/ui/preview", "192.0.2.1:1", "sample=alertmanager/am-0.25-firing.json",
				append([]string{"Content-Type", "application/x-www-form-urlencoded"}, tt.header...)...)
			want := tt.want
			if want == http.StatusSeeOther {
				want = http.StatusUnauthorized
			}
			require.Equal(t, want, pw.Code)
			require.False(t, strings.Contains(pw.Body.String(), "data-header-template") != (want == http.StatusOK))
		})
	}
}

func TestUILogin(t *testing.T) {
	h := uiServer(t)
	login := func(token string, tlsOn bool, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/ui/login", strings.NewReader(url.Values{"token": {token}, "next": {"/ui/preview"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := login("wrong", false)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Empty(t, w.Result().Cookies())
	require.Contains(t, w.Body.String(), "令牌不对")

	for _, tlsOn := range []bool{false, true} {
		w = login(uiToken, tlsOn, "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin")
		require.Equal(t, http.StatusSeeOther, w.Code)
		require.Equal(t, "/ui/preview", w.Header().Get("Location"))
		cs := w.Result().Cookies()
		require.Len(t, cs, 1)
		c := cs[0]
		require.Equal(t, uiCookie, c.Name)
		require.NotContains(t, c.Value, uiToken, "the cookie is not the token")
		require.True(t, validSession(c.Value, uiToken, time.Now()))
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.Equal(t, tlsOn, c.Secure, "Secure exactly when the request is TLS")
		require.Equal(t, "/ui/", c.Path)

		// The cookie it set lets the page in.
		pw := do(h, "GET", "/ui/preview", "192.0.2.1:1", "", "Cookie", c.Name+"="+c.Value)
		require.Equal(t, http.StatusOK, pw.Code)
	}
}

func TestUICrossOriginPostsRefused(t *testing.T) {
	h := uiServer(t)
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	tests := []struct {
		name, path string
		header     []string
		want       int
	}{
		{"preview from another site", "/ui/preview", []string{"Sec-Fetch-Site", "cross-site", "Cookie", goodCookie()}, http.StatusForbidden},
		{"preview from a sibling site", "/ui/preview", []string{"Sec-Fetch-Site", "same-site", "Cookie", goodCookie()}, http.StatusForbidden},
		{"preview, old browser, foreign Origin", "/ui/preview", []string{"Origin", "https://evil.example", "Cookie", goodCookie()}, http.StatusForbidden},
		{"login from another site", "/ui/login", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"logout from another site", "/ui/logout", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"preview from the page itself", "/ui/preview", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com", "Cookie", goodCookie()}, http.StatusOK},
		{"preview from a script with the bearer", "/ui/preview", []string{"Authorization", "Bearer " + uiToken}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, "POST", tt.path, "192.0.2.1:1", "sample=alertmanager/am-0.25-firing.json&token="+uiToken, append(form, tt.header...)...)
			require.Equal(t, tt.want, w.Code)
			if tt.want == http.StatusForbidden {
				require.Empty(t, w.Result().Cookies())
				require.False(t, strings.Contains(w.Body.String(), "data-header-template"), "no preview drawn")
			}
		})
	}
}

func TestUIPreviewRendersThroughTheRelay(t *testing.T) {
	h := uiServer(t)
	w := do(h, "POST", "/ui/preview", "192.0.2.1:1", url.Values{
		"sample": {"alertmanager/am-0.25-firing.json"},
	}.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Authorization", "Bearer "+uiToken)
	require.Equal(t, http.StatusOK, w.Code)
	b := w.Body.String()
	require.Contains(t, b, `data-header-template="red"`)
	require.Contains(t, b, `<code>POST /open-platform/api/robot/send/message</code>`)
	require.Contains(t, b, `<code>route</code>`, "which route matched")
}

func TestUIPagesSendTheAckPageHeaders(t *testing.T) {
	h := uiServer(t)
	want := httptest.NewRecorder().Header()
	pageHeaders(want)
	for _, tc := range []struct {
		path   string
		header []string
	}{
		{"/ui/login", nil},
		{"/ui/preview", []string{"Authorization", "Bearer wrong"}}, // the 401 login page
		{"/ui/preview", []string{"Authorization", "Bearer " + uiToken}},
	} {
		w := do(h, "GET", tc.path, "192.0.2.1:1", "", tc.header...)
		for k := range want {
			require.Equal(t, want.Get(k), w.Header().Get(k), "%s %s", tc.path, k)
		}
		require.Contains(t, w.Header().Get("Content-Security-Policy"), "default-src 'none'")
		require.NotContains(t, w.Header().Get("Content-Security-Policy"), "script-src")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/preview":           "/ui/preview",
		"/ui/incidents":         "/ui/incidents",
		"":                      "/ui/preview",
		"https://evil.example/": "/ui/preview",
		"//evil.example/ui/":    "/ui/preview",
		"/ui//evil.example":     "/ui/preview",
		"/ui/\\evil":            "/ui/preview",
		"/metrics":              "/ui/preview",
	} {
		require.Equal(t, want, safeNext(in), in)
	}
}
